"""A render attempt's lease: renewed while the attempt works; its answer says whether to go on.

One mechanism: `Lease.beat()` writes one short heartbeat (lease, progress) at most once per
`heartbeat_seconds`, however often it is called, and keeps the database's answer (a `Beat`).
The render loop drives it through its progress and cancel callbacks; during a long call that
cannot call back (fetching sources, uploading), `kept()` drives it from a thread. A render
that stops calling back stops renewing, so the reaper can take a hung attempt's job back.
A piece's attempt holds a `PieceLease`: the piece's row renewed, its frames done recorded.
A test may hold an attempt at its progress callback (worker/hold.py); the hold asks
`stopped()` as the render loop does.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from shared import jobs, leases, piece_jobs
from shared.states import Beat, JobState

from . import context, hold

log = logging.getLogger(__name__)


class Lease:
    def __init__(self, claim: leases.Claim):
        self.claim = claim
        self.settings = context.settings()
        self.phase = JobState.RENDERING  # the state the job holds while this lease is good
        self.answer = Beat.OK  # the last heartbeat's
        self.fraction = 0.0
        self._last = time.monotonic()  # the claim itself wrote the first lease
        self._writing = threading.Lock()

    def progress(self, done: int, total: int) -> None:
        """The render's progress callback; also where a test may hold the render
        (worker/hold.py; never without the `hold_dir` setting)."""
        self.record(done, total)
        self.beat()
        hold.wait(self, hold.RENDER, done)

    def record(self, done: int, total: int) -> None:
        """What the next heartbeat writes of the progress."""
        self.fraction = done / max(total, 1)

    def stopped(self) -> bool:
        """The render's cancel callback: stop once a cancel or a lost lease was heard."""
        self.beat()
        return self.answer != Beat.OK

    def uploading(self) -> None:
        """The job moved to uploading (jobs.start_upload): renew it in that state."""
        self.phase, self.fraction = JobState.UPLOADING, 1.0

    def beat(self, force: bool = False) -> None:
        with self._writing:  # the thread of kept() and the caller never both write
            now = time.monotonic()
            if now - self._last < self.settings.heartbeat_seconds and not force:
                return
            self._last = now
            try:
                with context.db().session() as session:
                    self.answer = self.renew(session)
            except Exception:  # a database blip: the next beat renews the lease
                log.warning("lease renewal of %s failed", self.claim.job_id, exc_info=True)

    def renew(self, session) -> Beat:
        """One heartbeat write: the lease renewed, the progress recorded; the answer."""
        return jobs.heartbeat(session, self.claim, self.settings.lease_seconds, self.fraction,
                              state=self.phase)

    @contextmanager
    def kept(self) -> Iterator["Lease"]:
        """Beat from a thread while the body runs one long call."""
        done = threading.Event()

        def keep() -> None:
            while not done.wait(self.settings.heartbeat_seconds):
                self.beat()

        thread = threading.Thread(target=keep, name=f"lease-{self.claim}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            done.set()
            thread.join()


class PieceLease(Lease):
    """A piece's lease: renews the piece's row and records its frames done."""

    def __init__(self, claim: piece_jobs.PieceClaim):
        super().__init__(claim)  # type: ignore[arg-type]
        self.frames = 0

    def record(self, done: int, total: int) -> None:
        self.frames = done

    def renew(self, session) -> Beat:
        return piece_jobs.heartbeat(session, self.claim, self.settings.lease_seconds, self.frames,
                                state=self.phase)
