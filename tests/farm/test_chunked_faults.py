"""Faults in a chunked render: a piece's worker killed, then the join's, also in a render
that reuses cached pieces; a cancel.

Each runs a farm of its own on PostgreSQL (3-second leases, a reaper every second), as
tests/fixtures/faults.py makes them, with two workers so that pieces run side by side.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import av
import requests

from tests.fixtures.faults import PIECES, chunked, kill, piece_rows, pieces_folder, prepare
from tests.fixtures.livesrv import wait_for
from tests.fixtures.measure import read_video
from worker.hold import JOIN

def test_kill_9_a_pieces_worker_then_the_joins(make_farm, fault_source, tmp_path):
    setup = prepare(make_farm(workers=2), fault_source)
    setup.hold()  # each video piece after its first frame (the sound has no frames)
    setup.hold(JOIN)  # the join once it has fetched the pieces
    asset_id = chunked(setup)

    held = setup.held(asset_id)[0]
    victim = piece_rows(setup, asset_id)[held["piece"]]
    assert (victim.state, victim.kind) == ("rendering", "video")
    kill(victim.worker_id, held)
    setup.release()

    joining = setup.held(asset_id, JOIN)[0]
    joiner = setup.job(asset_id)
    assert joiner.plan and joiner.lease_until and joiner.state == "rendering"
    kill(joiner.worker_id, joining)
    setup.release(JOIN)

    done = setup.finished(asset_id)
    assert done["status"] == "uploaded", done
    job = setup.job(asset_id)
    assert job.attempt == 2  # the plan's attempt (which joined), then one that joined again
    attempts = {p.index: p.attempt for p in piece_rows(setup, asset_id)}
    assert attempts == {i: 2 if i == victim.index else 1 for i in range(PIECES + 1)}, attempts
    # Pieces gone, one output. The join deletes the pieces after its finish committed, so a
    # poll may see `uploaded` first (a busy machine made that gap wide enough to fail on).
    wait_for(lambda: setup.stored_files(asset_id) == ["attempt-2/out.mp4"], 30,
             lambda: f"only the output to be stored; stored: {setup.stored_files(asset_id)}")
    out = tmp_path / "out.mp4"
    out.write_bytes(requests.get(done["download_url"], timeout=30).content)
    assert read_video(out).frames == 600


def test_cancel_stops_every_piece_within_a_second(make_farm, fault_source):
    """Once a piece is stored, each worker's piece is held mid-render (never released): the
    cancel is heard through the pieces' leases as their render loops hear it."""
    setup = prepare(make_farm(workers=2), fault_source)
    asset_id = chunked(setup, "1920x1080")
    wait_for(lambda: any(p.state == "uploaded" for p in piece_rows(setup, asset_id)), 120,
             "a piece stored", interval=0.02)
    setup.hold()  # the pieces under way hold at their next progress report, the next at once
    held = setup.held(asset_id, count=2)
    rows = piece_rows(setup, asset_id)
    assert [rows[h["piece"]].state for h in held] == ["rendering"] * 2  # one on each worker
    assert any(p.state == "uploaded" for p in rows)
    asked = time.monotonic()
    assert setup.api("POST", f"/assets/{asset_id}/cancel").status_code == 200
    assert setup.api("GET", f"/assets/{asset_id}/status").json()["status"] == "canceled"

    def all_stopped():
        return not any(p.state in ("rendering", "uploading") for p in piece_rows(setup, asset_id))

    wait_for(all_stopped, 10, "every piece to stop", interval=0.02)
    waited = time.monotonic() - asked
    assert waited < 2, f"the pieces took {waited:.1f}s to stop"
    assert setup.finished(asset_id)["status"] == "canceled"
    wait_for(lambda: not list(pieces_folder(setup, asset_id).glob("*")), 10,
             "the stored pieces to be deleted")
    assert setup.job(asset_id).state == "canceled"


def frame_hashes(url: str, path) -> list[str]:
    path.write_bytes(requests.get(url, timeout=30).content)
    with av.open(str(path)) as container:
        return [hashlib.sha256(f.to_ndarray(format="gray").tobytes()).hexdigest()
                for f in container.decode(video=0)]


def test_kill_9_during_a_render_that_reuses_cached_pieces(make_farm, fault_source, tmp_path):
    """The first 12 s rendered, then all 20 s: six pieces come from the cache, a worker
    rendering one of the other four is killed; the render ends whole, its first 360 frames
    the first render's."""
    setup = prepare(make_farm(workers=2), fault_source)
    cold = setup.finished(setup.submit(12, render_options={"chunk_seconds": 2}))
    assert cold["status"] == "uploaded", cold
    setup.hold()  # each rendered piece after its first frame
    asset_id = setup.submit(20, render_options={"chunk_seconds": 2})

    held = setup.held(asset_id)[0]
    victim = piece_rows(setup, asset_id)[held["piece"]]
    assert (victim.state, victim.kind) == ("rendering", "video")
    assert victim.index >= 6  # the first six were reused, never claimed
    kill(victim.worker_id, held)
    setup.release()
    done = setup.finished(asset_id)
    assert done["status"] == "uploaded", done
    status = setup.api("GET", f"/assets/{asset_id}/status").json()
    assert status["pieces"] == {"total": PIECES, "done": PIECES, "reused": 6, "copied": 0}
    rows = piece_rows(setup, asset_id)
    assert [p.reused for p in rows[:PIECES]] == [True] * 6 + [False] * 4
    assert rows[victim.index].attempt == 2
    whole = frame_hashes(done["download_url"], tmp_path / "whole.mp4")
    assert len(whole) == 600
    assert whole[:360] == frame_hashes(cold["download_url"], tmp_path / "cold.mp4")


def test_a_cache_entry_deleted_while_a_render_needs_it(make_farm, fault_source, tmp_path):
    """A reused piece's object deleted after the plan chose it: the join refuses it, the
    piece renders anew, the render ends whole."""
    setup = prepare(make_farm(workers=1), fault_source)
    cold = setup.finished(setup.submit(12, render_options={"chunk_seconds": 2}))
    assert cold["status"] == "uploaded", cold
    setup.hold()  # the first piece rendered is held: no join before the deletion
    asset_id = setup.submit(20, render_options={"chunk_seconds": 2})
    reused = wait_for(lambda: next((p for p in piece_rows(setup, asset_id) if p.reused), None),
                      120, "a reused piece planned", interval=0.02)
    root = Path(setup.farm.settings.storage_url[len("file://"):])
    (root / reused.output_key).unlink()
    assert setup.job(asset_id).state == "rendering"  # deleted before the join
    setup.release()
    done = setup.finished(asset_id)
    assert done["status"] == "uploaded", done
    status = setup.api("GET", f"/assets/{asset_id}/status").json()
    assert status["pieces"] == {"total": PIECES, "done": PIECES, "reused": 5, "copied": 0}
    again = piece_rows(setup, asset_id)[reused.index]
    assert (again.reused, again.attempt, again.state) == (False, 1, "uploaded")
    whole = frame_hashes(done["download_url"], tmp_path / "whole.mp4")
    assert len(whole) == 600
    assert whole[:360] == frame_hashes(cold["download_url"], tmp_path / "cold.mp4")
