"""How a render job moves: the WHERE of every move, built from `shared.states.JOB`, and the
asset that mirrors the job, written in the same transaction.

A job moves by one conditional UPDATE whose WHERE `may_go` builds from the table, so two
workers, a late worker whose lease was taken over, or several reapers can never both win.
The winner then calls `moved`, whoever it is (a worker, a piece, the reaper, a cancel, a
source's analysis): the asset shows the state, and a job that ended gets its finish recorded
(shared/finishes.py). `moved` is the one place a job ends. (A waiting job that is queued
needs no call: its asset showed queued all along.)
"""
from __future__ import annotations

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from . import finishes
from .models import Asset, RenderJob
from .states import FINISHED, JOB, JobState


def may_go(to: JobState, frm: JobState | frozenset[JobState] | None = None):
    """WHERE the job's state may move to `to` (from `frm` only, when given), per JOB."""
    return JOB.may_go(RenderJob.state, to, frm)


def unless_canceled(state: JobState):
    """`state`, or canceled for a job whose cancel was asked meanwhile (a requeue must
    never leave a job queued that no claim will take)."""
    return case((RenderJob.cancel_requested.is_(True), JobState.CANCELED.value), else_=state.value)


def state_of(session: Session, job_id: str) -> JobState:
    """The job's state as this transaction sees it (after a move `unless_canceled` chose)."""
    return JobState(session.execute(select(RenderJob.state).where(RenderJob.id == job_id)).scalar_one())


def at_least(column, value):
    """`column`, raised to `value` if lower: a figure that never goes back (the asset's
    progress, whose retry starts again from 0 beneath it; a piece's frames done)."""
    return case((column < value, value), else_=column)


def set_asset(session: Session, job_id: str, **values) -> None:
    """Write `values` on the job's asset."""
    asset_id = select(RenderJob.asset_id).where(RenderJob.id == job_id).scalar_subquery()
    session.execute(update(Asset).where(Asset.id == asset_id).values(**values))


def moved(session: Session, job_id: str, state: JobState, error: str | None = None,
          **values) -> None:
    """The job moved to `state` in this transaction: its asset shows the state (its error
    too, when failed; `values` besides), and a job that ended gets its finish recorded
    (shared/finishes.py) with it, whoever ended it: a worker, a reaper or a cancel."""
    set_asset(session, job_id, status=state,
              error=error if error and state == JobState.FAILED else None, **values)
    if state in FINISHED:
        finishes.record(session, job_id)
