"""Who holds a render job or a piece, and until when: the claim, its lease, the attempts allowed.

A claim is an attempt number: every write of an attempt names it, so an attempt whose lease
ran out and was taken over writes nothing more. A lease is a time by the database's clock
(`lease_clock`), renewed by the holder's heartbeat (worker/lease.py) and judged by the reaper.
A job or a piece gets MAX_ATTEMPTS attempts; the last one's failure, or its lease running
out, fails it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import func
from sqlalchemy.orm import Session

from .models import utcnow
from .states import JobState, PieceState

S = TypeVar("S", JobState, PieceState)

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Claim:
    """A job's attempt, as its worker holds it."""

    job_id: str
    attempt: int


def lease_clock(session: Session):
    """Now, by the database's clock where it has one, for writing and checking leases.

    Workers and reapers on other machines may disagree about the time: a lease written by
    one clock and judged by another would expire early (healthy renders requeued) or late.
    A SQLite file is only ever shared by the processes of one machine: its clock is ours.
    """
    if session.get_bind().dialect.name == "postgresql":
        return func.timezone("UTC", func.now())  # naive UTC, as the columns hold
    return utcnow()


def lease_until(session: Session, lease_s: float):
    """A lease that runs `lease_s` seconds from now, by `lease_clock`."""
    return lease_clock(session) + timedelta(seconds=lease_s)


def after_failure(states: type[S], attempt: int, retry: bool = True) -> S:
    """Where a job or a piece (`states`: JobState or PieceState) goes when its attempt
    `attempt` fails: queued again when `retry` and attempts remain, else failed."""
    return states.QUEUED if retry and attempt < MAX_ATTEMPTS else states.FAILED


def lease_ran_out(states: type[S], state: str, attempt: int) -> tuple[S, str]:
    """An attempt whose lease ran out, taken back by the reaper: where it goes
    (`after_failure`) and the error it records."""
    return (after_failure(states, attempt),
            f"worker stopped renewing its lease ({state}, attempt {attempt})")
