"""`canopy render`: upload what the server lacks, submit the edit, follow it, download."""
from __future__ import annotations

import copy
import os
import queue
import select
import signal
import sys
import threading
from pathlib import Path

from .client import ApiError, Client, printable

PROJECT_NAME = "canopy-cli"


class RenderFailed(Exception):
    def __init__(self, reason: str, asset: str):
        super().__init__(reason)
        self.asset = asset


class Interrupted(RenderFailed):
    """Ctrl-C: the render was canceled, or left running."""


def render(client: Client, edit: dict, sources: dict[str, Path], output: Path, *,
           project_id: str | None, show_progress: bool, as_json: bool) -> dict:
    say = (lambda _msg: None) if as_json else (lambda msg: print(msg, file=sys.stderr))
    ids = {}
    for source_id, path in sources.items():
        say(f"source {source_id}: {path}")
        ids[source_id] = client.find_or_upload(path)
    project = project_id or find_project(client)
    started = client.call("POST", f"/projects/{project}/create-edit", json=with_sources(edit, ids))
    asset_id = started.get("asset_id")
    if not asset_id:
        raise ApiError("the edit was stored but not rendered (skip_rendering)")
    say(printable(f"rendering asset {asset_id}"))
    final, asked = follow(client, asset_id, show_progress)
    if final["status"] == "canceled" and asked:
        raise Interrupted(f"render {asset_id} canceled", asset_id)
    if final["status"] != "uploaded":
        reason = final.get("error") or final["status"]
        raise RenderFailed(f"render {final['status']}: {reason}", asset_id)
    asset = client.call("GET", f"/assets/{asset_id}")
    size = client.download(asset["download_url"], output)
    return {"asset_id": asset_id, "edit_id": started["edit_id"], "status": "uploaded",
            "output": str(output), "size": size, "sources": ids}


def with_sources(edit: dict, ids: dict[str, str]) -> dict:
    """The edit with each local source id replaced by its video file's id on the server."""
    edit = copy.deepcopy(edit)
    for clip in edit.get("video_series_sequential") or []:
        if isinstance(clip, dict) and clip.get("video_id") in ids:
            clip["video_id"], clip["type"] = ids[clip["video_id"]], "videofile"
    for overlay in edit.get("audio_overlay") or []:
        if isinstance(overlay, dict) and overlay.get("audio_id") in ids:
            overlay["audio_id"] = ids[overlay["audio_id"]]
    return edit


def find_project(client: Client) -> str:
    """The newest project named PROJECT_NAME, made if there is none."""
    for project in client.projects():
        if project["name"] == PROJECT_NAME:
            return project["id"]
    return client.call("POST", "/projects", json={
        "name": PROJECT_NAME, "description": "renders started by the canopy command"})["id"]


# The longest the follow loop waits before it looks for a Ctrl-C. A signal that lands just
# before a blocking read, or on another thread, reaches Python's handler only when the main
# thread next runs: a read of a quiet stream would hold it until the server's keep-alive.
TICK = 0.1


def follow(client: Client, asset_id: str, show_progress: bool) -> tuple[dict, bool]:
    """The asset's last state, following its events, and whether the user canceled it
    (Ctrl-C asks)."""
    bar = ProgressBar(show_progress)
    state, canceled = None, False
    with CtrlC() as ctrl_c, Events(client, asset_id) as events:
        try:
            while True:
                if ctrl_c.take() and not canceled:
                    bar.pause()
                    if ask_cancel(asset_id, ctrl_c):
                        client.call("POST", f"/assets/{asset_id}/cancel")
                        canceled = True
                        print(f"canceling {asset_id}…", file=sys.stderr)
                event = events.next(TICK)
                if event is Events.EMPTY:
                    continue
                if event is Events.END:
                    return state or client.call("GET", f"/assets/{asset_id}/status"), canceled
                if event.event == "deleted":
                    raise RenderFailed("the render was deleted", asset_id)
                state = event.json()
                bar.show(state)
        finally:
            bar.close()


class Events:
    """An asset's events, read by a thread of their own (with a client of its own) so that
    the follow loop can wait for them a tick at a time. The thread ends with the stream
    (the render's end), or within a tick of the follow's end, closing the stream. At most
    BACKLOG events wait to be taken: past that the reader stops reading (a server that
    floods the stream while the question waits for its answer costs no memory)."""

    EMPTY, END = object(), object()
    BACKLOG = 64

    def __init__(self, client: Client, asset_id: str):
        self.queue: queue.Queue = queue.Queue(maxsize=self.BACKLOG)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(client.twin(), asset_id),
                                       daemon=True, name=f"events {asset_id}")

    def __enter__(self) -> "Events":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopped.set()

    def _read(self, client: Client, asset_id: str) -> None:
        end = self.END
        try:
            for event in client.events(asset_id):
                if not self._put(event):
                    break  # closes the stream
        except BaseException as exc:  # raised again where the events are taken
            end = exc
        finally:
            client.close()
            self._put(end)

    def _put(self, item) -> bool:
        """Queue `item` once there is room; False when the follow ended first."""
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=TICK)
                return True
            except queue.Full:
                continue
        return False

    def next(self, timeout: float):
        """The next event, END after the last, or EMPTY when none came within `timeout`."""
        try:
            item = self.queue.get(timeout=timeout)
        except queue.Empty:
            return self.EMPTY
        if isinstance(item, BaseException):
            raise item
        return item


class CtrlC:
    """Ctrl-C while a render is followed. The handler only counts it, so nothing is cut off
    halfway; each is kept until the follow loop takes it, a tick later at most.
    Where SIGINT is ignored, it stays ignored."""

    def __init__(self):
        # One entry for each Ctrl-C not taken yet; a list, as its append and pop are each one
        # step that the handler (which runs between two of the main thread's) cannot split.
        self.heard: list[int] = []
        self.previous = None

    def __enter__(self) -> "CtrlC":
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self.previous = signal.signal(signal.SIGINT, self._heard)
        return self

    def __exit__(self, *_exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _heard(self, signum, _frame) -> None:
        self.heard.append(signum)

    def take(self) -> bool:
        """Whether a Ctrl-C came that was not taken yet (each is taken once)."""
        try:
            self.heard.pop()
        except IndexError:
            return False
        return True

    def clear(self) -> None:
        self.heard.clear()


def ask_cancel(asset_id: str, ctrl_c: CtrlC) -> bool:
    """True to cancel; without a terminal to ask on, the render is left running."""
    if not sys.stdin.isatty():
        raise Interrupted(f"interrupted; render {asset_id} goes on "
                          f"(`canopy cancel {asset_id}` stops it)", asset_id)
    print(f"\nCancel render {asset_id}? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = typed_line(ctrl_c)
    ctrl_c.clear()  # those that came with the answer are answered
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("still rendering", file=sys.stderr)
    return False


def typed_line(ctrl_c: CtrlC) -> str:
    """The line typed on the terminal; "y" on a second Ctrl-C (the user means it) or at the
    end of input. It waits a tick at a time, as the follow loop does."""
    while not ctrl_c.take():
        if select.select([sys.stdin], [], [], TICK)[0]:
            line = os.read(sys.stdin.fileno(), 1024)
            return line.decode(errors="replace") if line else "y"
    return "y"


class ProgressBar:
    """A tqdm bar on a terminal (stderr); elsewhere one line per status change."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.status = None

    def show(self, state: dict) -> None:
        percent = round(float(state.get("progress") or 0) * 100, 1)
        if not self.enabled:
            if state["status"] != self.status:
                print(printable(f"{state['status']} {percent:.0f}%"), file=sys.stderr)
            self.status = state["status"]
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=100, desc=state["status"], file=sys.stderr, dynamic_ncols=True,
                            bar_format="{desc:<10} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")
        self.bar.set_description_str(printable(state["status"]), refresh=False)
        self.bar.n = percent
        self.bar.refresh()
        self.status = state["status"]

    def pause(self) -> None:
        if self.bar is not None:
            self.bar.clear()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
