"""Webhook receivers that misbehave, against the live farm: a try ends within
CANOPY_WEBHOOK_TIMEOUT whatever the receiver does, a reply cut off in its headers is no
answer, and tries that hang never take the slots probes need."""
from __future__ import annotations

import socket
import threading
import time

from tests.fixtures.edits import tiny_edit
from tests.fixtures.farm import FETCH_TEST_HOST, submit
from tests.fixtures.livesrv import ApiCaller, wait_for


class SlowReceiver:
    """Raw sockets on FETCH_TEST_HOST. Each connection's request is read, then `answer(sock)`
    runs until the peer hangs up or the receiver stops; `connections` holds each one's
    [opened, closed] monotonic times."""

    def __init__(self, answer):
        self.answer = answer
        self.server = socket.create_server((FETCH_TEST_HOST, 0))
        self.url = f"http://{FETCH_TEST_HOST}:{self.server.getsockname()[1]}/hook"
        self.connections: list[list[float | None]] = []
        self.stop = threading.Event()

    def __enter__(self) -> "SlowReceiver":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        self.server.close()

    def open_now(self) -> int:
        return sum(1 for _, closed in self.connections if closed is None)

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self.server.accept()
            except OSError:
                return
            times = [time.monotonic(), None]
            self.connections.append(times)
            threading.Thread(target=self._serve, args=(sock, times), daemon=True).start()

    def _serve(self, sock: socket.socket, times: list) -> None:
        with sock:
            read = b""
            while b"\r\n\r\n" not in read or len(read) < _length(read):
                data = sock.recv(65536)  # the whole request: a close with bytes unread
                if not data:             # would be a reset, not the answer under test
                    break
                read += data
            try:
                self.answer(sock, self.stop)
            except OSError:  # the sender cut the connection
                pass
            times[1] = time.monotonic()


def _length(read: bytes) -> int:
    """The request's whole length once its head is in: the head and its Content-Length."""
    head, _, _ = read.partition(b"\r\n\r\n")
    length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
              if line.lower().startswith(b"content-length:")]
    return len(head) + 4 + (length[0] if length else 0)


def trickle(sock, stop):
    """The status line, then one header byte every 0.2 s, never the blank line."""
    sock.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            if sock.recv(1) == b"":
                return  # the sender hung up
        except socket.timeout:
            sock.sendall(b"a")


def cut_in_headers(sock, _stop):
    """A 200 whose headers break off: the connection closes before their blank line."""
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Cut: y")


def hold(sock, stop):
    """No answer at all, until the sender hangs up."""
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            if sock.recv(1) == b"":
                return
        except socket.timeout:
            pass


def deliveries(api, asset_id) -> list[dict]:
    return api("GET", f"/assets/{asset_id}/webhooks").json()


def test_a_receiver_trickling_its_headers_is_cut_at_the_timeout(api, tiny_source, settings):
    limit = settings.webhook_timeout_seconds
    with SlowReceiver(trickle) as receiver:
        started = submit(api, tiny_edit(tiny_source, callback_url=receiver.url))
        # Each byte comes well within any read timeout: only a deadline on the whole try ends it.
        first = wait_for(lambda: receiver.connections and receiver.connections[0][1] is not None
                         and receiver.connections[0], limit + 30, "the first try to end")
        assert first[1] - first[0] < limit + 3, first
        tried = wait_for(lambda: [d for d in deliveries(api, started["asset_id"])
                                  if d["last_error"]], 30, "the first try's outcome")
    [delivery] = tried
    assert delivery["state"] != "delivered" and delivery["status_code"] is None, delivery
    assert "within" in delivery["last_error"], delivery


def test_a_reply_cut_off_in_its_headers_is_a_failed_try(api, tiny_source):
    with SlowReceiver(cut_in_headers) as receiver:
        started = submit(api, tiny_edit(tiny_source, callback_url=receiver.url))
        [delivery] = wait_for(lambda: [d for d in deliveries(api, started["asset_id"])
                                       if d["state"] != "pending"], 60, "the delivery to end")
    assert len(receiver.connections) == delivery["tries"] > 1  # every try was made, none taken
    assert (delivery["state"], delivery["status_code"]) == ("failed", None), delivery
    assert "headers" in delivery["last_error"], delivery


def test_hanging_receivers_do_not_delay_another_users_probe(api, tiny_source, farm, make_user,
                                                             tiny_clip):
    with SlowReceiver(hold) as receiver:
        for _ in range(2):
            submit(api, tiny_edit(tiny_source, callback_url=receiver.url))
        # Both tries hang at once (the media worker has one slot: they are not in it).
        wait_for(lambda: receiver.open_now() >= 2, 60, "two tries hanging at once")
        other = ApiCaller(farm.url, make_user()[1])
        created = other("POST", "/video-file", json={"name": "tiny", "filename": tiny_clip.name})
        with open(tiny_clip, "rb") as fh:
            other("POST", created.json()["upload_url"], files={"file": (tiny_clip.name, fh)})
        video = created.json()["id"]
        wait_for(lambda: other("GET", f"/video-file/{video}").json()["current_status"] == "analyzed",
                 60, "the other user's probe")
