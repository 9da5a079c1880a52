"""Event streams under abuse, over real sockets against a gunicorn of their own (a keep-alive
of 0.5 s and 3 streams a user, so nothing waits 15 s): HEAD holds no stream, an idle stream
gets its comment lines, a client that goes away gives its slot back, one user cannot take
every slot, and what a stream sends is what the API document says."""
from __future__ import annotations

import json
import socket
import time
from dataclasses import replace

import jsonschema
import pytest
import requests

from tests.fixtures.farm import scrape
from tests.fixtures.livesrv import ApiCaller, LiveServer, wait_for

KEEPALIVE = 0.5
PER_USER = 3


@pytest.fixture(scope="module")
def server(settings, tmp_path_factory):
    live = LiveServer(replace(settings, events_keepalive_seconds=KEEPALIVE,
                              streams_per_user=PER_USER), tmp_path_factory.mktemp("streams"))
    live.start()
    yield live
    live.stop()


@pytest.fixture
def caller(server, make_user) -> ApiCaller:
    return ApiCaller(server.url, make_user()[1])


def new_asset(api) -> str:
    project = api("POST", "/projects", json={"name": "s", "description": ""}).json()["id"]
    return api("POST", f"/projects/{project}/asset", json={
        "upload_method": "file-no-chunk", "asset_type": "user", "keyname": "a.mp4"}).json()["id"]


class RawStream:
    """One `GET /assets/{id}/events` on a socket of its own, read as it comes."""

    def __init__(self, api: ApiCaller, asset: str, method: str = "GET"):
        host, port = api.base_url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.sock.sendall(f"{method} /assets/{asset}/events HTTP/1.1\r\nHost: {host}\r\n"
                          f"X-API-Key: {api.headers['X-API-Key']}\r\n\r\n".encode())
        self.data = b""
        while b"\r\n\r\n" not in self.data:
            self.data += self._recv()
        self.head, self.data = self.data.split(b"\r\n\r\n", 1)
        self.status = int(self.head.split()[1])

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the stream")
        return chunk

    def read_until(self, needle: bytes, count: int = 1, within: float = 30) -> bytes:
        self.sock.settimeout(within)
        while self.data.count(needle) < count:
            self.data += self._recv()
        return self.data

    def header(self, name: str) -> str | None:
        for line in self.head.decode().split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    def close(self) -> None:
        self.sock.close()


def opened(api, asset) -> RawStream | None:
    """A stream, or None when refused (and its connection closed)."""
    stream = RawStream(api, asset)
    if stream.status == 200:
        return stream
    stream.close()
    return None


def streams_open(server) -> float:
    return scrape(server.url)[("canopy_event_streams", ())]


def test_head_answers_the_headers_and_holds_no_stream(server, caller):
    asset = new_asset(caller)
    before = streams_open(server)
    for _ in range(2 * PER_USER):
        head = requests.head(f"{server.url}/assets/{asset}/events", headers=caller.headers,
                             timeout=10)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["Content-Type"].startswith("text/event-stream")
    assert streams_open(server) == before
    streams = [RawStream(caller, asset) for _ in range(PER_USER)]  # the user's slots are free
    try:
        assert [s.status for s in streams] == [200] * PER_USER
    finally:
        for stream in streams:
            stream.close()


def test_an_idle_stream_gets_its_keep_alive_comments(server, caller):
    stream = RawStream(caller, new_asset(caller))
    try:
        assert stream.status == 200
        # Nothing changes: only the comment lines, one per keep-alive interval (the hub's
        # re-reads of the asset every 10 s must not put them off).
        started = time.monotonic()
        stream.read_until(b": keep-alive", count=3, within=30)
        assert time.monotonic() - started >= 2 * KEEPALIVE
    finally:
        stream.close()


def test_a_client_that_goes_away_gives_its_slot_back(server, caller):
    asset = new_asset(caller)
    before = streams_open(server)
    streams = [RawStream(caller, asset) for _ in range(PER_USER)]
    assert [s.status for s in streams] == [200] * PER_USER
    wait_for(lambda: streams_open(server) == before + PER_USER, 30, "the streams counted")
    streams.pop().close()  # the client goes away without a word
    wait_for(lambda: streams_open(server) == before + PER_USER - 1, 30, "its slot given back")
    again = wait_for(lambda: opened(caller, asset), 30, "the user's count given back too")
    for stream in [*streams, again]:
        stream.close()
    wait_for(lambda: streams_open(server) == before, 30, "every slot given back")


def test_one_user_cannot_hold_every_slot(server, caller, make_user):
    asset = new_asset(caller)
    streams = [RawStream(caller, asset) for _ in range(PER_USER)]
    try:
        refused = RawStream(caller, asset)
        assert refused.status == 429 and int(refused.header("Retry-After")) >= 1
        assert b"CANOPY_STREAMS_PER_USER" in refused.read_until(b"}")
        refused.close()
        other = ApiCaller(server.url, make_user()[1])
        theirs = RawStream(other, new_asset(other))  # another user still gets a stream
        assert theirs.status == 200
        theirs.close()
    finally:
        for stream in streams:
            stream.close()


def test_what_a_stream_sends_is_what_the_document_says(server, caller):
    spec = requests.get(f"{server.url}/openapi.json", timeout=10).json()
    operation = spec["paths"]["/assets/{asset_id}/events"]["get"]
    schema = {**operation["responses"]["200"]["content"]["text/event-stream"]["schema"],
              "components": spec["components"]}
    assert {"429", "503"} <= set(operation["responses"])
    assert "Last-Event-ID" in [p["name"] for p in operation["parameters"]]

    asset = new_asset(caller)
    response = requests.get(f"{server.url}/assets/{asset}/events", headers=caller.headers,
                            stream=True, timeout=30)
    with response:
        blocks = fields_of(response.iter_lines(chunk_size=None, decode_unicode=True))
        opening, first = next(blocks), next(blocks)
        assert caller("DELETE", f"/assets/{asset}").status_code == 200
        seen = [first, *blocks]
    assert opening == {"retry": "2000"}
    assert [e["event"] for e in seen] == ["status", "deleted"]
    for event in seen:
        jsonschema.validate(event, schema)
        [kind] = [k for k in schema["oneOf"] if k["properties"]["event"]["const"] == event["event"]]
        data = {**kind["properties"]["data"]["contentSchema"], "components": spec["components"]}
        jsonschema.validate(json.loads(event["data"]), data)


def fields_of(lines):
    """Each block of the stream (events, the retry line) as its fields; comments skipped."""
    block = {}
    for line in lines:
        if not line:
            if block:
                yield block
            block = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            block[name] = value


def test_a_stopping_server_ends_its_streams_whole(settings, make_user, tmp_path):
    """SIGTERM: every open stream gets its last chunk (clients see an end and reconnect
    elsewhere), not a cut connection, and the server stops without waiting on them."""
    live = LiveServer(replace(settings), tmp_path)
    live.start()
    try:
        caller = ApiCaller(live.url, make_user()[1])
        stream = RawStream(caller, new_asset(caller))
        stream.read_until(b"event: status")
    finally:
        live.stop()
    stream.sock.settimeout(30)
    rest = b""
    while chunk := stream.sock.recv(65536):
        rest += chunk
    stream.close()
    assert rest.endswith(b"0\r\n\r\n"), rest
