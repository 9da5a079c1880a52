"""The `canopy` command against hostile or careless servers and arguments: real HTTP servers
on loopback, no farm."""
from __future__ import annotations

import http.server
import json
import threading
from contextlib import contextmanager

import pytest

from canopy_cli.client import ApiError, Client
from canopy_cli.main import main
from canopy_cli.render import Events
from tests.fixtures.livesrv import wait_for

ESCAPES = "\x1b[2J\x1b]0;owned\x07\x1b[31mred\u202egnp.exe\x9b1m"


@contextmanager
def http_server(answer):
    """A loopback server whose every request gets `answer(handler)`; yields (url, requests
    seen as (method, path, headers))."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self):
            seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
            status, headers, body = answer(self)
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _any

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def json_answer(status: int, body: dict):
    headers = {"Content-Type": "application/json"}
    return lambda _handler: (status, headers, json.dumps(body).encode())


def test_a_redirect_to_another_host_does_not_carry_the_key():
    landing = json_answer(200, {"id": "a", "status": "uploaded"})
    with http_server(landing) as (elsewhere, seen_there):
        other_host = elsewhere.replace("127.0.0.1", "localhost")

        def redirect(handler):
            return 302, {"Location": other_host + handler.path}, b""

        with http_server(redirect) as (home, seen_home):
            answer = Client(home, "cnp_secret").call("GET", "/assets/a/status")
    assert answer == {"id": "a", "status": "uploaded"}
    assert seen_home[0][2]["x-api-key"] == "cnp_secret"
    assert [path for _, path, _ in seen_there] == ["/assets/a/status"]
    assert "x-api-key" not in seen_there[0][2] and "authorization" not in seen_there[0][2]


def test_a_redirect_on_the_same_server_keeps_the_key():
    def moved(handler):
        if handler.path == "/x":
            return 307, {"Location": "/moved"}, b""
        return json_answer(200, {"ok": True})(handler)

    with http_server(moved) as (home, seen):
        assert Client(home, "cnp_secret").call("GET", "/x") == {"ok": True}
    assert [(path, headers.get("x-api-key")) for _, path, headers in seen] == [
        ("/x", "cnp_secret"), ("/moved", "cnp_secret")]


def test_server_texts_are_printed_without_their_control_characters(capsys):
    refused = json_answer(409, {"detail": f"busy {ESCAPES}"})
    with http_server(refused) as (url, _):
        assert main(["--url", url, "--key", "k", "cancel", "a1"]) == 1
    failed = json_answer(200, {"id": f"a1{ESCAPES}", "status": "failed", "progress": 0,
                               "error": f"bad {ESCAPES}"})
    with http_server(failed) as (url, _):
        assert main(["--url", url, "--key", "k", "status", "a1"]) == 1
    out = capsys.readouterr()
    printed = out.out + out.err
    assert "busy" in printed and "bad" in printed and "\\x1b[31m" in printed
    assert not any(ch in printed for ch in "\x1b\x07\x9b\u202e")


@pytest.mark.parametrize("where", ["missing/out.mp4", "."])
def test_an_output_that_cannot_be_written_fails_before_anything_is_sent(tmp_path, capsys, where):
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps({"video_edit_version": "1.0", "video_series_sequential": []}))
    with http_server(json_answer(500, {})) as (url, seen):
        code = main(["--url", url, "--key", "k", "render", str(edit), "-o",
                     str(tmp_path / where)])
    assert code == 2 and seen == []
    err = capsys.readouterr().err
    assert "--output" in err and ("no such folder" in err or "is a folder" in err)
    assert "Traceback" not in err


def test_an_unreachable_server_is_an_api_error():
    with pytest.raises(ApiError, match="cannot reach"):
        Client("http://127.0.0.1:1", "k", timeout=5).call("GET", "/x")


def test_a_server_that_floods_the_event_stream_gets_no_more_read_than_the_backlog():
    """A stream of endless events while nobody takes them (the question waits for its answer):
    the reader stops reading at Events.BACKLOG, and when the follow ends it closes the
    stream, so the server's handler sees the connection go."""
    hung_up = threading.Event()

    class Flood(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")  # as the farm streams
            self.end_headers()
            events = b'data: {"status": "rendering", "progress": 0.5}\n\n' * 64
            chunk = b"%x\r\n%s\r\n" % (len(events), events)
            try:
                while True:
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except OSError:
                hung_up.set()

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flood)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Events(Client(f"http://127.0.0.1:{server.server_address[1]}", "k"), "a") as events:
            wait_for(events.queue.full, 30, "the backlog filled")
            assert events.queue.qsize() == Events.BACKLOG
            assert events.next(1).json() == {"status": "rendering", "progress": 0.5}
            wait_for(events.queue.full, 30, "the backlog filled again")
        events.thread.join(30)
        assert not events.thread.is_alive()
        assert hung_up.wait(30), "the stream stayed open after the follow ended"
    finally:
        server.shutdown()
        server.server_close()
