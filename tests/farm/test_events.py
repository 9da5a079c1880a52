"""Live status events (`GET /assets/{id}/events`) from a real render on the live farm."""
from __future__ import annotations

import pytest
import requests

from canopy_cli import sse
from tests.fixtures.edits import clip as cut, make_edit
from tests.fixtures.farm import renders_held, upload, wait_finished
from tests.fixtures.mediakit import make_video
from tests.fixtures.livesrv import wait_for

ORDER = ["queued", "rendering", "uploading", "uploaded"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("events") / "clip.mp4", size=(320, 180), fps=30,
                      duration=6, tone_hz=440)


def small_edit(source_id: str, seconds: int, repeat: int = 1) -> dict:
    """`repeat` times the first `seconds` of the source, at 320x180."""
    return make_edit([cut(source_id, 0, seconds)] * repeat, resolution="320x180",
                filename="events.mp4")


def open_events(api, asset_id: str, **headers) -> requests.Response:
    return requests.get(f"{api.base_url}/assets/{asset_id}/events", stream=True, timeout=30,
                        headers={**api.headers, **headers})


def read_all(response: requests.Response) -> list[sse.Event]:
    """Every event until the server closes the stream (a hang fails on the read timeout)."""
    with response:
        return list(sse.parse(response.iter_lines(chunk_size=None, decode_unicode=True)))


def test_render_events_arrive_in_order_and_the_stream_closes(farm, vj, api, clip):
    source = upload(vj, clip)
    project = api("POST", "/projects", json={"name": "events", "description": ""}).json()["id"]
    # Held after its first frame until a progress step is written (a worker writes one
    # every 0.5 s), however fast the machine renders.
    with renders_held(farm.settings) as held:
        started = api("POST", f"/projects/{project}/create-edit",
                      json=small_edit(source, 6, repeat=4)).json()
        response = open_events(api, started["asset_id"])
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        held()
        wait_for(lambda: api("GET", f"/assets/{started['asset_id']}/status").json()["progress"] > 0,
                 30, "a progress step of the held render")
    events = read_all(response)

    states = [e.json() for e in events]
    statuses = [s["status"] for s in states]
    assert statuses[-1] == "uploaded" and states[-1]["uploaded"] is True, statuses
    assert "rendering" in statuses, statuses
    # Status changes follow the job's order; progress steps only climb; ids only grow.
    changes = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
    assert changes == sorted(changes, key=ORDER.index), changes
    assert [e.event for e in events] == ["status" if i == 0 or statuses[i] != statuses[i - 1]
                                         else "progress" for i in range(len(events))]
    rendering = [s["progress"] for s in states if s["status"] == "rendering"]
    assert rendering == sorted(rendering) and len(rendering) >= 2, rendering
    ids = [int(e.id) for e in events]
    assert ids == sorted(set(ids)), ids
    assert all(s["id"] == started["asset_id"] for s in states)

    # Reconnecting: from an earlier id, only what came after (here: the final state) ...
    again = read_all(open_events(api, started["asset_id"], **{"Last-Event-ID": events[0].id}))
    assert [(e.event, e.id, e.json()["status"]) for e in again] == [("status", events[-1].id, "uploaded")]
    # ... and once the client has the last event, 204: EventSource stops reconnecting.
    done = open_events(api, started["asset_id"], **{"Last-Event-ID": events[-1].id})
    assert done.status_code == 204
    # An id that is not this asset's (or not a number) is ignored: the current state.
    for bogus in (str(int(events[-1].id) + 100), "abc"):
        fresh = read_all(open_events(api, started["asset_id"], **{"Last-Event-ID": bogus}))
        assert [e.json()["status"] for e in fresh] == ["uploaded"]


def test_a_canceled_render_ends_its_stream(farm, vj, api, clip):
    source = upload(vj, clip)
    project = api("POST", "/projects", json={"name": "events", "description": ""}).json()["id"]
    with renders_held(farm.settings):  # it cannot end before the cancel, however fast
        started = api("POST", f"/projects/{project}/create-edit",
                      json=small_edit(source, 6, repeat=5)).json()
        response = open_events(api, started["asset_id"])
        with response:
            events = sse.parse(response.iter_lines(chunk_size=None, decode_unicode=True))
            first = next(events)
            assert first.json()["status"] in ("queued", "rendering")
            assert api("POST", f"/assets/{started['asset_id']}/cancel").status_code == 200
            rest = list(events)
    assert rest[-1].json()["status"] == "canceled"
    assert wait_finished(api, started["asset_id"])["status"] == "canceled"


def test_events_keep_owner_isolation(api, make_user, farm):
    project = api("POST", "/projects", json={"name": "mine", "description": ""}).json()["id"]
    asset = api("POST", f"/projects/{project}/asset", json={
        "upload_method": "file-no-chunk", "asset_type": "user", "keyname": "a.mp4"}).json()["id"]
    _, other_key = make_user()
    url = f"{farm.url}/assets/{asset}/events"
    theirs = requests.get(url, headers={"Authorization": f"Bearer {other_key}"}, timeout=10)
    assert theirs.status_code == 404 and theirs.json() == {"detail": "Asset not found"}
    assert requests.get(url, timeout=10).status_code == 401
    # The owner's stream of an upload slot answers its state at once (queued: no bytes yet).
    with open_events(api, asset) as response:
        first = next(sse.parse(response.iter_lines(chunk_size=None, decode_unicode=True)))
    assert (first.event, first.json()["status"]) == ("status", "queued")
