"""The running totals that metrics read are the counts of the whole ledger, whatever path
ended each render (worker, reaper, cancel, pieces) and each webhook."""
from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from shared import finishes, jobs, leases, piece_join, piece_jobs, piece_reaping, totals, webhooks
from shared.cli import alembic_config, migrate
from shared.config import Settings
from shared.db import Database
from shared.models import RenderFinish, RenderJob, utcnow
from shared.states import DeliveryState
from tests.fixtures.jobs import (HOOK, PLAN, RANGES, canceled_while_queued,
                                 canceled_while_rendering, failed_by_reaper, failed_by_worker,
                                 failed_in_queue, failed_while_waiting, queued_job,
                                 render_and_store, uploaded)
from tests.fixtures.database import postgres_database
from tests.fixtures.livesrv import wait_for

LATER = timedelta(seconds=60)


def in_pieces_uploaded(session, job_id):
    claim = jobs.claim(session, job_id, "coordinator", 30)
    piece_join.write_plan(session, claim, RANGES, PLAN)
    for index in range(len(RANGES) + 1):
        render_and_store(session, job_id, index)
    joined = piece_join.take_join(session, job_id, "joiner", 30)
    assert jobs.start_upload(session, joined, 30)
    assert jobs.finalize(session, joined, "k", 99_000, duration=5.0)


def in_pieces_failed(session, job_id):
    """A piece whose lease runs out on every attempt fails its render (pieces' reaper)."""
    claim = jobs.claim(session, job_id, "coordinator", 30)
    piece_join.write_plan(session, claim, RANGES, PLAN)
    for attempt in range(leases.MAX_ATTEMPTS):
        piece_jobs.claim_piece(session, job_id, 0, f"w{attempt}", 30)
        piece_reaping.reap(session, 300, now=utcnow() + LATER)


def in_pieces_canceled(session, job_id):
    claim = jobs.claim(session, job_id, "coordinator", 30)
    piece_join.write_plan(session, claim, RANGES, PLAN)
    running = piece_jobs.claim_piece(session, job_id, 0, "w", 30)
    jobs.request_cancel(session, job_id)
    piece_jobs.mark_canceled(session, running)


ENDS = [uploaded, failed_by_worker, canceled_while_queued, canceled_while_rendering,
        failed_by_reaper, failed_in_queue, failed_while_waiting, in_pieces_uploaded,
        in_pieces_failed, in_pieces_canceled]
# How long each render waited before its end: values in several buckets, one above them all.
QUEUED_FOR = [0, 3, 40, 500, 4000, 30000]


@contextmanager
def snapshot(db):
    """One consistent view of the database: the farm tests' workers may end renders meanwhile."""
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            conn.exec_driver_sql("BEGIN")
        yield Session(bind=conn)
        conn.rollback()


def both(db) -> tuple[totals.Totals, totals.Totals]:
    with snapshot(db) as session:
        return totals.read(session), totals.count_all(session)


def moved(after: totals.Totals, before: totals.Totals) -> dict:
    keys = set(after) | set(before)
    out = {}
    for key in keys:
        (n1, t1), (n0, t0) = after.get(key, (0, 0.0)), before.get(key, (0, 0.0))
        if n1 != n0:
            out[key] = (n1 - n0, t1 - t0)
    return out


def end_webhooks(db, user_id: str, delivered: bool):
    """Deliver (or fail for good) every pending webhook of `user_id`'s renders."""
    with db.session() as session:
        due = session.execute(select(RenderFinish.id).where(
            RenderFinish.owner_id == user_id,
            RenderFinish.webhook_state == DeliveryState.PENDING)).scalars().all()
    backoff = () if not delivered else (1.0,)
    for finish_id in due:
        with db.session() as session:
            attempt = webhooks.take_try(session, finish_id, lambda _k, _n: None, lease_s=60)
            if attempt is not None:
                webhooks.end_try(session, attempt, 204 if delivered else 500, None, backoff)


def test_running_totals_equal_the_full_count_after_every_kind_of_end(db, make_user, monkeypatch):
    monkeypatch.setattr(finishes, "_sender", None)
    user_id, _ = make_user()
    kept, counted = both(db)
    for number, end in enumerate(ENDS * 2):
        job_id = queued_job(db, user_id)
        with db.session() as session:
            values = {"created_at": utcnow() - timedelta(seconds=QUEUED_FOR[number % len(QUEUED_FOR)])}
            if number % 3 == 0:
                values["edit_data"] = {"callback_url": HOOK}
            session.execute(update(RenderJob).where(RenderJob.id == job_id).values(**values))
            session.commit()
            end(session, job_id)
    end_webhooks(db, user_id, delivered=True)
    kept_after, counted_after = both(db)
    ours = moved(counted_after, counted)
    assert {key[0] for key in ours} >= {"uploaded", "failed", "canceled", "delivered"}
    with db.session() as session:  # this test's renders; the session's worker may end others
        mine = session.scalar(select(func.count()).select_from(RenderFinish)
                              .where(RenderFinish.owner_id == user_id))
    assert mine == len(ENDS) * 2
    assert sum(n for (o, s, b), (n, _) in ours.items() if s == totals.RENDERS) >= mine
    assert len([key for key in ours if key[2] != totals.WHOLE]) > 6  # several buckets were hit
    assert_same(moved(kept_after, kept), ours)


def assert_same(kept: dict, counted: dict) -> None:
    assert kept.keys() == counted.keys()
    for key, (n, total) in counted.items():
        assert kept[key][0] == n, key
        assert kept[key][1] == pytest.approx(total, rel=1e-9, abs=1e-6), key


def test_a_webhook_that_fails_for_good_is_counted_once(db, make_user, monkeypatch):
    monkeypatch.setattr(finishes, "_sender", None)
    user_id = make_user()[0]
    job_id = queued_job(db, user_id)
    with db.session() as session:
        session.execute(update(RenderJob).where(RenderJob.id == job_id)
                        .values(edit_data={"callback_url": HOOK}))
        session.commit()
        jobs.request_cancel(session, job_id)
    kept, counted = both(db)
    end_webhooks(db, user_id, delivered=False)
    end_webhooks(db, user_id, delivered=False)  # nothing pending is left: nothing more is counted
    kept_after, counted_after = both(db)
    assert moved(counted_after, counted) == {("failed", totals.WEBHOOKS, ""): (1, 0.0)}
    assert_same(moved(kept_after, kept), moved(counted_after, counted))


def test_old_finishes_are_pruned_once_their_webhook_is_done_and_the_totals_stay(db, make_user,
                                                                               monkeypatch):
    monkeypatch.setattr(finishes, "_sender", None)
    user_id, _ = make_user()
    ended = {}
    for name, hook in (("no hook", False), ("delivered", True), ("pending", True), ("young", False)):
        job_id = queued_job(db, user_id)
        with db.session() as session:
            if hook:
                session.execute(update(RenderJob).where(RenderJob.id == job_id)
                                .values(edit_data={"callback_url": HOOK}))
                session.commit()
            jobs.request_cancel(session, job_id)
        ended[name] = job_id
    with db.session() as session:
        finish_id = session.execute(select(RenderFinish.id).where(
            RenderFinish.job_id == ended["delivered"])).scalar_one()
        attempt = webhooks.take_try(session, finish_id, lambda _k, _n: None, lease_s=60)
        webhooks.end_try(session, attempt, 200, None, (1.0,))
        old = [ended[name] for name in ("no hook", "delivered", "pending")]
        session.execute(update(RenderFinish).where(RenderFinish.job_id.in_(old))
                        .values(finished_at=utcnow() - timedelta(days=31)))
    kept = both(db)[0]
    with db.session() as session:
        while finishes.prune(session, 30, batch=2):  # a batch at a time, until none is left
            session.commit()
    with db.session() as session:
        left = set(session.execute(select(RenderFinish.job_id).where(
            RenderFinish.job_id.in_(ended.values()))).scalars())
    assert left == {ended["pending"], ended["young"]}
    after = both(db)[0]  # (the farm tests' workers may still end a webhook meanwhile)
    assert all(after[key][0] >= count for key, (count, _) in kept.items())


def waiting_on_a_lock(db, pid: int) -> bool:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                            {"pid": pid}).scalar_one() == "Lock"


def test_two_transactions_recording_several_finishes_never_deadlock(db):
    """The first records a render never claimed (no queued time), the second one that was
    claimed (its queued-time rows sort before the render counts), then the first another
    claimed one: without a row both take first, each would wait for the other's."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no row locks to take in turn")
    never_claimed = RenderFinish(state="failed")
    claimed = RenderFinish(state="failed", queued_seconds=4.0, wall_seconds=2.0)
    first, second = Session(db.engine), Session(db.engine)
    errors = []

    def record_second():
        try:
            totals.add_finish(second, claimed)
        except Exception as exc:  # the database's deadlock error
            errors.append(exc)

    try:
        totals.add_finish(first, never_claimed)
        pid = second.execute(text("SELECT pg_backend_pid()")).scalar_one()
        thread = threading.Thread(target=record_second)
        thread.start()
        wait_for(lambda: waiting_on_a_lock(db, pid), 30, "the second transaction waiting")
        totals.add_finish(first, claimed)
        first.rollback()  # nothing of this test stays
        thread.join(30)
        assert not thread.is_alive() and errors == []
    finally:
        second.rollback()
        first.close()
        second.close()


LEDGER = [  # (state, queued s, wall s, output s, bytes, webhook)
    ("uploaded", 2.0, 30.0, 10.0, 1000, "delivered"), ("uploaded", 700.0, 4.0, 8.0, 2000, None),
    ("failed", None, None, None, None, "failed"), ("canceled", 0.5, 1.0, None, None, "pending"),
]


def test_the_migration_fills_the_totals_from_the_ledger(database_url, tmp_path):
    """A farm upgraded to running totals starts from what its ledger already holds."""
    own = (postgres_database() if database_url.startswith("postgresql")
           else nullcontext(f"sqlite:///{tmp_path / 'upgrade.db'}"))
    with own as url:
        migrate(Settings(database_url=url))
        command.downgrade(alembic_config(url), "0008")  # before the totals
        db = Database(url)
        with db.engine.begin() as conn:
            for number, (state, queued, wall, output, size, hook) in enumerate(LEDGER):
                conn.execute(text(
                    "INSERT INTO render_finishes (id, job_id, owner_id, asset_id, state, finished_at,"
                    " queued_seconds, wall_seconds, output_seconds, bytes, webhook_state, tries)"
                    " VALUES (:id, :id, 'o', 'a', :state, :at, :queued, :wall, :output, :size, :hook, 0)"),
                    {"id": f"finish-{number}", "state": state, "at": utcnow(), "queued": queued,
                     "wall": wall, "output": output, "size": size, "hook": hook})
        command.upgrade(alembic_config(url), "head")
        with db.session() as session:
            kept, counted = totals.read(session), totals.count_all(session)
        db.dispose()
    assert kept == counted
    assert kept[("uploaded", totals.RENDERS, "")] == (2, 3000.0)
    assert kept[("delivered", totals.WEBHOOKS, "")] == (1, 0.0)
    assert kept[("uploaded", "queued_seconds", "2.5")] == (1, 2.0)
    assert kept[("uploaded", "seconds_per_output_second", "4")] == (1, 3.0)
    assert kept[totals.ANCHOR] == (4, 3000.0)
