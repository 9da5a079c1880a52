"""The pieces of a render in pieces: compare-and-set transitions, on SQLite and PostgreSQL.

Named as "T: piece move --> J: what the job does".
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from shared import jobs, piece_join, piece_jobs, piece_reaping
from shared.db import Database
from shared.models import Asset, RenderJob, RenderPiece, utcnow
from shared.states import Beat
from tests.fixtures.jobs import PLAN, RANGES, queued_job, render_and_store

SOUND = 3  # the piece after the video pieces renders the sound
LATER = timedelta(seconds=60)


@pytest.fixture
def planned(db, make_user):
    """A claimed job whose plan of three pieces is written: (job id, the plan's claim)."""
    job_id = queued_job(db, make_user()[0])
    with db.session() as session:
        claim = jobs.claim(session, job_id, "coordinator", 30)
        assert piece_join.write_plan(session, claim, RANGES, PLAN) == [SOUND, 0, 1, 2]
    return job_id, claim


def job_row(db, job_id):
    with db.session() as session:
        job = session.get(RenderJob, job_id)
        asset = session.get(Asset, job.asset_id)
        return job, asset


def piece_row(db, job_id, index) -> RenderPiece:
    with db.session() as session:
        return session.get(RenderPiece, (job_id, index))


def ours(reaped: list, job_id: str) -> list:
    """What a reaper round did to this test's job (the session's database has others)."""
    return [item for item in reaped if (item[0] if isinstance(item, tuple) else item) == job_id]


def test_plan_written_once_releases_the_jobs_lease(db, planned):
    job_id, claim = planned
    job, asset = job_row(db, job_id)
    assert (job.state, job.lease_until, job.frame_count, job.piece_frames) == ("rendering", None, 150, 60)
    assert job.plan == PLAN
    assert (asset.pieces_total, asset.pieces_done) == (3, 0)
    with db.session() as session:
        render_and_store(session, job_id, 1)
        # A later attempt of the job keeps the plan and the stored piece.
        job = session.get(RenderJob, job_id)
        job.state, job.lease_until = "rendering", utcnow() + LATER
        session.commit()
        assert piece_join.write_plan(session, claim, [(0, 75), (75, 150)], {}) == [SOUND, 0, 2]
        stored = piece_join.pieces(session, job_id)
        assert [(p.frames, p.kind) for p in stored] == [(60, "video"), (60, "video"),
                                                         (30, "video"), (0, "sound")]


def test_T_piece_claimed_twice__J_one_worker_renders_it(db, planned):
    job_id, _ = planned
    with db.session() as session:
        first = piece_jobs.claim_piece(session, job_id, 0, "w1", 30)
        second = piece_jobs.claim_piece(session, job_id, 0, "w2", 30)
    assert first == piece_jobs.PieceClaim(job_id, 0, 1) and second is None
    assert piece_row(db, job_id, 0).worker_id == "w1"


def test_T_piece_stored_last__J_exactly_one_join(db, planned):
    job_id, _ = planned
    with db.session() as session:
        for index in (SOUND, 0, 1):
            render_and_store(session, job_id, index)
        assert piece_join.take_join(session, job_id, "early", 30) is None  # a piece is missing
        render_and_store(session, job_id, 2)
        winners = [piece_join.take_join(session, job_id, f"w{i}", 30) for i in range(3)]
    assert [w is not None for w in winners] == [True, False, False]
    job, asset = job_row(db, job_id)
    assert job.worker_id == "w0" and job.lease_until is not None
    assert (asset.pieces_done, asset.progress) == (3, 1.0)
    with db.session() as session:  # the joiner finishes the job as any attempt does
        assert jobs.start_upload(session, winners[0], 30)
        assert jobs.finalize(session, winners[0], "out.mp4", 10)
    assert job_row(db, job_id)[1].status == "uploaded"


def test_T_piece_retried__J_progress_never_goes_back(db, planned):
    job_id, _ = planned
    with db.session() as session:
        one = piece_jobs.claim_piece(session, job_id, 0, "w1", 30)
        two = piece_jobs.claim_piece(session, job_id, 1, "w2", 30)
        assert piece_jobs.heartbeat(session, one, 30, 45) == Beat.OK
        assert piece_jobs.heartbeat(session, two, 30, 30) == Beat.OK
        assert job_row(db, job_id)[1].progress == 0.5  # 75 of 150 frames
        assert piece_jobs.fail(session, one, "crashed", retry=True) == "queued"
        again = piece_jobs.claim_piece(session, job_id, 0, "w3", 30)
        assert again.attempt == 2
        assert piece_jobs.heartbeat(session, again, 30, 10) == Beat.OK
        assert job_row(db, job_id)[1].progress == 0.5
        assert piece_jobs.heartbeat(session, again, 30, 60) == Beat.OK
        assert job_row(db, job_id)[1].progress == 0.6
        assert piece_jobs.heartbeat(session, one, 30, 59) == Beat.LOST  # the old attempt


def test_T_piece_lease_expires_three_times__J_fails_with_the_reason(db, planned):
    job_id, _ = planned
    for attempt in (1, 2, 3):
        with db.session() as session:
            claim = piece_jobs.claim_piece(session, job_id, 2, f"w{attempt}", 30)
            assert claim.attempt == attempt
            reaped = piece_reaping.reap(session, 300, now=utcnow() + LATER)
        if attempt < 3:
            assert ours(reaped.requeued, job_id) == [(job_id, 2)]
            assert (job_id, 2, "render.cpu") in reaped.resend
            assert piece_row(db, job_id, 2).state == "queued"
    assert ours(reaped.failed_jobs, job_id) == [job_id]
    job, asset = job_row(db, job_id)
    assert job.state == asset.status == "failed"
    assert asset.error.startswith("piece 3 failed: worker stopped renewing its lease")
    with db.session() as session:  # the other pieces may no longer start
        assert piece_jobs.claim_piece(session, job_id, 0, "late", 30) is None


def test_T_last_piece_stored_then_its_worker_died__J_queued_again_and_joined(db, planned):
    job_id, _ = planned
    with db.session() as session:
        for index in range(4):
            render_and_store(session, job_id, index)
        # Its lease still covers the join's compare-and-set: nothing to reap yet.
        assert ours(piece_reaping.reap(session, 300).rejoin, job_id) == []
        reaped = piece_reaping.reap(session, 300, now=utcnow() + LATER)
        assert ours(reaped.rejoin, job_id) == [(job_id, "render.cpu")]
        claim = jobs.claim(session, job_id, "next", 30)
        assert claim.attempt == 2
        assert piece_join.write_plan(session, claim, RANGES, PLAN) == []  # nothing to render again
        assert piece_join.take_join(session, job_id, "next", 30) == claim
    assert [piece_row(db, job_id, i).attempt for i in range(4)] == [1, 1, 1, 1]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # server sessions
def test_T_worker_cut_off_mid_heartbeat__J_its_piece_taken_back_once_the_server_ends_it(
        db, planned):
    """A worker host unplugged between its heartbeat's UPDATE and the commit leaves a
    session holding the piece's row lock (its server side never hears the host go). The
    server ends a session idle that long in a transaction, so the reaper, waiting on that
    lock, takes the piece back instead of waiting for ever."""
    job_id, _ = planned
    with db.session() as session:
        claim = piece_jobs.claim_piece(session, job_id, 1, "cut-off", 30)
    cut_off = Database(db.url, idle_transaction_s=0.5)  # the worker's engine, set so
    vanished = cut_off.engine.connect()
    try:
        vanished.execute(update(RenderPiece).where(
            RenderPiece.job_id == job_id, RenderPiece.index == 1).values(frames_done=1))
        reaped = []

        def reap() -> None:
            with db.session() as session:
                reaped.append(piece_reaping.reap(session, 300, now=utcnow() + LATER))

        reaper = threading.Thread(target=reap, daemon=True)
        reaper.start()
        reaper.join(timeout=60)
        assert not reaper.is_alive(), "the reaper still waits on the cut-off worker's lock"
        assert ours(reaped[0].requeued, job_id) == [(job_id, 1)]
        assert piece_row(db, job_id, 1).attempt == claim.attempt
        with pytest.raises(DBAPIError):  # the server ended the session, its UPDATE undone
            vanished.execute(text("SELECT 1"))
        assert piece_row(db, job_id, 1).frames_done == 0
    finally:
        vanished.close()
        cut_off.dispose()


def test_T_queued_piece_message_lost__J_resent(db, planned):
    job_id, _ = planned
    with db.session() as session:
        assert ours(piece_reaping.reap(session, 300).resend, job_id) == []
        resend = piece_reaping.reap(session, 300, now=utcnow() + timedelta(seconds=400)).resend
    assert sorted(ours(resend, job_id)) == [(job_id, i, "render.cpu") for i in range(4)]


def test_T_cancel_while_pieces_render__J_canceled_at_once_pieces_stop(db, planned):
    job_id, _ = planned
    with db.session() as session:
        running = piece_jobs.claim_piece(session, job_id, 0, "w1", 30)
        stored = render_and_store(session, job_id, 1)
        # Nobody holds the job while its pieces render: the cancel ends it at once.
        assert jobs.request_cancel(session, job_id) == "canceled"
        assert piece_jobs.heartbeat(session, running, 30, 10) == Beat.CANCELED
        assert not piece_jobs.start_upload(session, running, 30)
        assert piece_jobs.mark_canceled(session, running)
        assert piece_jobs.claim_piece(session, job_id, 2, "w2", 30) is None
        assert piece_join.take_join(session, job_id, "w2", 30) is None
    assert job_row(db, job_id)[1].status == "canceled"
    assert piece_row(db, job_id, 0).state == "canceled" and stored.attempt == 1


def test_T_cancel_during_the_join__J_the_joiner_hears_it(db, planned):
    job_id, _ = planned
    with db.session() as session:
        for index in range(4):
            render_and_store(session, job_id, index)
        joiner = piece_join.take_join(session, job_id, "w", 30)
        assert jobs.request_cancel(session, job_id) == "rendering"  # the joiner holds it
        assert jobs.heartbeat(session, joiner, 30, 1.0) == Beat.CANCELED
        assert jobs.mark_canceled(session, job_id)
    assert job_row(db, job_id)[0].state == "canceled"
