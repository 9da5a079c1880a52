"""A render cut into pieces on the session's farm (two worker processes), on both databases:
the joined file is checked frame by frame and sample by sample."""
from __future__ import annotations

import re

import av
import numpy as np
import pytest
import requests
from sqlalchemy import select

from shared.models import RenderJob, RenderPiece
from shared.storage import open_storage
from tests.fixtures.edits import clip, make_edit, overlay
from tests.fixtures.farm import moved, scrape, step_lines, upload_source
from tests.fixtures.livesrv import Worker, wait_for
from tests.fixtures.mediakit import counting_and_sine, read_index
from tests.fixtures.measure import largest_click, read_audio, tone_amplitude

FPS = 30
# Clip 1 shows source seconds 0-5, clip 2 seconds 7-14: 12 s, 360 frames. Pieces of 2 s (one
# GOP, 60 frames) are cut on each clip's source time (every 2 s of it), moved to the source's
# keyframe (every 2.5 s, as its probe recorded) nearest to each within a second, and at the
# clips' cut: clip 1 at its 2.5 s (for 2 s) and 4 s, clip 2 at its 8 s (its keyframe at 7.5 s
# leaves under a second of the clip before it), 10 s and 12.5 s (for 12 s).
CLIPS = [(0, 5), (7, 14)]
FRAMES = 360
PIECES = [(0, 75), (75, 120), (120, 150), (150, 180), (180, 240), (240, 315), (315, 360)]


def expected_index(k: int) -> int:
    """The source frame that output frame k shows."""
    return k if k < 150 else 210 + (k - 150)


@pytest.fixture(scope="module")
def second_worker(settings, worker, tmp_path_factory):
    """Another worker process beside the session's, on the same Redis and database."""
    proc = Worker(settings, tmp_path_factory.mktemp("worker2"), name="worker2")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def counting_media(tmp_path_factory):
    """A silent video whose frame k shows k, and one unbroken 1 kHz sine to play over it."""
    folder = tmp_path_factory.mktemp("counting")
    return counting_and_sine(folder, size=(320, 180), fps=FPS, video_s=15, sine_s=13)


def edit_in_pieces(video_id: str, sine_id: str, chunk_seconds: float = 2) -> dict:
    return make_edit([clip(video_id, start, end) for start, end in CLIPS], [overlay(sine_id)],
                resolution="320x180", fps=FPS, filename="pieces.mp4",
                render_options={"chunk_seconds": chunk_seconds})


def test_a_render_in_pieces_is_exact_across_every_seam(farm, worker, second_worker, api, db,
                                                       settings, counting_media, tmp_path):
    video, sine = (upload_source(api, path) for path in counting_media)
    before = scrape(farm.url)
    project = api("POST", "/projects", json={"name": "pieces", "description": "d"}).json()["id"]
    started = api("POST", f"/projects/{project}/create-edit", json=edit_in_pieces(video, sine))
    assert started.status_code == 200, started.text
    asset_id = started.json()["asset_id"]

    seen = []  # progress as polled: it never goes back

    def finished():
        status = api("GET", f"/assets/{asset_id}/status").json()
        seen.append(status["progress"])
        return status if status["status"] in ("uploaded", "failed", "canceled") else None

    status = wait_for(finished, 180, f"render in pieces {asset_id}", interval=0.1)
    assert status["status"] == "uploaded", status["error"]
    assert status["pieces"] == {"total": 7, "done": 7, "reused": 0, "copied": 0}
    # The pieces' gauge counts the pieces of renders still running: this one's left it.
    assert moved(before, scrape(farm.url), "canopy_render_pieces", state="uploaded") == 0
    assert seen == sorted(seen) and seen[-1] == 1.0

    with db.session() as session:
        job = session.execute(select(RenderJob).where(RenderJob.asset_id == asset_id)).scalar_one()
        rows = session.execute(select(RenderPiece).where(RenderPiece.job_id == job.id)
                               .order_by(RenderPiece.index)).scalars().all()
        assert [(r.kind, r.frame_start, r.frame_end) for r in rows] == [
            *(("video", start, end) for start, end in PIECES), ("sound", 0, 0)]
        assert [(r.state, r.attempt) for r in rows] == [("uploaded", 1)] * 8
        assert len({r.worker_id.rsplit(":", 1)[1] for r in rows}) >= 2, "one process did all"
        # recorded as node@host:pid, the node named as the farm page lists workers ("-n")
        holders = [r.worker_id.rpartition(":")[0] for r in [*rows, job]]
        assert all(re.fullmatch(r"[\w.-]+@.+", h) for h in holders), holders
        stored = [r.output_key for r in rows]
    store = open_storage(settings)
    # The join removes the pieces just after it finalizes: the status may say uploaded first.
    wait_for(lambda: not any(store.exists(key) for key in stored), 30,
             "the pieces removed after the join")

    # Each piece and the join log their steps as JSON lines, in whichever worker ran them.
    steps = {}
    for proc in (worker, second_worker):
        for line in step_lines(proc.log_path, job.id, 0) or []:
            who = line.get("piece", line.get("stage", "job"))
            steps.setdefault(who, []).append(line["event"].removeprefix("render."))
    whole = ["claimed", "sources_fetched", "rendered", "uploaded", "finished"]
    assert {who: steps[who] for who in range(8)} == {who: whole for who in range(8)}, steps
    # The plan needs no source file; the join fetches only the stored pieces.
    assert steps["job"] == ["claimed", "finished"]
    # The join keeps its checked pieces in the owner's render cache before it stores.
    assert steps["join"] == ["claimed", "pieces_fetched", "rendered", "cached", "uploaded",
                             "finished"]

    out = tmp_path / "pieces.mp4"
    asset = api("GET", f"/assets/{asset_id}").json()
    out.write_bytes(requests.get(asset["download_url"], timeout=60).content)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        shown = [read_index(f) for f in frames]
        times = [f.pts for f in frames]
    assert len(frames) == FRAMES
    wrong = [(k, i) for k, i in enumerate(shown) if i != expected_index(k)]
    assert not wrong, f"frames showing the wrong source frame (output k, shown): {wrong[:10]}"
    steps = set(np.diff(times))
    assert len(steps) == 1 and steps.pop() > 0, "timestamps are not evenly spaced"

    samples, rate, count = read_audio(out)
    assert (rate, count) == (48000, 12 * 48000)
    assert largest_click(samples) < 0.02  # one unbroken sine: no gap or jump at any seam
    for second in range(12):
        assert abs(tone_amplitude(samples, 1000, rate, second + 0.25) - 0.5) < 0.02, second
