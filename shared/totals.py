"""Running totals of the finished renders and of their webhooks' ends: what the metrics'
counters and histograms read, in a few rows however long the farm's history.

Each finish adds its increments in the transaction that records it (`shared.finishes.record`),
each webhook's last try in the one that ends it, so the totals are exact: they are the counts
a full scan of `render_finishes` gives (`count_all`, which `rebuild` writes back), and they
stay when old finishes are pruned. One upsert per finish, its rows in key order.
"""
from __future__ import annotations

from sqlalchemy import case, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import RenderFinish, RenderTotal
from .states import DeliveryState

# Seconds: from a second to six hours (the render's hard limit).
TIME_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)
# Render seconds per output second: below 1 is faster than real time.
SPEED_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16)

RENDERS = "renders"  # count, and total: output bytes
WEBHOOKS = "webhooks"  # outcome: the delivery state a webhook ended in; count
HISTOGRAMS = {"queued_seconds": TIME_BUCKETS, "wall_seconds": TIME_BUCKETS,
              "seconds_per_output_second": SPEED_BUCKETS}
WHOLE = ""  # the bucket of a series' count and total
# Every finish's first row: all outcomes together. A transaction that records finishes takes
# it before any other total and holds it to its commit, so two that record several (a
# reaper round, a worker's fail) can never wait for each other's rows in turn (a deadlock).
ANCHOR = ("all", RENDERS, WHOLE)
# The render cache's hits, misses and refusals (count: pieces, total: bytes served): kept by
# each plan and join (shared/render_cache.py), not in the ledger, so they are their own record.
CACHE = "render_cache"

Key = tuple[str, str, str]  # (outcome, series, bucket)
Totals = dict[Key, tuple[int, float]]  # → (count, total)


def bucket_of(value: float, bounds) -> str | None:
    """The label of the lowest bound at or above `value`; None above them all."""
    return next((str(bound) for bound in bounds if value <= bound), None)


def _speed(wall: float | None, output: float | None) -> float | None:
    return wall / output if wall is not None and output is not None and output > 0 else None


def increments(finish: RenderFinish) -> Totals:
    out: Totals = {(finish.state, RENDERS, WHOLE): (1, finish.bytes or 0)}
    values = {"queued_seconds": finish.queued_seconds, "wall_seconds": finish.wall_seconds,
              "seconds_per_output_second": _speed(finish.wall_seconds, finish.output_seconds)}
    for series, value in values.items():
        if value is None:
            continue
        out[(finish.state, series, WHOLE)] = (1, value)
        bucket = bucket_of(value, HISTOGRAMS[series])
        if bucket is not None:
            out[(finish.state, series, bucket)] = (1, value)
    return out


def add(session: Session, deltas: Totals) -> None:
    """Add `deltas` to the totals, in this transaction."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(RenderTotal).values([
        {"outcome": o, "series": s, "bucket": b, "count": n, "total": t}
        for (o, s, b), (n, t) in sorted(deltas.items())])
    session.execute(statement.on_conflict_do_update(
        index_elements=[RenderTotal.outcome, RenderTotal.series, RenderTotal.bucket],
        set_={"count": RenderTotal.count + statement.excluded.count,
              "total": RenderTotal.total + statement.excluded.total}))


def add_finish(session: Session, finish: RenderFinish) -> None:
    add(session, {ANCHOR: (1, finish.bytes or 0)})
    add(session, increments(finish))


def add_webhook_end(session: Session, state: str) -> None:
    """A webhook ended (delivered, or failed after its last try)."""
    add(session, {(state, WEBHOOKS, WHOLE): (1, 0.0)})


def read(session: Session) -> Totals:
    return {(o, s, b): (n, t) for o, s, b, n, t in session.execute(
        select(RenderTotal.outcome, RenderTotal.series, RenderTotal.bucket,
               RenderTotal.count, RenderTotal.total))}


def count_all(session: Session) -> Totals:
    """The totals counted from the whole ledger (the check of the running ones, and their
    first value when the table is made)."""
    F = RenderFinish
    out: Totals = {}
    for state, count, size in session.execute(
            select(F.state, func.count(), func.coalesce(func.sum(F.bytes), 0)).group_by(F.state)):
        out[(state, RENDERS, WHOLE)] = (count, float(size))
        n, t = out.get(ANCHOR, (0, 0.0))
        out[ANCHOR] = (n + count, t + float(size))
    ended = (DeliveryState.DELIVERED, DeliveryState.FAILED)
    for state, count in session.execute(
            select(F.webhook_state, func.count()).where(F.webhook_state.in_(ended))
            .group_by(F.webhook_state)):
        out[(state, WEBHOOKS, WHOLE)] = (count, 0.0)
    speed = case((F.output_seconds > 0, F.wall_seconds / F.output_seconds))
    for series, value in (("queued_seconds", F.queued_seconds), ("wall_seconds", F.wall_seconds),
                          ("seconds_per_output_second", speed)):
        bounds = HISTOGRAMS[series]
        bucket = case(*((value <= bound, literal(str(bound))) for bound in bounds), else_=literal(WHOLE))
        for state, label, count, total in session.execute(
                select(F.state, bucket, func.count(), func.sum(value))
                .where(value.is_not(None)).group_by(F.state, bucket)):
            n, t = out.get((state, series, WHOLE), (0, 0.0))
            out[(state, series, WHOLE)] = (n + count, t + float(total))
            if label != WHOLE:
                out[(state, series, label)] = (count, float(total))
    for outcome, series, bucket, count, total in session.execute(
            select(RenderTotal.outcome, RenderTotal.series, RenderTotal.bucket,
                   RenderTotal.count, RenderTotal.total).where(RenderTotal.series == CACHE)):
        out[(outcome, series, bucket)] = (count, total)
    return out


def rebuild(session: Session) -> None:
    """Write the totals counted from the ledger (a new table; a database filled in bulk)."""
    session.execute(delete(RenderTotal))
    counted = count_all(session)
    if counted:
        add(session, counted)
