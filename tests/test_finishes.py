"""Every way a render job ends writes its one finish row (and webhook outbox entry) in the
same transaction, and the webhook is sent once that transaction commits."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import exists, func, select, update

from shared import finishes, jobs
from shared.models import Asset, Edit, RenderFinish, RenderJob, utcnow
from shared.states import FINISHED, JobState
from tests.fixtures.jobs import (HOOK, canceled_while_queued, canceled_while_rendering,
                                 failed_by_reaper, failed_by_worker, failed_in_queue,
                                 failed_while_waiting, queued_job, uploaded)

@pytest.mark.parametrize("end, outcome", [
    (uploaded, JobState.UPLOADED), (failed_by_worker, JobState.FAILED),
    (canceled_while_queued, JobState.CANCELED), (canceled_while_rendering, JobState.CANCELED),
    (failed_by_reaper, JobState.FAILED),
    (failed_in_queue, JobState.FAILED), (failed_while_waiting, JobState.FAILED),
])
def test_each_end_records_one_finish_and_sends_its_webhook_after_commit(db, make_user, monkeypatch,
                                                                         end, outcome):
    sent = []
    monkeypatch.setattr(finishes, "_sender", sent.append)
    user_id, _ = make_user()
    job_id = queued_job(db, user_id)
    with db.session() as session:
        session.execute(update(RenderJob).where(RenderJob.id == job_id)
                        .values(edit_data={"callback_url": HOOK}))
        session.commit()
        end(session, job_id)
        jobs.request_cancel(session, job_id)  # a late cancel of a finished job: nothing new
    with db.session() as session:
        rows = session.execute(select(RenderFinish).where(RenderFinish.job_id == job_id)).scalars().all()
    assert [(r.state, r.callback_url, r.webhook_state, r.tries) for r in rows] == [
        (outcome, HOOK, "pending", 0)]
    assert sent == [rows[0].id]
    finish = rows[0]
    if outcome == JobState.UPLOADED:
        assert (finish.bytes, finish.output_seconds) == (1234, 2.0)
        assert finish.queued_seconds >= 0 and finish.wall_seconds >= 0
    else:
        assert finish.bytes is None and (finish.error is not None) == (outcome == JobState.FAILED)


def test_a_finish_rolled_back_sends_nothing(db, make_user, monkeypatch):
    sent = []
    monkeypatch.setattr(finishes, "_sender", sent.append)
    job_id = queued_job(db, make_user()[0])
    with db.session() as session:
        session.execute(update(RenderJob).where(RenderJob.id == job_id)
                        .values(edit_data={"callback_url": HOOK}, state=JobState.CANCELED))
        finishes.record(session, job_id)
        session.rollback()
        session.commit()
        assert session.execute(select(RenderFinish).where(RenderFinish.job_id == job_id)).first() is None
    assert sent == []


def test_a_render_without_callback_is_counted_but_sends_nothing(db, make_user, monkeypatch):
    sent = []
    monkeypatch.setattr(finishes, "_sender", sent.append)
    job_id = queued_job(db, make_user()[0])
    with db.session() as session:
        jobs.request_cancel(session, job_id)
        row = session.execute(select(RenderFinish).where(RenderFinish.job_id == job_id)).scalar_one()
    assert (row.state, row.webhook_state, row.queued_seconds) == (JobState.CANCELED, None, None)
    assert sent == []


def test_the_reaper_resends_an_overdue_webhook_once_per_grace(db, make_user, monkeypatch):
    monkeypatch.setattr(finishes, "_sender", None)  # the send after commit is lost
    job_id = queued_job(db, make_user()[0])
    with db.session() as session:
        session.execute(update(RenderJob).where(RenderJob.id == job_id)
                        .values(edit_data={"callback_url": HOOK}))
        jobs.request_cancel(session, job_id)
        finish_id = session.execute(select(RenderFinish.id).where(RenderFinish.job_id == job_id)).scalar_one()
    later = utcnow() + timedelta(seconds=61)
    with db.session() as session:
        assert finish_id not in finishes.overdue_webhooks(session, 60)
        assert finish_id in finishes.overdue_webhooks(session, 60, now=later)
    with db.session() as session:  # re-sent just now: not again before another grace
        assert finish_id not in finishes.overdue_webhooks(session, 60, now=later)


def test_every_submitted_job_this_session_ended_has_its_finish(db, make_user):
    """Whatever ended the submitted jobs (those with an edit) of this session's database —
    the farm tests' workers and reapers, API cancels, this test's own — each has its one
    finish row. (Some tests write finished rows straight to the database: they have no edit.)"""
    job_id = queued_job(db, make_user()[0])
    with db.session() as session:
        job = session.get(RenderJob, job_id)
        edit = Edit(owner_id=job.owner_id, project_id=session.get(Asset, job.asset_id).project_id,
                    data={})
        session.add(edit)
        session.flush()
        job.edit_id = edit.id
        session.commit()
        jobs.request_cancel(session, job_id)
    with db.session() as session:
        submitted = (RenderJob.state.in_(sorted(FINISHED)), RenderJob.edit_id.is_not(None))
        ended = session.execute(select(func.count()).select_from(RenderJob)
                                .where(*submitted)).scalar_one()
        unrecorded = session.execute(
            select(RenderJob.id, RenderJob.state, RenderJob.error).where(
                *submitted, ~exists().where(RenderFinish.job_id == RenderJob.id))).all()
    assert ended >= 1 and unrecorded == []
