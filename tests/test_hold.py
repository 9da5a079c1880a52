"""worker/hold.py, a test's hold: an attempt stays at its point while the point is armed,
asks its lease as the render loop does (a stop ends the hold), and without the setting is
nothing. The fault tests (tests/farm/) hold real renders with it."""
from __future__ import annotations

import os
import threading

from shared.config import Settings
from shared.piece_jobs import PieceClaim
from tests.fixtures.livesrv import wait_for
from worker import hold


class AskedLease:
    """What the hold uses of a lease: its settings, its claim, and `stopped()`."""

    def __init__(self, hold_dir: str):
        self.settings = Settings(hold_dir=hold_dir)
        self.claim = PieceClaim("job-1", 3, 2)
        self.asked = 0
        self.stop = threading.Event()

    def stopped(self) -> bool:
        self.asked += 1
        return self.stop.is_set()


def held_in_a_thread(lease: AskedLease, frames: int) -> threading.Thread:
    thread = threading.Thread(target=hold.wait, args=(lease, hold.RENDER, frames), daemon=True)
    thread.start()
    return thread


def test_without_the_setting_nothing_holds(tmp_path):
    hold.arm(tmp_path, hold.RENDER)
    lease = AskedLease("")
    hold.wait(lease, hold.RENDER, 5)  # returns at once
    assert lease.asked == 0 and hold.held(tmp_path, hold.RENDER) == []


def test_held_from_its_frame_until_disarmed(tmp_path):
    lease = AskedLease(str(tmp_path))
    hold.wait(lease, hold.RENDER, 5)  # not armed
    hold.arm(tmp_path, hold.RENDER, frames=10)
    hold.wait(lease, hold.RENDER, 9)  # armed, not there yet
    hold.wait(lease, hold.JOIN)  # another point
    assert lease.asked == 0

    thread = held_in_a_thread(lease, 12)
    [marker] = wait_for(lambda: hold.held(tmp_path, hold.RENDER), 10, "the hold")
    assert marker == {"point": "render", "job": "job-1", "piece": 3, "attempt": 2,
                      "pid": os.getpid(), "frames": 12}
    wait_for(lambda: lease.asked >= 2, 10, "the lease asked again and again")
    assert thread.is_alive()
    hold.disarm(tmp_path, hold.RENDER)
    thread.join(10)
    assert not thread.is_alive() and hold.held(tmp_path, hold.RENDER) == []


def test_a_stop_heard_through_the_lease_ends_the_hold(tmp_path):
    hold.arm(tmp_path, hold.RENDER)
    lease = AskedLease(str(tmp_path))
    thread = held_in_a_thread(lease, 1)
    wait_for(lambda: hold.held(tmp_path, hold.RENDER), 10, "the hold")
    lease.stop.set()  # a cancel, a lost lease: what the render loop's next check stops on
    thread.join(10)
    assert not thread.is_alive() and hold.held(tmp_path, hold.RENDER) == []
    assert (tmp_path / hold.RENDER).exists()  # still armed: the stop ended it
