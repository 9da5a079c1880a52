"""`GET /farm`: the farm for every signed-in user, other owners' renders anonymised."""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from api.services.farm import farm_view
from shared.models import RenderJob, RenderPiece, utcnow
from shared.queue import QUEUES, BrokerView
from shared.states import JobState
from tests.fixtures.jobs import queued_job


def add_render(db, owner_id: str, state: str, error: str | None = None, progress: float = 0.0,
               filename: str = "secret-plans.mp4", worker_id: str | None = None) -> str:
    """A project with one render job in `state`, written straight to the database; its
    asset's id."""
    job_id = queued_job(db, owner_id, asset=dict(keyname=filename, filename=filename,
                                                 status=state, progress=progress, error=error),
                        state=state, queue="render.cpu", attempt=1, error=error,
                        worker_id=worker_id)
    with db.session() as session:
        return session.get(RenderJob, job_id).asset_id


def test_others_renders_show_no_owner_id_or_file_name(db, make_user):
    owner_email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    owner, viewer = make_user(owner_email)[0], make_user()[0]
    reason = f"source {owner}/x/y.mp4 of {owner_email} is gone"
    failed = add_render(db, owner, JobState.FAILED, error=reason)
    running = add_render(db, owner, JobState.RENDERING, progress=0.25, worker_id="worker1@host:4242")
    broker = BrokerView({name: 0 for name in QUEUES}, {"worker1@host": ["media", "render.cpu"]})

    with db.sessionmaker() as session:
        theirs = farm_view(session, viewer, broker, utcnow())
        mine = farm_view(session, owner, broker, utcnow())

    seen = theirs.model_dump_json()
    assert owner not in seen and owner_email not in seen and "secret-plans" not in seen
    assert failed not in seen and running not in seen
    their_failure = next(f for f in theirs.failures if f.error.startswith("source "))
    assert their_failure.error == "source …/x/y.mp4 of … is gone"
    assert (their_failure.mine, their_failure.asset_id, their_failure.filename) == (False, None, None)
    their_run = next(r for r in theirs.running if r.worker == "worker1@host" and r.progress == 0.25)
    assert (their_run.mine, their_run.asset_id, their_run.state) == (False, None, JobState.RENDERING)

    my_failure = next(f for f in mine.failures if f.asset_id == failed)
    assert (my_failure.error, my_failure.filename, my_failure.mine) == (reason, "secret-plans.mp4", True)
    assert any(r.asset_id == running and r.mine for r in mine.running)
    worker = next(w for w in mine.workers if w.name == "worker1@host")
    assert worker.queues == ["media", "render.cpu"] and worker.running >= 1


def test_a_render_in_pieces_shows_its_pieces_rendering(db, make_user):
    owner = make_user()[0]
    asset_id = add_render(db, owner, "rendering", progress=0.5)  # the job's lease released
    with db.sessionmaker() as session:
        job = session.execute(select(RenderJob).where(RenderJob.asset_id == asset_id)).scalar_one()
        job.worker_id = None
        for index, state in enumerate(["rendering", "uploading", "queued", "uploaded"]):
            session.add(RenderPiece(job_id=job.id, index=index, frame_start=index * 30,
                                    frame_end=index * 30 + 30, state=state, worker_id="vm:7"))
        session.commit()
        view = farm_view(session, owner, BrokerView(None, None), utcnow())
    assert next(r for r in view.running if r.asset_id == asset_id).worker == "2 pieces rendering"


def test_a_worker_rendering_a_piece_is_credited(db, make_user):
    """A render in pieces holds no lease of its own: the workers holding its pieces run it."""
    owner = make_user()[0]
    asset_id = add_render(db, owner, JobState.RENDERING, progress=0.5)
    with db.sessionmaker() as session:
        job = session.execute(select(RenderJob).where(RenderJob.asset_id == asset_id)).scalar_one()
        for index, holder in enumerate(["piecer@host:7", "piecer@host:8", None]):
            session.add(RenderPiece(job_id=job.id, index=index, frame_start=index * 30,
                                    frame_end=index * 30 + 30, worker_id=holder,
                                    state=JobState.RENDERING if holder else JobState.QUEUED))
        session.commit()
        broker = BrokerView({name: 0 for name in QUEUES},
                            {"piecer@host": ["render.cpu"], "idle@host": ["render.cpu"]})
        workers = {w.name: w.running for w in farm_view(session, owner, broker, utcnow()).workers}
    assert workers == {"piecer@host": 1, "idle@host": 0}


def test_old_failures_drop_off_and_queued_renders_are_counted(db, make_user):
    owner = make_user()[0]
    add_render(db, owner, JobState.FAILED, error="long ago")
    later = utcnow() + timedelta(hours=25)
    with db.sessionmaker() as session:
        before = farm_view(session, owner, BrokerView(None, None), later)
        queued = {q.name: q.queued_renders for q in before.queues}
    add_render(db, owner, JobState.QUEUED)
    with db.sessionmaker() as session:
        after = farm_view(session, owner, BrokerView(None, None), later)
    assert all(f.error != "long ago" for f in before.failures)
    assert {q.name: q.queued_renders for q in after.queues}["render.cpu"] == queued["render.cpu"] + 1
    assert after.broker_answered is False and after.workers is None
    assert all(q.waiting_messages is None for q in after.queues)


def test_farm_route_on_the_live_farm(api, farm):
    farm_now = api("GET", "/farm")
    assert farm_now.status_code == 200
    body = farm_now.json()
    assert body["broker_answered"] is True
    assert [q["name"] for q in body["queues"]][:len(QUEUES)] == list(QUEUES)
    assert all(isinstance(q["waiting_messages"], int) for q in body["queues"])
    # The session's workers answer the broadcast with the queues each consumes: the webhook
    # sender only `hooks`, the render worker never.
    queues = [w["queues"] for w in body["workers"]]
    assert ["media", "render.cpu"] in queues and ["hooks"] in queues, body["workers"]


def test_farm_needs_a_key(client):
    assert client.get("/farm").status_code == 401


def test_the_dashboard_is_served_outside_the_api_document(client):
    page = client.get("/ui/")
    assert page.status_code == 200 and b'<script type="module" src="js/app.js">' in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/ui/js/app.js").status_code == 200
    assert client.get("/").headers["Location"].endswith("/ui/")
    paths = client.get("/openapi.json").json["paths"]
    assert "/farm" in paths and not any(p == "/" or p.startswith("/ui") for p in paths)
