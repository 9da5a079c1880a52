"""Deleting an asset or a project while a worker writes its render job: no deadlock.

A worker's heartbeat locks the job's row, then the asset's. A delete that locked the asset
first (the job going by cascade) took them the other way round: PostgreSQL then aborted
one side with a deadlock, and the user's DELETE answered 500.
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text, update

from shared.models import Asset, RenderJob
from tests.fixtures.livesrv import wait_for
from tests.fixtures.jobs import queued_job


def waiting_on_a_lock(db) -> bool:
    if db.engine.dialect.name != "postgresql":
        return True  # SQLite locks the whole file: the delete waits for the worker's commit
    with db.engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")).scalar() > 0


@pytest.mark.parametrize("what", ["asset", "project"])
def test_a_delete_during_a_heartbeat_waits_and_both_succeed(client, db, make_user, what):
    user_id, key = make_user()
    job_id = queued_job(db, user_id)
    with db.session() as session:
        job = session.get(RenderJob, job_id)
        asset = session.get(Asset, job.asset_id)
        asset_id, project_id = asset.id, asset.project_id
    path = f"/assets/{asset_id}" if what == "asset" else f"/projects/{project_id}"

    answers = []
    with db.engine.connect() as worker:
        heartbeat = worker.begin()  # as jobs.heartbeat: the job's row, then the asset's
        worker.execute(update(RenderJob).where(RenderJob.id == job_id).values(worker_id="w"))
        deleting = threading.Thread(
            target=lambda: answers.append(client.delete(path, headers={"X-API-Key": key})))
        deleting.start()
        wait_for(lambda: waiting_on_a_lock(db), 10, "the delete to wait for the worker's lock")
        worker.execute(update(Asset).where(Asset.id == asset_id).values(progress=0.5))
        heartbeat.commit()
    deleting.join(30)
    assert answers and answers[0].status_code == 200, answers and answers[0].json
    with db.session() as session:
        left = session.execute(select(func.count()).select_from(RenderJob)
                               .where(RenderJob.id == job_id)).scalar()
        assert left == 0 and session.get(Asset, asset_id) is None
