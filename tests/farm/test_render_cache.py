"""The render cache on the session's farm, on both databases: a second render of an edit
reuses its owner's checked pieces and is frame for frame the cold render (every output passes
the seam checks: the source frames in order, one unbroken sine); a bad entry is a
miss, never a failed render; owners never share entries; deleting the last source with a
content removes the entries made from it."""
from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import av
import numpy as np
import pytest
import requests
from sqlalchemy import select, update

from shared import keys
from shared.models import Asset, RenderCacheEntry, RenderJob, RenderPiece
from shared.storage import open_storage
from tests.fixtures.edits import clip, make_edit, overlay
from tests.fixtures.farm import (moved, new_project, scrape, step_lines, upload_asset,
                                  upload_source, wait_finished)
from tests.fixtures.livesrv import ApiCaller, Farm, RedisServer, wait_for
from tests.fixtures.measure import largest_click, read_audio, tone_amplitude
from tests.fixtures.mediakit import counting_and_sine, read_index

FPS = 30
# 4 s + 4 s of a counting source in pieces of one GOP (2 s): four video pieces.
CLIPS = [(0, 4), (6, 10)]
PIECES = 4
SHOWN = [k for a, b in CLIPS for k in range(a * FPS, b * FPS)]  # the source frames shown


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache-media")
    return counting_and_sine(folder, size=(160, 96), fps=FPS, video_s=11, sine_s=9)


def edit(video: str, sine: str, level: float = 1.0, filename: str = "cached.mp4",
         **options) -> dict:
    return make_edit([clip(video, a, b) for a, b in CLIPS],
                     [overlay(sine, levels=[level] if level != 1.0 else ())],
                     resolution="160x96", fps=FPS, filename=filename,
                     render_options={"chunk_seconds": 2, **options})


def render(api: ApiCaller, project: str, body: dict, tmp_path, name: str):
    """Render `body`; (its final status with its asset's id, its decoded frames)."""
    started = api("POST", f"/projects/{project}/create-edit", json=body)
    assert started.status_code == 200, started.text
    asset_id = started.json()["asset_id"]
    done = wait_finished(api, asset_id)
    assert done["status"] == "uploaded", done
    status = api("GET", f"/assets/{asset_id}/status").json()
    return status, decoded(done["download_url"], tmp_path / f"{name}.mp4")


def decoded(url: str, path) -> np.ndarray:
    path.write_bytes(requests.get(url, timeout=60).content)
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="gray") for f in container.decode(video=0)])


def seamless(path, level: float = 1.0) -> None:
    """The output shows the clips' source frames in order, with the overlay's sine unbroken
    at `level` (the sine is 0.5 at 1.0) across every seam."""
    with av.open(str(path)) as container:
        assert [read_index(f) for f in container.decode(video=0)] == SHOWN
    samples, rate, _ = read_audio(path)
    assert largest_click(samples) < 0.02  # no gap or jump at a seam
    for second in range(len(SHOWN) // FPS):
        assert abs(tone_amplitude(samples, 1000, rate, second + 0.25) - 0.5 * level) < 0.02


def entries(db, owner_id: str, outputs: bool = False) -> dict[str, RenderCacheEntry]:
    """The owner's piece entries (or whole outputs' entries)."""
    with db.session() as session:
        rows = session.execute(select(RenderCacheEntry)
                               .where(RenderCacheEntry.owner_id == owner_id)).scalars().all()
        session.expunge_all()
    return {row.key: row for row in rows if (row.facts is not None) == outputs}


def outputs_kept(db, owner_id: str, count: int) -> dict[str, RenderCacheEntry]:
    """The owner's whole outputs' entries once `count` are stored: a render keeps its output
    just after it is uploaded, so its status may say uploaded first."""
    def stored():
        kept = entries(db, owner_id, outputs=True)
        return kept if sum(e.stored for e in kept.values()) == count else None

    return wait_for(stored, 30, f"{count} outputs kept")


def test_a_second_render_reuses_every_piece_and_matches_the_cold_one(
        farm, api, db, settings, media, tmp_path):
    video, sine = (upload_source(api, path) for path in media)
    project = new_project(api)
    before = scrape(farm.url)
    cold_status, cold = render(api, project, edit(video, sine), tmp_path, "cold")
    assert cold_status["pieces"] == {"total": PIECES, "done": PIECES, "reused": 0, "copied": 0}
    seamless(tmp_path / "cold.mp4")
    owner = api("GET", "/users/me").json()["id"]
    kept = entries(db, owner)
    assert len(kept) == PIECES and all(e.stored for e in kept.values())
    assert all(e.object_key.startswith(f"{owner}/render-cache/") for e in kept.values())

    [cold_output] = outputs_kept(db, owner, 1).values()
    # The same edit again (another file name): its output is copied, nothing rendered.
    again_status, again = render(api, project, edit(video, sine, filename="again.mp4"),
                                 tmp_path, "again")
    assert again_status["pieces"] is None
    assert np.array_equal(again, cold), "a served render differs from the cold one"
    seamless(tmp_path / "again.mp4")
    # A change of the sound only: every picture is reused.
    level_status, level = render(api, project, edit(video, sine, level=0.5), tmp_path, "level")
    assert level_status["pieces"]["reused"] == PIECES
    assert np.array_equal(level, cold)
    seamless(tmp_path / "level.mp4", 0.5)
    everything = {**entries(db, owner), **outputs_kept(db, owner, 2)}  # cold's and level's
    after = scrape(farm.url)
    # hits: the served output, then the level's pieces; their bytes, and what the cache holds
    assert moved(before, after, "canopy_render_cache_pieces_total", outcome="hit") >= PIECES + 1
    assert moved(before, after, "canopy_render_cache_pieces_total", outcome="miss") >= PIECES
    assert moved(before, after, "canopy_render_cache_hit_bytes_total") >= (
        cold_output.bytes + sum(e.bytes for e in kept.values()))
    farm_page = api("GET", "/farm").json()["cache"]
    assert farm_page["entries"] == PIECES + 2  # the pieces, the cold and the level outputs
    assert farm_page["bytes"] == sum(e.bytes for e in everything.values())
    assert after[("canopy_render_cache_bytes", ())] >= farm_page["bytes"]  # all owners'

    # cache: false renders every piece anew and refreshes the entries (new objects).
    fresh_status, fresh = render(api, project, edit(video, sine, cache=False), tmp_path, "fresh")
    assert fresh_status["pieces"]["reused"] == 0
    assert np.array_equal(fresh, cold)
    refreshed = entries(db, owner)
    assert set(refreshed) == set(kept)
    assert all(refreshed[k].object_key != kept[k].object_key for k in kept)
    store = open_storage(settings)
    assert not any(store.exists(e.object_key) for e in kept.values())
    # and its output replaces the cold render's (the cache flag is no part of an output's key)
    wait_for(lambda: (now := entries(db, owner, outputs=True).get(cold_output.key)) and now.stored
             and now.object_key != cold_output.object_key, 30, "the output entry refreshed")
    assert not store.exists(cold_output.object_key)


def test_owners_never_share_the_cache(farm, api, db, media, tmp_path, make_user):
    """Another owner with the very same files and edit: no entry of the first owner's serves
    them, not a piece nor the output, each farm page counts its caller's entries only, and
    their render leaves the first owner's entries as they were."""
    video, sine = (upload_source(api, path) for path in media)
    _, cold = render(api, new_project(api), edit(video, sine), tmp_path, "cold")
    owner = api("GET", "/users/me").json()["id"]
    kept = {**entries(db, owner), **outputs_kept(db, owner, 1)}

    other = ApiCaller(farm.url, make_user()[1])
    assert other("GET", "/farm").json()["cache"] == {**api("GET", "/farm").json()["cache"],
                                                     "entries": 0, "bytes": 0}
    theirs = [upload_source(other, path) for path in media]
    other_status, other_frames = render(other, new_project(other), edit(*theirs), tmp_path,
                                        "other")
    # rendered whole: not served (no pieces), and no piece reused
    assert other_status["pieces"] == {"total": PIECES, "done": PIECES, "reused": 0, "copied": 0}
    assert np.array_equal(other_frames, cold)
    outputs_kept(db, other("GET", "/users/me").json()["id"], 1)
    for caller in (api, other):
        assert caller("GET", "/farm").json()["cache"]["entries"] == PIECES + 1
    after = {**entries(db, owner), **entries(db, owner, outputs=True)}
    assert {k: (e.object_key, e.stored) for k, e in after.items()} == {
        k: (e.object_key, e.stored) for k, e in kept.items()}  # theirs left this owner's alone


def test_a_bad_entry_is_rendered_anew(api, db, settings, media, tmp_path):
    """Flipped bytes (same size: found at the join), a truncated object, a deleted one and
    an entry whose frame count is not the piece's (found at the plan): the render still ends
    uploaded and right, each entry replaced."""
    video, sine = (upload_source(api, path) for path in media)
    project = new_project(api)
    _, cold = render(api, project, edit(video, sine), tmp_path, "cold")
    owner = api("GET", "/users/me").json()["id"]
    store = open_storage(settings)
    first, second, third, fourth = sorted(entries(db, owner).values(), key=lambda e: e.key)

    data = bytearray(store.read_bytes(first.object_key))
    data[len(data) // 2] ^= 0xFF
    store.put_bytes(first.object_key, bytes(data))
    store.put_bytes(second.object_key, store.read_bytes(second.object_key)[:-100])
    store.delete(third.object_key)
    with db.session() as session:
        session.execute(update(RenderCacheEntry).where(RenderCacheEntry.owner_id == owner,
                                                       RenderCacheEntry.key == fourth.key)
                        .values(frames=fourth.frames + 1))
        session.commit()

    # Another level: the output is not cached, its pictures are.
    status, frames = render(api, project, edit(video, sine, level=0.7), tmp_path, "after")
    assert status["pieces"] == {"total": PIECES, "done": PIECES, "reused": 0, "copied": 0}
    assert np.array_equal(frames, cold)
    seamless(tmp_path / "after.mp4", 0.7)
    now = entries(db, owner)
    assert len(now) == PIECES
    for bad in (first, second, third, fourth):
        assert now[bad.key].object_key != bad.object_key  # evicted, written anew
        assert not store.exists(bad.object_key)


def test_an_entry_the_join_refuses_is_rendered_anew(api, db, settings, media, tmp_path, worker):
    """An entry whose bytes are whole (its size, frame count and sha256 as recorded) but
    whose parameter sets are not the other pieces' (encoded with another preset, as another
    engine build would): the join's check refuses it, and the render still ends uploaded and
    right, the reused pieces rendered anew and the entry replaced."""
    video, sine = (upload_source(api, path) for path in media)
    project = new_project(api)
    _, cold = render(api, project, edit(video, sine), tmp_path, "cold")
    owner = api("GET", "/users/me").json()["id"]
    kept = entries(db, owner)
    first = min(kept.values(), key=lambda e: e.key)
    render(api, project, edit(video, sine, preset="medium"), tmp_path, "medium")
    other = next(e for key, e in entries(db, owner).items()  # a piece of the medium render
                 if key not in kept and e.frames == first.frames)
    store = open_storage(settings)
    doctored = keys.cache_object_key(owner, first.key)
    store.put_bytes(doctored, store.read_bytes(other.object_key))
    with db.session() as session:
        session.execute(update(RenderCacheEntry).where(RenderCacheEntry.owner_id == owner,
                                                       RenderCacheEntry.key == first.key)
                        .values(object_key=doctored, bytes=other.bytes, sha256=other.sha256))
        session.commit()

    status, frames = render(api, project, edit(video, sine, level=0.7), tmp_path, "after")
    assert status["pieces"] == {"total": PIECES, "done": PIECES, "reused": 0, "copied": 0}
    assert np.array_equal(frames, cold)
    seamless(tmp_path / "after.mp4", 0.7)
    assert entries(db, owner)[first.key].object_key not in (doctored, first.object_key)
    assert not store.exists(doctored)
    with db.session() as session:  # refused by the join, not missed at the plan
        job_id = session.execute(select(RenderJob.id)
                                 .where(RenderJob.asset_id == status["id"])).scalar_one()
    wait_for(lambda: any(line["event"] == "render.refused"
                         for line in step_lines(worker.log_path, job_id, 0) or []),
             10, "the join's refusal in the worker's log")


def test_deleting_the_last_source_with_a_content_removes_its_entries(
        api, db, settings, media, tmp_path):
    """A library file and a project asset of the same bytes: deleting the file leaves the
    entries made from it (the asset holds the content); deleting the asset then removes them
    and their objects."""
    video, sine = (upload_source(api, path) for path in media)
    project = new_project(api)
    twin = upload_asset(api, project, media[0])  # the same bytes again, as an asset
    render(api, project, edit(video, sine), tmp_path, "cold")
    owner = api("GET", "/users/me").json()["id"]
    kept = {**entries(db, owner), **outputs_kept(db, owner, 1)}
    assert len(kept) == PIECES + 1
    assert api("DELETE", f"/video-file/{video}").status_code in (200, 204)
    assert set(entries(db, owner)) | set(entries(db, owner, outputs=True)) == set(kept), \
        "the twin still holds the content"
    assert api("DELETE", f"/assets/{twin}").status_code in (200, 204)
    assert entries(db, owner) == {} and entries(db, owner, outputs=True) == {}
    store = open_storage(settings)
    assert not any(store.exists(e.object_key) for e in kept.values())


def test_cache_must_be_a_boolean(api, media):
    project = new_project(api)
    answer = api("POST", f"/projects/{project}/create-edit",
                 json=edit("00000000-0000-4000-8000-000000000000", "x", cache="no"))
    assert answer.status_code == 422, answer.text
    assert "cache" in answer.text


def test_a_served_render_has_its_own_object(api, db, settings, media, tmp_path):
    """An identical edit is served by a copy: deleting either asset leaves the other whole."""
    video, sine = (upload_source(api, path) for path in media)
    project = new_project(api)
    owner = api("GET", "/users/me").json()["id"]
    assets = []
    for name in ("one", "two", "three"):
        started = api("POST", f"/projects/{project}/create-edit", json=edit(video, sine))
        assert started.status_code == 200, started.text
        done = wait_finished(api, started.json()["asset_id"])
        assert done["status"] == "uploaded", done
        assets.append(done)
        outputs_kept(db, owner, 1)
    one, two, three = assets
    served = [api("GET", f"/assets/{a['id']}/status").json()["pieces"] for a in assets]
    assert served[0]["total"] == PIECES and served[1:] == [None, None]  # two, three: copies
    assert len({a["asset_path"] for a in assets}) == 3
    cold = decoded(one["download_url"], tmp_path / "one.mp4")
    assert api("DELETE", f"/assets/{one['id']}").status_code in (200, 204)
    assert np.array_equal(decoded(two["download_url"], tmp_path / "two.mp4"), cold)
    assert api("DELETE", f"/assets/{three['id']}").status_code in (200, 204)
    assert np.array_equal(decoded(two["download_url"], tmp_path / "two-again.mp4"), cold)


def test_two_identical_renders_at_once_write_each_entry_once(api, db, settings, media, tmp_path):
    video, sine = (upload_source(api, path) for path in media)
    project = new_project(api)
    body = edit(video, sine)
    started = [api("POST", f"/projects/{project}/create-edit", json=body) for _ in range(2)]
    assert all(s.status_code == 200 for s in started), [s.text for s in started]
    done = [wait_finished(api, s.json()["asset_id"]) for s in started]
    assert [d["status"] for d in done] == ["uploaded", "uploaded"], done
    first, second = (decoded(d["download_url"], tmp_path / f"{i}.mp4") for i, d in enumerate(done))
    assert np.array_equal(first, second)
    owner = api("GET", "/users/me").json()["id"]
    kept = {**entries(db, owner), **outputs_kept(db, owner, 1)}
    assert len(kept) == PIECES + 1 and all(e.stored for e in kept.values())
    store = open_storage(settings)
    objects = {o.key for o in store.list_objects(f"{owner}/render-cache")}
    assert objects == {e.object_key for e in kept.values()}, "an entry was written twice"


def video_pieces(db, asset_id: str) -> list[tuple[int, int, int]]:
    """(first frame, end, frames copied) of each video piece of the asset's render."""
    with db.session() as session:
        job = session.execute(select(RenderJob).where(RenderJob.asset_id == asset_id)
                              ).scalar_one()
        pieces = session.execute(select(RenderPiece).where(RenderPiece.job_id == job.id,
                                                           RenderPiece.kind == "video")
                                 .order_by(RenderPiece.index)).scalars().all()
        return [(p.frame_start, p.frame_end, p.copied) for p in pieces]


def test_a_render_of_a_render_is_cut_at_its_keyframes_and_copies_them(api, db, media, tmp_path):
    """A render cut from a finished render: its pieces fall on the render's own keyframes
    (recorded when it finished), so every piece between the clip's first and last copies
    its frames whole, exactly the render's, and the status counts the copied frames."""
    video, _ = (upload_source(api, path) for path in media)
    project = new_project(api)
    # Pieces of a GOP on two clips: the first render's IDRs are not all on a 2 s grid.
    first = make_edit([clip(video, 0, 3.5), clip(video, 4, 8.5)], resolution="160x96",
                      fps=FPS, filename="first.mp4",
                      render_options={"chunk_seconds": 2, "cache": False})
    first_status, first_frames = render(api, project, first, tmp_path, "first")
    with db.session() as session:
        recorded = session.get(Asset, first_status["id"]).keyframes
    keyframes = {Fraction(t) * FPS for t in recorded}
    assert {start for start, _, _ in video_pieces(db, first_status["id"])} <= keyframes
    again = make_edit([clip(first_status["id"], 0.5, 7.5, kind="asset")], resolution="160x96",
                      fps=FPS, filename="again.mp4",
                      render_options={"chunk_seconds": 2, "cache": False})
    status, frames = render(api, project, again, tmp_path, "again")
    cut = video_pieces(db, status["id"])
    assert len(frames) == 210 and len(cut) >= 3, cut
    assert all(start + 15 in keyframes for start, _, _ in cut[1:]), cut
    assert all(copied == end - start for start, end, copied in cut[1:-1]), cut
    assert status["pieces"] == {"total": len(cut), "done": len(cut), "reused": 0,
                                "copied": sum(c for _, _, c in cut)}, status
    for start, end, _ in cut[1:-1]:
        assert np.array_equal(frames[start:end], first_frames[start + 15:end + 15])


def test_a_render_of_a_render_in_one_piece_copies(api, media, tmp_path):
    """A render of a render short enough for one piece copies its source's GOPs too."""
    video, _ = (upload_source(api, path) for path in media)
    project = new_project(api)
    first = make_edit([clip(video, 0, 8)], resolution="160x96", fps=FPS, filename="first.mp4",
                      render_options={"cache": False})
    first_status, first_frames = render(api, project, first, tmp_path, "first")
    again = make_edit([clip(first_status["id"], 1, 5, kind="asset")], resolution="160x96",
                      fps=FPS, filename="again.mp4",
                      render_options={"chunk_seconds": 0, "cache": False})
    status, frames = render(api, project, again, tmp_path, "again")
    pieces = status["pieces"]
    assert pieces["total"] == pieces["done"] == 1 and pieces["copied"] >= 60, status
    assert len(frames) == 120
    exact = sum(np.array_equal(frame, first_frames[30 + k]) for k, frame in enumerate(frames))
    assert exact >= pieces["copied"]


@pytest.fixture
def cache_off(settings, tmp_path, make_user):
    """A farm of its own with CANOPY_RENDER_CACHE_BYTES=0, on the session's database and
    store (its own Redis, source cache and hold folder); a fresh user's API calls to it."""
    redis = RedisServer(tmp_path)
    redis.start()
    own = replace(settings, redis_url=redis.url, render_cache_bytes=0,
                  cache_dir=str(tmp_path / "cache"), hold_dir=str(tmp_path / "hold"))
    farm = Farm(own, tmp_path, redis)
    try:
        farm.start(workers=1)
        yield ApiCaller(farm.url, make_user()[1])
    finally:
        farm.stop()


def test_a_cache_of_zero_bytes_keeps_nothing_and_reuses_nothing(cache_off, db, settings,
                                                                 media, tmp_path):
    """The same edit twice on a farm whose cache is off: both encode every piece, both
    decode to the same frames, and no entry or cached object is left."""
    api = cache_off
    video, sine = (upload_source(api, path) for path in media)
    project = new_project(api)
    first_status, first = render(api, project, edit(video, sine), tmp_path, "first")
    second_status, second = render(api, project, edit(video, sine), tmp_path, "second")
    for status in (first_status, second_status):
        assert status["pieces"] == {"total": PIECES, "done": PIECES, "reused": 0, "copied": 0}
    for name in ("first", "second"):
        seamless(tmp_path / f"{name}.mp4")
    assert np.array_equal(first, second)
    owner = api("GET", "/users/me").json()["id"]
    assert entries(db, owner) == {} and entries(db, owner, outputs=True) == {}
    assert list(open_storage(settings).list_objects(f"{owner}/render-cache")) == []
    assert api("GET", "/farm").json()["cache"]["entries"] == 0
