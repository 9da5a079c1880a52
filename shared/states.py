"""The states things live through, as types, and the one table of moves each may make.

A life is a `StrEnum` of states plus a `Lifecycle`: the table of allowed transitions. Every
compare-and-set that moves a row's state builds its WHERE from the table (`Lifecycle.may_go`),
so no update can move a row along an edge the table lacks, and the table is the whole
diagram. (A heartbeat moves no state: it renews the lease only while the row is still in
the state its attempt holds.) Render jobs live by `JOB`, the pieces of a render in pieces by
`PIECE`, uploaded files by `MEDIA` (their moves in Python check it with `Lifecycle.move`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


class Lifecycle(Generic[S]):
    """Allowed transitions {from: {to, ...}}; a state with no entry is final."""

    def __init__(self, transitions: Mapping[S, Iterable[S]]):
        self.transitions = {state: frozenset(to) for state, to in transitions.items()}

    def allows(self, state: S, to: S) -> bool:
        return to in self.transitions.get(state, ())

    def sources(self, to: S) -> frozenset[S]:
        """The states from which `to` may be reached."""
        return frozenset(s for s, targets in self.transitions.items() if to in targets)

    def move(self, state: S, to: S) -> S:
        """`to`, once the table allows `state` → `to` (a row moved in Python, not by a
        compare-and-set); any other move is a programming error, raised at once."""
        if not self.allows(state, to):
            raise ValueError(f"no transition {state} → {to}")
        return to

    def may_go(self, column, to: S, frm: S | Iterable[S] | None = None):
        """WHERE `column` holds a state that may go to `to` — only those of `frm` when given.

        Asking for a move the table does not allow is a programming error, raised at once.
        """
        allowed = self.sources(to)
        if frm is not None:
            wanted = frozenset((frm,) if isinstance(frm, str) else frm)
            if not wanted <= allowed:
                raise ValueError(f"no transition {sorted(wanted - allowed)} → {to}")
            allowed = wanted
        return column.in_(sorted(allowed))


class JobState(StrEnum):
    """A render job's state; its output asset's `status` mirrors it."""

    WAITING = "waiting"  # accepted while a source is still being analysed; its asset shows queued
    QUEUED = "queued"  # waiting for a worker
    RENDERING = "rendering"  # claimed: a worker holds its lease
    UPLOADING = "uploading"  # rendered; the worker stores the file, still under its lease
    UPLOADED = "uploaded"
    FAILED = "failed"  # with a reason
    CANCELED = "canceled"


PENDING = frozenset({JobState.WAITING, JobState.QUEUED})  # no attempt runs: a cancel ends it now
ACTIVE = frozenset({JobState.RENDERING, JobState.UPLOADING})  # an attempt holds the lease
FINISHED = frozenset({JobState.UPLOADED, JobState.FAILED, JobState.CANCELED})

JOB = Lifecycle({
    # every source analysed; a source failed its analysis or was deleted; canceled
    JobState.WAITING: {JobState.QUEUED, JobState.FAILED, JobState.CANCELED},
    # claimed; canceled before it ran; no worker took it in time
    JobState.QUEUED: {JobState.RENDERING, JobState.CANCELED, JobState.FAILED},
    # an attempt ends: stored next, requeued (retry or lost lease), failed, canceled
    JobState.RENDERING: {JobState.UPLOADING, JobState.QUEUED, JobState.FAILED, JobState.CANCELED},
    JobState.UPLOADING: {JobState.UPLOADED, JobState.QUEUED, JobState.FAILED, JobState.CANCELED},
})


class PieceState(StrEnum):
    """A piece of a render in pieces (shared/piece_jobs.py): a job of its own, while its
    render job waits on its pieces."""

    QUEUED = "queued"  # waiting for a worker
    RENDERING = "rendering"  # claimed: a worker holds its lease
    UPLOADING = "uploading"  # rendered; the worker stores it, still under its lease
    UPLOADED = "uploaded"  # stored: waits for the join
    FAILED = "failed"  # with a reason; its job fails with it
    CANCELED = "canceled"  # its worker stopped on its job's cancel


PIECE_ACTIVE = frozenset({PieceState.RENDERING, PieceState.UPLOADING})  # a worker holds its lease

PIECE = Lifecycle({
    # claimed (a piece of a job that renders and has no cancel asked)
    PieceState.QUEUED: {PieceState.RENDERING},
    # an attempt ends: stored next, requeued (retry or lost lease), failed, stopped on a cancel
    PieceState.RENDERING: {PieceState.UPLOADING, PieceState.QUEUED, PieceState.FAILED,
                           PieceState.CANCELED},
    PieceState.UPLOADING: {PieceState.UPLOADED, PieceState.QUEUED, PieceState.FAILED,
                           PieceState.CANCELED},
    # a piece a render-cache entry served, which its join refused: rendered anew
    PieceState.UPLOADED: {PieceState.QUEUED},
})


class Beat(StrEnum):
    """What a heartbeat tells the attempt that holds the lease."""

    OK = "ok"  # go on
    CANCELED = "canceled"  # a cancel was asked: stop, then mark the job canceled
    LOST = "lost"  # another attempt owns the job now (this one's lease ran out)
    DELETED = "deleted"  # the job was deleted (its asset or project was): stop, tidy nothing


class MediaState(StrEnum):
    """An uploaded file's status (video files and uploaded assets)."""

    WAITING = "queued"  # no bytes yet
    PROCESSING = "processing"  # bytes arriving, being fetched, or being probed
    ANALYZED = "analyzed"  # probed: renders may use it
    FAILED = "failed"  # with a reason


MEDIA = Lifecycle({
    # bytes arrive (an upload, a `direct` link's analysis) or a URL is fetched
    MediaState.WAITING: {MediaState.PROCESSING},
    # the probe (or the fetch) ends; an upload refused gives the row its former state back
    MediaState.PROCESSING: {MediaState.ANALYZED, MediaState.FAILED, MediaState.WAITING},
    # a new upload, or the analysis asked again
    MediaState.ANALYZED: {MediaState.PROCESSING},
    MediaState.FAILED: {MediaState.PROCESSING},
})


class Readiness(StrEnum):
    """What a render may expect of a source in a given state."""

    READY = "ready"  # a render may use it now
    PENDING = "pending"  # under way: it ends ready or unusable by itself; a render may wait
    UNUSABLE = "unusable"  # nothing under way can make it ready: a render naming it fails


# A source's readiness in each state it can be in: an uploaded file's (MediaState), and a
# render's output used as a source (JobState, which its asset mirrors). Total over both
# enums (tests/test_states.py checks it), so no state leaves a waiting render waiting for
# nothing: a render waits only for a source that is PENDING, and every PENDING state is
# one that moves on by itself (an analysis or a render runs, and each ends).
MEDIA_READINESS: dict[MediaState, Readiness] = {
    MediaState.WAITING: Readiness.UNUSABLE,  # no bytes, and none on the way
    MediaState.PROCESSING: Readiness.PENDING,
    MediaState.ANALYZED: Readiness.READY,
    MediaState.FAILED: Readiness.UNUSABLE,
}
RENDER_READINESS: dict[JobState, Readiness] = {
    **{state: Readiness.PENDING for state in PENDING | ACTIVE},
    JobState.UPLOADED: Readiness.READY,
    JobState.FAILED: Readiness.UNUSABLE,
    JobState.CANCELED: Readiness.UNUSABLE,
}


MEDIA_FINISHED = frozenset({MediaState.ANALYZED, MediaState.FAILED})  # the probe has spoken
# An asset's status is a render's (JobState) or an uploaded file's (MediaState); in these it
# moves no more by itself (the asset JSON's `finished`, the end of its events stream).
ASSET_FINISHED = frozenset({*FINISHED, *MEDIA_FINISHED})


class DeliveryState(StrEnum):
    """A finished render's webhook: tries until one gets a 2xx, or the backoff runs out."""

    PENDING = "pending"  # a try is due, or in flight
    DELIVERED = "delivered"
    FAILED = "failed"  # every try failed; the render's own state is unaffected
