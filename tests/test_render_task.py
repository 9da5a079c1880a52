"""The render task's upload and its lease under faults injected into their calls."""
from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from shared import jobs, leases
from shared.config import Settings
from shared.states import Beat, JobState
from worker import context
from worker.lease import Lease
from worker import attempt as task


class OutOfTime:
    """A store whose upload is interrupted by Celery's soft time limit."""

    def __init__(self):
        self.calls = 0

    def put_file(self, *_args, **_kwargs):
        self.calls += 1
        raise SoftTimeLimitExceeded()


def test_the_soft_time_limit_is_not_retried_as_a_storage_error(monkeypatch, tmp_path):
    store = OutOfTime()
    monkeypatch.setattr(context, "storage", lambda: store)
    with pytest.raises(SoftTimeLimitExceeded):
        task.upload("a/b/out.mp4", str(tmp_path / "out.mp4"), "mp4")
    assert store.calls == 1


def test_a_kept_lease_outlives_a_failed_renewal(monkeypatch):
    """One heartbeat write fails (a database blip): the next rounds still renew the lease."""
    renewed, third = [], threading.Event()

    def heartbeat(_session, _claim, _lease, _progress, state):
        renewed.append(state)
        if len(renewed) == 1:
            raise ConnectionError("the database went away for a moment")
        if len(renewed) == 3:
            third.set()
        return Beat.OK

    class NoDatabase:
        def session(self):
            return _Nothing()

    monkeypatch.setattr(jobs, "heartbeat", heartbeat)
    monkeypatch.setattr(context, "db", lambda: NoDatabase())
    monkeypatch.setattr(context, "settings", lambda: replace(Settings(), lease_seconds=2))
    lease = Lease(leases.Claim("job", 1))
    lease.uploading()
    with lease.kept():
        assert third.wait(10), f"renewals after a failed one: {renewed}"
    assert renewed[:3] == [JobState.UPLOADING] * 3 and lease.answer == Beat.OK


class _Nothing:
    def __enter__(self):
        return None

    def __exit__(self, *_exc):
        return False
