"""Holds for tests: an attempt waits at a named point while a test keeps the point armed.

A test that breaks a render mid-way (cancel, kill -9, a store taken down) needs the render
to be under way when the fault lands, whatever the machine's speed. With `hold_dir` set
(CANOPY_HOLD_DIR; unset in production, where `wait` returns at once), a point is armed
while the file `<hold_dir>/<point>` exists:

    render  at the first progress report at or past frame N of the attempt's render loop
            (a whole render's frames, or a video piece's), N being the file's text (0:
            the first report). The engine reports the first frame, every 0.25 s, the last.
    join    a join's attempt, once it has fetched the pieces and before it joins them.

A held attempt writes `<hold_dir>/held/<point>-<job>-<piece>-<attempt>.json` (its job,
piece, attempt, process id and frames done), then waits until the point is disarmed (the
file removed) or its lease says stop: it asks `Lease.stopped()` as the render loop does, so
its lease is kept and a cancel or a lost lease is heard as quickly as mid-render. It then
removes its marker and goes on; the render loop's next cancel check stops it. A process
killed while held is killed mid-render (its marker stays). `arm`, `disarm` and `held` are
the test's side of the files.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

RENDER, JOIN = "render", "join"
HELD = "held"  # the folder of the markers, under hold_dir
POLL_SECONDS = 0.02  # between two looks at the point's file (the lease beats at its own pace)


def wait(lease, point: str, frames: int = 0) -> None:
    """Hold the attempt of `lease` at `point` (`frames` done so far) while it is armed."""
    folder = lease.settings.hold_dir
    if not folder:
        return
    armed = Path(folder) / point
    at = _armed_at(armed)
    if at is None or frames < at:
        return
    claim = lease.claim
    piece = getattr(claim, "index", None)
    marker = Path(folder) / HELD / f"{point}-{claim.job_id}-{piece}-{claim.attempt}.json"
    _write(marker, {"point": point, "job": claim.job_id, "piece": piece,
                    "attempt": claim.attempt, "pid": os.getpid(), "frames": frames})
    try:
        while armed.exists() and not lease.stopped():
            time.sleep(POLL_SECONDS)
    finally:
        marker.unlink(missing_ok=True)


def arm(folder: str | Path, point: str, frames: int = 0) -> None:
    """Hold attempts at `point` (a render's: at its first progress report at or past
    `frames`) until `disarm`."""
    _write(Path(folder) / point, str(frames))


def disarm(folder: str | Path, point: str) -> None:
    """Let the attempts held at `point` go on, and hold no more there."""
    (Path(folder) / point).unlink(missing_ok=True)


def held(folder: str | Path, point: str) -> list[dict]:
    """The attempts held at `point` now (and those killed while held there)."""
    found = []
    for path in sorted((Path(folder) / HELD).glob(f"{point}-*.json")):
        try:
            found.append(json.loads(path.read_text()))
        except (FileNotFoundError, ValueError):  # went on meanwhile
            continue
    return found


def _armed_at(path: Path) -> int | None:
    try:
        return int(path.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return None


def _write(path: Path, data) -> None:
    """Written whole or not at all: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(data if isinstance(data, str) else json.dumps(data))
    os.replace(partial, path)
