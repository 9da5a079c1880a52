"""The `canopy` command as a user runs it: a subprocess against the live farm."""
from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from canopy_cli.client import Client
from canopy_cli.render import Interrupted, follow
from shared.config import REPO_ROOT
from tests.fixtures.edits import clip as cut, make_edit
from tests.fixtures.farm import FETCH_TEST_HOST, upload, wait_finished
from tests.fixtures.livesrv import held_file, wait_for
from tests.fixtures.mediakit import make_video
from tests.fixtures.measure import read_video

CLI = [sys.executable, "-m", "canopy_cli"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("cli") / "clip.mp4", size=(320, 180), fps=30,
                      duration=4, tone_hz=440)


def canopy(farm, key, *args, cwd=REPO_ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "CANOPY_URL": farm.url, "CANOPY_KEY": key, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_render_uploads_only_new_sources_and_downloads_the_result(farm, vj, api, user_key,
                                                                   clip, tmp_path):
    known = upload(vj, clip)  # already on the server: found by its hash, not sent again
    fresh = make_video(tmp_path / "fresh.mp4", size=(160, 90), fps=25, duration=2, tone_hz=660)
    body = make_edit([cut("intro", 0, 3), cut("outro", "00:00:00.5", "00:00:02", kind="asset")],
                resolution="320x180")
    (tmp_path / "edit.json").write_text(json.dumps(body))
    out = tmp_path / "out.mp4"

    done = canopy(farm, user_key, "render", "edit.json", "--source", f"intro={clip}",
                  "--source", f"outro={fresh}", "--output", str(out), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "uploaded" and result["sources"]["intro"] == known
    assert sorted(f["id"] for f in api("GET", "/video-file").json()) == sorted(
        [known, result["sources"]["outro"]])
    bad = api("GET", "/video-file", params={"sha256": "not-a-hash"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "sha256"]
    assert read_video(out).frames == 135 and out.stat().st_size == result["size"]

    status = canopy(farm, user_key, "status", result["asset_id"], "--json")
    assert json.loads(status.stdout)["status"] == "uploaded"
    listed = json.loads(canopy(farm, user_key, "--json", "ls").stdout)
    assert [(r["id"], r["project_name"]) for r in listed] == [(result["asset_id"], "canopy-cli")]
    assert "uploaded 100%" in canopy(farm, user_key, "status", result["asset_id"]).stdout


def test_a_refused_edit_exits_non_zero_with_the_reason(farm, user_key, clip, tmp_path):
    body = make_edit([cut("intro", 0, 60)], resolution="320x180")  # past the 4 s source
    (tmp_path / "edit.json").write_text(json.dumps(body))
    done = canopy(farm, user_key, "render", str(tmp_path / "edit.json"), "--source",
                  f"intro={clip}", "-o", str(tmp_path / "never.mp4"))
    assert done.returncode == 1
    assert "422" in done.stderr and "video_series_sequential.0.video_end_time" in done.stderr
    assert not (tmp_path / "never.mp4").exists()
    missing = canopy(farm, user_key, "render", "e.json", "--source", "x", "-o", "o.mp4")
    assert missing.returncode == 2 and "expected ID=PATH" in missing.stderr
    assert canopy(farm, "wrong-key", "ls").returncode == 1


def test_progress_bar_on_a_terminal_and_ctrl_c_cancels(farm, api, user_key, clip, tmp_path):
    """The render is held (its source's fetch waits on the test), so the Ctrl-C lands while
    the bar shows, however fast the machine; the command takes it even when started with
    SIGINT ignored (as a shell starts background jobs, e.g. `make test &`), each Ctrl-C
    reaches the prompt within half a second, and a second one at the prompt means yes."""
    gate = threading.Event()
    with held_file(clip, gate, FETCH_TEST_HOST) as url:
        held = api("POST", "/video-file", json={"name": "held", "filename": url,
                                                 "upload_method": "url"})
        assert held.status_code == 201, held.text
        edit = make_edit([cut(held.json()["id"], 0, 4)], resolution="320x180")
        (tmp_path / "edit.json").write_text(json.dumps(edit))
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its terminal (stdin, stdout, stderr)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited through exec
            os.chdir(REPO_ROOT)
            os.execve(sys.executable, [*CLI, "--url", farm.url, "--key", user_key, "render",
                                       str(tmp_path / "edit.json"), "-o",
                                       str(tmp_path / "out.mp4")], dict(os.environ))
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        screen = Screen(fd)
        asset = screen.wait_for(r"rendering asset ([0-9a-f-]{36})").group(1)
        screen.wait_for(r"queued\s+0%\|")  # tqdm's bar: "queued   0%|     | 00:00<?"

        def ctrl_c(prompts: int) -> float:
            """Ctrl-C, as the terminal sends it: seconds until the prompt shows."""
            sent = time.monotonic()
            os.write(fd, b"\x03")
            screen.wait_for(r"(Cancel render [0-9a-f-]{36}\? \[y/N\].*){%d}" % prompts,
                            flags=re.S)
            return time.monotonic() - sent

        waits = [ctrl_c(1)]
        os.write(fd, b"n\n")  # no: it follows the render again, and hears the next Ctrl-C
        screen.wait_for(r"still rendering")
        waits.append(ctrl_c(2))
        os.write(fd, b"\x03")  # no answer typed: a second Ctrl-C says yes
        screen.wait_for(r"canopy: render [0-9a-f-]{36} canceled")
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 130, screen.text
    assert max(waits) < 0.5, waits
    assert wait_finished(api, asset)["status"] == "canceled"
    assert not (tmp_path / "out.mp4").exists()


def test_a_ctrl_c_another_thread_took_still_stops_the_follow_at_once(farm, api, user_key, clip,
                                                                     monkeypatch):
    """POSIX lets any thread of a process take its SIGINT, and Python runs the handler only
    when the main thread next runs: a main thread blocked on a quiet stream heard that Ctrl-C
    at the server's next keep-alive (15 s; seen in a whole run on a busy machine). The follow
    loop waits a tick at a time, so here, with the stream quiet and the signal sent to another
    thread, the Ctrl-C still ends the follow at once (no terminal: the render goes on)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # no terminal to ask on, however run
    first_event = threading.Event()
    events = Client.events

    def noting_the_first(self, asset_id, *args, **kwargs):
        for event in events(self, asset_id, *args, **kwargs):
            yield event
            first_event.set()

    monkeypatch.setattr(Client, "events", noting_the_first)
    main = threading.main_thread().native_id
    heard = {}

    def ctrl_c_on_this_thread():
        first_event.wait(60)
        syscall = Path(f"/proc/self/task/{main}/syscall")
        wait_for(lambda: syscall.read_text().split()[0] != "running", 30,
                 "the main thread waiting for the next event")
        heard["sent"] = time.monotonic()
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    with held_file(clip, threading.Event(), FETCH_TEST_HOST) as url:
        held = api("POST", "/video-file", json={"name": "held", "filename": url,
                                                 "upload_method": "url"})
        project = api("POST", "/projects", json={"name": "quiet", "description": ""}).json()["id"]
        started = api("POST", f"/projects/{project}/create-edit", json=make_edit(
            [cut(held.json()["id"], 0, 4)], resolution="320x180")).json()
        asset = started["asset_id"]
        threading.Thread(target=ctrl_c_on_this_thread, daemon=True).start()
        # Heard, as the command takes Ctrl-C back on its terminal, even where the suite was
        # started with SIGINT ignored (a background job of a shell).
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            with pytest.raises(Interrupted, match="goes on"):
                follow(Client(farm.url, user_key), asset, show_progress=False)
            waited = time.monotonic() - heard["sent"]
            assert api("GET", f"/assets/{asset}/status").json()["status"] == "queued"
        finally:
            signal.signal(signal.SIGINT, previous)
            api("POST", f"/assets/{asset}/cancel")
    assert waited < 2, waited
    assert wait_finished(api, asset)["status"] == "canceled"


class Screen:
    """What a program wrote to its terminal, read as it comes."""

    def __init__(self, fd: int):
        self.fd = fd
        self.text = ""

    def wait_for(self, pattern: str, timeout: float = 60, flags: int = 0) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.text, flags)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} on the terminal:\n{self.text}")
            if select.select([self.fd], [], [], 0.2)[0]:
                try:
                    self.text += os.read(self.fd, 65536).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    raise AssertionError(f"no {pattern!r} before exit:\n{self.text}") from None
