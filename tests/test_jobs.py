"""The render job's compare-and-set transitions, on SQLite and PostgreSQL."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shared import job_reaping, jobs, leases
from shared.db import Database
from shared.cli import create_user
from shared.models import Asset, RenderFinish, RenderJob, utcnow
from shared.models.base import Reason
from shared.states import Beat, JobState
from tests.fixtures.database import postgres_database
from tests.fixtures.jobs import queued_job


@pytest.fixture
def job_id(db, make_user):
    user_id, _ = make_user()
    return queued_job(db, user_id)


def state(db, job_id):
    with db.session() as session:
        job = session.get(RenderJob, job_id)
        return job.state, job.attempt, session.get(Asset, job.asset_id).status


def test_only_one_claim_wins(db, job_id):
    with db.session() as session:
        first = jobs.claim(session, job_id, "w1", 30)
        second = jobs.claim(session, job_id, "w2", 30)
    assert first == leases.Claim(job_id, 1) and second is None
    assert state(db, job_id) == (JobState.RENDERING, 1, JobState.RENDERING)


def test_a_taken_over_attempt_cannot_finalize(db, job_id):
    with db.session() as session:
        stale = jobs.claim(session, job_id, "w1", 30)
        reaped = job_reaping.reap(session, 300, now=utcnow() + timedelta(seconds=60))
        assert job_id in reaped.requeued and (job_id, "render.cpu") in reaped.resend
        fresh = jobs.claim(session, job_id, "w2", 30)
        assert jobs.heartbeat(session, stale, 30, 0.5) == Beat.LOST
        assert not jobs.start_upload(session, stale, 30)
        assert jobs.start_upload(session, fresh, 30)
        assert not jobs.finalize(session, stale, "k", 1)
        assert jobs.finalize(session, fresh, "k", 10, duration=1.0)
    assert state(db, job_id) == (JobState.UPLOADED, 2, JobState.UPLOADED)


def test_three_lost_leases_fail_the_job(db, job_id):
    later = utcnow()
    with db.session() as session:
        for attempt in range(1, 4):
            assert jobs.claim(session, job_id, "w", 1).attempt == attempt
            later += timedelta(seconds=10)
            reaped = job_reaping.reap(session, 300, now=later)
    assert job_id in reaped.failed
    assert state(db, job_id) == (JobState.FAILED, 3, JobState.FAILED)
    with db.session() as session:
        assert "lease" in session.get(RenderJob, job_id).error


def test_cancel_a_queued_job_ends_it_at_once(db, job_id):
    with db.session() as session:
        assert jobs.request_cancel(session, job_id) == JobState.CANCELED
        assert jobs.claim(session, job_id, "w", 30) is None
    assert state(db, job_id) == (JobState.CANCELED, 0, JobState.CANCELED)


def test_cancel_a_running_job_is_seen_by_its_heartbeat(db, job_id):
    with db.session() as session:
        claim = jobs.claim(session, job_id, "w", 30)
        assert jobs.request_cancel(session, job_id) == JobState.RENDERING
        assert jobs.heartbeat(session, claim, 30, 0.4) == Beat.CANCELED
        assert jobs.mark_canceled(session, job_id)
    assert state(db, job_id) == (JobState.CANCELED, 1, JobState.CANCELED)


def test_crash_retries_then_fails(db, job_id):
    with db.session() as session:
        for attempt in (1, 2):
            claim = jobs.claim(session, job_id, "w", 30)
            assert jobs.fail(session, claim, "boom", retry=True) == JobState.QUEUED
        claim = jobs.claim(session, job_id, "w", 30)
        assert jobs.fail(session, claim, "boom", retry=True) == JobState.FAILED
    assert state(db, job_id) == (JobState.FAILED, 3, JobState.FAILED)


def test_a_job_no_worker_takes_fails_after_the_queue_timeout(db, job_id):
    with db.session() as session:
        assert job_id not in job_reaping.reap(session, 300, queue_timeout_s=3600).failed
        reaped = job_reaping.reap(session, 300, queue_timeout_s=3600, now=utcnow() + timedelta(hours=2))
    assert job_id in reaped.failed
    assert state(db, job_id) == (JobState.FAILED, 0, JobState.FAILED)


def test_a_cancel_outlives_its_dead_worker(db, job_id):
    with db.session() as session:
        jobs.claim(session, job_id, "w", 1)
        assert jobs.request_cancel(session, job_id) == JobState.RENDERING
        reaped = job_reaping.reap(session, 300, now=utcnow() + timedelta(seconds=30))
    assert job_id not in reaped.requeued and job_id not in [j for j, _ in reaped.resend]
    assert state(db, job_id) == (JobState.CANCELED, 1, JobState.CANCELED)


def test_a_cancel_asked_before_a_crash_is_not_lost_in_the_requeue(db, job_id):
    """The attempt crashed before its heartbeat saw the cancel: the job ends canceled rather
    than queued with a cancel that no claim would take (stuck until the queue timeout)."""
    with db.session() as session:
        claim = jobs.claim(session, job_id, "w", 30)
        assert jobs.request_cancel(session, job_id) == JobState.RENDERING
        assert jobs.fail(session, claim, "RuntimeError: boom", retry=True) == JobState.CANCELED
    assert state(db, job_id) == (JobState.CANCELED, 1, JobState.CANCELED)


def test_a_queued_job_with_a_cancel_asked_ends_when_claimed(db, job_id):
    """A row left queued with its cancel flag (written before requeues checked it)."""
    with db.session() as session:
        session.execute(update(RenderJob).where(RenderJob.id == job_id).values(cancel_requested=True))
        session.commit()
        assert jobs.claim(session, job_id, "w", 30) is None
    assert state(db, job_id) == (JobState.CANCELED, 0, JobState.CANCELED)


def test_leases_follow_the_database_clock_not_the_workers(monkeypatch):
    """A worker whose clock is an hour slow: its lease is still 30 s from the database's
    now, so the reapers (judging by the same clock) leave the healthy render alone."""
    with postgres_database() as url:
        db = Database(url)
        try:
            user, _ = create_user(db, f"{uuid.uuid4().hex[:8]}@example.com")
            job_id = queued_job(db, user.id)
            slow = utcnow() - timedelta(hours=1)
            for module in (jobs, leases):  # the worker's clock only
                monkeypatch.setattr(module, "utcnow", lambda: slow)
            with db.session() as session:
                claim = jobs.claim(session, job_id, "w", 30)
                assert jobs.heartbeat(session, claim, 30, 0.5) == Beat.OK
            monkeypatch.undo()
            with db.session() as session:
                assert job_reaping.reap(session, 300).requeued == []
                left = session.execute(
                    select(RenderJob.lease_until - leases.lease_clock(session))
                    .where(RenderJob.id == job_id)).scalar_one()
            assert timedelta(seconds=25) < left <= timedelta(seconds=30)
            assert state(db, job_id) == (JobState.RENDERING, 1, JobState.RENDERING)
        finally:
            db.dispose()


def test_a_deleted_job_answers_deleted_not_lost(db, job_id):
    """A project deleted mid-render: the worker hears that the job is gone, not that another
    attempt took its lease (which it logged before, misleadingly)."""
    with db.session() as session:
        claim = jobs.claim(session, job_id, "w", 30)
        jobs.delete_for_assets(session, select(RenderJob.asset_id).where(RenderJob.id == job_id))
        session.commit()
        assert jobs.heartbeat(session, claim, 30, 0.5) == Beat.DELETED
        assert jobs.fail(session, claim, "boom", retry=True) == Beat.DELETED


def test_the_queue_timeout_counts_from_the_last_requeue(db, job_id):
    """A job requeued after two hours of attempts gets the whole timeout again (it counted
    from created_at, so the requeued job failed at once)."""
    two_hours_ago = utcnow() - timedelta(hours=2)
    with db.session() as session:
        session.execute(update(RenderJob).where(RenderJob.id == job_id)
                        .values(created_at=two_hours_ago, queued_at=two_hours_ago))
        session.commit()
        claim = jobs.claim(session, job_id, "w", 30)
        assert jobs.fail(session, claim, "RuntimeError: boom", retry=True) == JobState.QUEUED
        assert job_id not in job_reaping.reap(session, 300, queue_timeout_s=3600).failed
        later = job_reaping.reap(session, 300, queue_timeout_s=3600, now=utcnow() + timedelta(hours=2))
    assert job_id in later.failed


def test_progress_never_goes_back_on_a_retry(db, job_id):
    def progress():
        with db.session() as session:
            return session.get(Asset, session.get(RenderJob, job_id).asset_id).progress

    with db.session() as session:
        first = jobs.claim(session, job_id, "w", 30)
        jobs.heartbeat(session, first, 30, 0.6)
        jobs.fail(session, first, "RuntimeError: boom", retry=True)
        assert progress() == 0.6
        second = jobs.claim(session, job_id, "w", 30)
        jobs.heartbeat(session, second, 30, 0.2)
        assert progress() == 0.6
        jobs.heartbeat(session, second, 30, 0.7)
    assert progress() == 0.7


def test_a_cancel_during_the_upload_is_honoured(db, job_id):
    """The cancel answered 200, then the render ended uploaded: now finalize refuses it."""
    with db.session() as session:
        claim = jobs.claim(session, job_id, "w", 30)
        assert jobs.start_upload(session, claim, 30)
        assert jobs.request_cancel(session, job_id) == JobState.UPLOADING
        assert jobs.heartbeat(session, claim, 30, 1.0, state=JobState.UPLOADING) == Beat.CANCELED
        assert not jobs.finalize(session, claim, "k", 10)
        assert jobs.standing(session, claim) == Beat.CANCELED
        assert jobs.mark_canceled(session, job_id)
    assert state(db, job_id) == (JobState.CANCELED, 1, JobState.CANCELED)


def test_a_reason_is_stored_without_server_paths(db, job_id):
    """The worker's reason is an exception's text; the job, its asset and its finish keep
    only the file's name (issue 10, D6: "File name too long" showed the cache's path)."""
    reason = "OSError: [Errno 36] File name too long: '/srv/canopy/var/cache/renders/tmp9/x.mp4'"
    public = "OSError: [Errno 36] File name too long: 'x.mp4'"
    assert failed_with(db, job_id, reason) == [public] * 3


def test_a_long_reason_is_cut_to_the_same_length_wherever_it_is_stored(db, job_id):
    """One rule for every column a reason is written to (shared.models.base.Reason): the
    job's, its asset's and its finish's error keep the first MAX_CHARACTERS."""
    reason = "RenderError: " + "x" * 2 * Reason.MAX_CHARACTERS
    assert failed_with(db, job_id, reason) == [reason[:Reason.MAX_CHARACTERS]] * 3


def failed_with(db, job_id: str, reason: str) -> list[str]:
    """Fail the job's first attempt for good with `reason`: the job's, its asset's and its
    finish's errors as stored."""
    with db.session() as session:
        claim = jobs.claim(session, job_id, "w", 30)
        assert jobs.fail(session, claim, reason, retry=False) == JobState.FAILED
    with db.session() as session:
        job = session.get(RenderJob, job_id)
        errors = [job.error, session.get(Asset, job.asset_id).error]
        return errors + session.execute(select(RenderFinish.error).where(
            RenderFinish.job_id == job_id)).scalars().all()
