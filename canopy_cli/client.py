"""Canopy's HTTP API as the CLI uses it: requests, uploads by content hash, event streams."""
from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import requests

from . import sse

CHUNK = 1 << 20


KEY_HEADER = "X-API-Key"
# C0 and C1 controls (ESC starts terminal escape sequences) and the bidirectional overrides
# that reorder what a terminal shows: never printed as they came from a server.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class ApiError(Exception):
    """The server refused a call (its `detail`), or could not be reached."""


def printable(text: str) -> str:
    """`text` safe for a terminal: each control character shown as its escape (`\\x1b`)."""
    return _CONTROLS.sub(lambda m: ascii(m.group())[1:-1], str(text))


class KeySession(requests.Session):
    """A session that drops the API key on a redirect to another host, as requests does
    with `Authorization` only."""

    def rebuild_auth(self, prepared_request, response):
        if self.should_strip_auth(response.request.url, prepared_request.url):
            prepared_request.headers.pop(KEY_HEADER, None)
        super().rebuild_auth(prepared_request, response)


class Client:
    def __init__(self, url: str, key: str, timeout: float = 60):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = KeySession()
        self.http.headers[KEY_HEADER] = key

    def twin(self) -> "Client":
        """A client of its own for another thread: a requests session is not shared."""
        return Client(self.url, self.http.headers[KEY_HEADER], self.timeout)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs):
        """The JSON answer of `method path`; ApiError with the server's reason otherwise."""
        try:
            response = self.http.request(method, self.url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ApiError(f"cannot reach {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise ApiError(f"{method} {path}: {response.status_code} {_detail(response)}")
        return response.json()

    def projects(self) -> Iterator[dict]:
        """All the caller's projects (with their assets), newest first, page by page."""
        page = 1
        while True:
            batch = self.call("GET", "/projects", params={"limit": 100, "page": page})
            yield from batch
            if len(batch) < 100:
                return
            page += 1

    # Sources

    def find_or_upload(self, path: Path, wait_s: float = 600) -> str:
        """The id of an analysed video file with `path`'s content: found by its sha256, or
        uploaded now and waited for."""
        digest = sha256_of(path)
        for row in self.call("GET", "/video-file", params={"sha256": digest}):
            if row["status"] == "analyzed":
                return row["id"]
        created = self.call("POST", "/video-file", json={
            "name": path.stem, "filename": path.name, "upload_method": "file-no-chunk"})
        body = MultipartFile(path)
        self.call("POST", created["upload_url"], data=body,
                  headers={"Content-Type": body.content_type})
        return self._analysed(created["id"], path, wait_s)

    def _analysed(self, video_file_id: str, path: Path, wait_s: float) -> str:
        deadline, pause = time.monotonic() + wait_s, 0.1
        while time.monotonic() < deadline:
            row = self.call("GET", f"/video-file/{video_file_id}")
            if row["status"] == "analyzed":
                return video_file_id
            if row["status"] == "failed":
                raise ApiError(f"{path}: the server could not analyse it: {row.get('error')}")
            time.sleep(pause)
            pause = min(pause * 1.5, 2.0)
        raise ApiError(f"{path}: not analysed after {wait_s:.0f} s")

    # Renders

    def events(self, asset_id: str, retry_s: float = 60) -> Iterator[sse.Event]:
        """The asset's status events until it finishes, reconnecting (with Last-Event-ID)
        when the connection drops; gives up after `retry_s` seconds without one."""
        last_id, down_since = None, None
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_id is not None:
                headers["Last-Event-ID"] = last_id
            try:
                with self.http.get(f"{self.url}/assets/{asset_id}/events", headers=headers,
                                   stream=True, timeout=(10, 60)) as response:
                    if response.status_code == 204:
                        return  # nothing after the event we had
                    if response.status_code >= 400:
                        raise ApiError(f"events of {asset_id}: {response.status_code} "
                                       f"{_detail(response)}")
                    down_since = None
                    for event in sse.parse(response.iter_lines(chunk_size=None, decode_unicode=True)):
                        last_id = event.id or last_id
                        yield event
                        if event.event == "deleted" or event.json().get("finished"):
                            return
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > retry_s:
                    raise ApiError(f"lost the event stream of {asset_id}: {exc}") from None
            time.sleep(1.0)  # the stream ended early (the server restarted): reconnect

    def download(self, url: str, out: Path, progress: Callable[[int], None] = lambda n: None) -> int:
        """Save `url` (a signed link: no key is sent) to `out`, atomically; its size."""
        part = out.with_name(out.name + ".part")
        try:
            with requests.get(url, stream=True, timeout=self.timeout) as response:
                if response.status_code != 200:
                    raise ApiError(f"download: {response.status_code} {_detail(response)}")
                size = 0
                with open(part, "wb") as fh:
                    for chunk in response.iter_content(CHUNK):
                        fh.write(chunk)
                        size += len(chunk)
                        progress(len(chunk))
            os.replace(part, out)
            return size
        except requests.RequestException as exc:
            raise ApiError(f"download failed: {exc}") from None
        finally:
            part.unlink(missing_ok=True)


def _detail(response: requests.Response) -> str:
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return response.text[:300]
    if isinstance(detail, list):  # a 422: where and what
        return "; ".join(f"{'.'.join(map(str, e.get('loc', [])))}: {e.get('msg')}" for e in detail)
    return str(detail)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class MultipartFile:
    """A multipart/form-data body with one field `file`, read from disk as it is sent
    (its length is known, so it goes with a Content-Length, not in memory)."""

    def __init__(self, path: Path):
        boundary = uuid.uuid4().hex
        name = path.name.replace('"', "%22").replace("\r", "").replace("\n", "")
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self._head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                      f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                      ).encode()
        self._tail = f"\r\n--{boundary}--\r\n".encode()
        self._size = path.stat().st_size
        self._file = open(path, "rb")
        self._parts = [self._head, None, self._tail]  # None: the file's bytes

    def __len__(self) -> int:
        return len(self._head) + self._size + len(self._tail)

    def read(self, size: int = -1) -> bytes:
        while self._parts:
            part = self._parts[0]
            if part is None:
                chunk = self._file.read(CHUNK if size is None or size < 0 else size)
                if chunk:
                    return chunk
                self._file.close()
                self._parts.pop(0)
                continue
            self._parts.pop(0)
            return part
        return b""
