"""Workers take turns at reaping (worker/reaper.py): two worker processes never run a round
at the same time, nor sooner than an interval after the last one ended, never reap one job
twice, and reaping goes on when the worker holding the turn dies in its round."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace

import pytest

from shared import jobs
from shared.cli import create_user, migrate
from shared.db import Database
from shared.models import RenderJob
from shared.states import JobState
from tests.fixtures.database import postgres_database
from tests.fixtures.livesrv import RedisServer, settings_env, wait_for
from tests.fixtures.jobs import queued_job
from worker.reaper import ForkGuard

INTERVAL = 1  # seconds between a worker's rounds: the farm's turns are as far apart


@contextmanager
def own_database(kind_of: str, folder):
    """A database of its own: the session's has other tests' workers and reapers."""
    if kind_of.startswith("postgresql"):
        with postgres_database() as url:
            yield url
        return
    url = f"sqlite:///{folder / 'turns.db'}"
    migrate(replace_url(url))
    yield url


def replace_url(url):
    from shared.config import Settings

    return Settings(database_url=url)


@pytest.fixture
def farm_state(settings, tmp_path):
    """(settings, db): a database and a Redis of this test's own."""
    redis = RedisServer(tmp_path)
    redis.start()
    with own_database(settings.database_url, tmp_path) as url:
        database = Database(url)
        yield replace(settings, database_url=url, redis_url=redis.url,
                      reap_interval_seconds=INTERVAL), database
        database.dispose()
    redis.stop()


def expired_jobs(db, user_id: str, count: int) -> list[str]:
    """Jobs claimed by a worker that is gone: their lease ran out a minute ago."""
    ids = [queued_job(db, user_id) for _ in range(count)]
    with db.session() as session:
        for job_id in ids:
            assert jobs.claim(session, job_id, "gone:1", -60) is not None
    return ids


def states(db, ids) -> set[str]:
    with db.session() as session:
        return {session.get(RenderJob, job_id).state for job_id in ids}


def rounds(log_path) -> list[dict]:
    if not log_path.exists():
        return []
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]


def logged_requeues(log_path) -> set[str]:
    return {job_id for r in rounds(log_path) for job_id in r.get("requeued", ())}


def test_two_workers_take_turns_and_go_on_when_the_holder_dies(farm_state, tmp_path):
    settings, db = farm_state
    user_id = create_user(db, "turns@example.com")[0].id
    first = expired_jobs(db, user_id, 6)
    log_path, trigger = tmp_path / "rounds.jsonl", tmp_path / "stall"
    env = settings_env(settings)
    children = [subprocess.Popen([sys.executable, "-m", "tests.fixtures.reaper_child",
                                  str(log_path), str(trigger)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"child{i}.log", "w"))
                for i in range(2)]
    try:
        wait_for(lambda: set(first) <= logged_requeues(log_path), 60, "the first jobs requeued")
        wait_for(lambda: len(rounds(log_path)) >= 4, 60, "four rounds")
        trigger.touch()  # the next round's worker hangs in it, holding the turn
        stalled = wait_for(lambda: next((r for r in rounds(log_path) if "stalled" in r), None),
                           60, "a round that hangs")
        os.kill(stalled["pid"], signal.SIGKILL)
        second = expired_jobs(db, user_id, 4)
        wait_for(lambda: set(second) <= logged_requeues(log_path), 60, "reaping after the holder died")
    finally:
        for child in children:
            child.kill()
            child.wait()
    done = sorted((r for r in rounds(log_path) if "start" in r), key=lambda r: r["start"])
    for before, after in zip(done, done[1:]):  # one at a time, an interval apart
        assert after["start"] >= before["end"] + INTERVAL - 0.05, (before, after)
    later = [r for r in done if r["start"] > stalled["stalled"]]
    assert later and {r["pid"] for r in later} == {c.pid for c in children} - {stalled["pid"]}
    # the dead worker's turn was held past the spacing of one interval: for its hold (three)
    assert later[0]["start"] >= stalled["stalled"] + 2 * INTERVAL
    assert states(db, first + second) == {JobState.QUEUED}
    requeued = Counter(job_id for r in done for job_id in r["requeued"])
    assert {job_id: requeued[job_id] for job_id in first + second} == dict.fromkeys(first + second, 1)


def test_the_parent_forks_only_between_the_reapers_steps():
    """A fork copies the locks other threads hold (a module being imported): a pool process
    forked mid-step could wait on one for ever, so the fork waits for the step to end."""
    guard = ForkGuard()
    guard.register()
    stepping, ended = threading.Event(), []

    def step():
        with guard.lock:
            stepping.set()
            threading.Event().wait(0.3)  # a step under way: a lock held, as an import holds it
            ended.append(True)

    thread = threading.Thread(target=step)
    thread.start()
    stepping.wait(10)
    pid = os.fork()
    if pid == 0:  # the child: the guard is free here too
        os._exit(0 if guard.lock.acquire(timeout=5) else 1)
    assert ended == [True]  # the fork came once the step ended
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    thread.join(10)
    assert guard.lock.acquire(blocking=False)
