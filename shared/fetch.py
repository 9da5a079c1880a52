"""Fetching `url` uploads without becoming a proxy into the private network (SSRF).

Every hop (the URL and each redirect) is resolved once, each address is checked, and the
connection goes to the checked address itself, with the original Host header and TLS
name, so DNS answering differently a second time (rebinding) changes nothing.
Stdlib + urllib3 only: the API may call `check_url` to refuse a bad URL at once.

    result = fetch_url(url, dest, max_bytes=settings.max_upload_bytes, timeout=600,
                       allow=settings.fetch_allow)
"""
from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit

import certifi
import urllib3

MAX_REDIRECTS = 3
CHUNK_SIZE = 64 * 1024
_REDIRECTS = {301, 302, 303, 307, 308}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_FILENAME = re.compile(r"""filename\s*=\s*"?([^";]+)"?""", re.IGNORECASE)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """The URL cannot or may not be fetched; `reason` is fit for the uploader."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """One checked hop: where to connect, and what to call the host on the wire."""

    url: str
    scheme: str
    host: str
    port: int
    address: str  # the checked IP the connection goes to
    path: str  # path and query, as sent


@dataclass
class FetchResult:
    url: str  # after redirects
    size: int
    content_type: str | None
    filename: str | None  # from Content-Disposition, else the URL's last path segment


def blocked_reason(ip: IPAddress) -> str | None:
    """Why `ip` may not be fetched from (private, loopback...), or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 wrapped in IPv6 reaches the IPv4 host: judge that one.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo and ip.teredo[1])
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return blocked_reason(embedded)
    # Most specific first: Python counts loopback and link-local as "private" too.
    for reason in ("unspecified", "loopback", "link_local", "site_local", "multicast", "reserved",
                   "private"):
        if getattr(ip, f"is_{reason}", False):  # site-local (fec0::/10) is IPv6's alone
            return reason.replace("_", "-")
    if not ip.is_global:  # e.g. 100.64.0.0/10, carrier-grade NAT
        return "non-public"
    return None


def _allowed(host: str, ip: IPAddress, allow: Iterable[str]) -> bool:
    for entry in allow:
        entry = entry.strip().lower()
        if not entry:
            continue
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:  # not an address or CIDR: a host name
            if host == entry.rstrip("."):
                return True
    return False


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve host {host!r}: {exc}") from None
    # Scope ids (fe80::1%eth0) are not part of the address value.
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


def url_form(url: str) -> tuple[SplitResult, str, str, int]:
    """The URL's parts, scheme, ASCII host and port, when its form may be fetched (the
    API document's patterns.HTTP_URL says a part of this); else FetchError."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise FetchError(f"malformed URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"only http and https URLs can be fetched, not {scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise FetchError("the URL has no host")
    if parts.username or parts.password:
        raise FetchError("URLs with a user name or password are not fetched")
    try:
        # The wire (Host header, TLS name) wants the ASCII form of a unicode name.
        host = parts.hostname.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise FetchError(f"invalid host name {parts.hostname!r}") from None
    return parts, scheme, host, port or (443 if scheme == "https" else 80)


def check_url(url: str, allow: Iterable[str] = ()) -> Target:
    """Parse, resolve and check one URL; raise FetchError when it may not be fetched."""
    parts, scheme, host, port = url_form(url)
    addresses = _resolve(host, port)
    if not addresses:
        raise FetchError(f"host {host!r} has no address")
    allow = list(allow)
    for ip in addresses:
        reason = blocked_reason(ip)
        # Every address must pass: the resolver could hand out any of them next time.
        if reason and not _allowed(host, ip, allow):
            named = f"{ip} is" if host == str(ip) else f"{host} resolves to {ip},"
            raise FetchError(f"{named} a {reason} address: refused")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    # Percent-encode what is not URL-safe ASCII (spaces, unicode), keep what is encoded.
    path = quote(path, safe="/?&=%:;@!$'()*+,~[]")
    return Target(url, scheme, host, port, str(addresses[0]), path)


class Watchdog:
    """Cuts the sockets it is shown once `deadline` (monotonic) passes: a read or write blocked
    on a peer that trickles bytes (a timeout restarts at each byte) ends then, with no data.

        with Watchdog(deadline) as watchdog: ... watchdog.watch(sock) ...; watchdog.fired
    """

    def __init__(self, deadline: float):
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self.fired = False
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> "Watchdog":
        self._timer.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            if self.fired:
                _cut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._socks:
                _cut(sock)


def _cut(sock: socket.socket) -> None:
    try:  # the plain socket's shutdown, also under TLS: no TLS state is touched from here
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:  # closed already
        pass


class _Lines:
    """A response's file, remembering whether a line read hit the end of the stream."""

    def __init__(self, fp):
        self.fp = fp
        self.ended = False

    def readline(self, limit: int = -1) -> bytes:
        line = self.fp.readline(limit)
        self.ended |= not line
        return line

    def __getattr__(self, name):
        return getattr(self.fp, name)


class _WholeHeaders(http.client.HTTPResponse):
    """http.client takes the end of the stream for the blank line that ends the headers; a
    reply cut off inside its headers is no reply here."""

    def begin(self) -> None:
        if self.headers is not None:  # begun already
            return
        lines = self.fp = _Lines(self.fp)
        try:
            super().begin()
        finally:
            self.fp = lines.fp if self.fp is lines else self.fp
        if lines.ended:
            raise http.client.IncompleteRead(b"", None)


def _watched(base):
    class Connection(base):
        response_class = _WholeHeaders

        def __init__(self, *args, watchdog: Watchdog, **kwargs):
            super().__init__(*args, **kwargs)
            self.watchdog = watchdog

        def _new_conn(self):
            sock = super()._new_conn()
            self.watchdog.watch(sock)
            return sock

    return Connection


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _watched(urllib3.connection.HTTPConnection)


class _TLSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _watched(urllib3.connection.HTTPSConnection)


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _open(target: Target, deadline: float, watchdog: Watchdog, ca_certs: str | None,
          method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    """The response's head, or FetchError; `watchdog` (of `deadline`) cuts the connection
    then, whatever the peer does."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError("timed out")
    timeout = urllib3.Timeout(connect=min(remaining, 30.0), read=remaining)
    if target.scheme == "https":
        # Connect to the checked IP, but verify the certificate for the host name.
        pool = _TLSPool(
            target.address, target.port, timeout=timeout, retries=False, maxsize=1,
            server_hostname=target.host, assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED", ca_certs=ca_certs or certifi.where(), watchdog=watchdog,
        )
    else:
        pool = _Pool(target.address, target.port, timeout=timeout, retries=False, maxsize=1,
                     watchdog=watchdog)
    headers = {
        "User-Agent": "Canopy-fetch/1",
        "Accept-Encoding": "identity",  # store the bytes as served, no inflating
        **(headers or {}),
        "Host": _host_header(target),
    }
    try:
        return pool.urlopen(
            method, target.path, body=body, headers=headers, redirect=False, retries=False,
            preload_content=False, decode_content=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        if watchdog.fired:
            raise FetchError(f"{target.url} did not answer within the time allowed") from None
        raise FetchError(f"cannot fetch {target.url}: {_cause(exc)}") from None


def _cause(exc: Exception) -> str:
    cause = exc.args[-1] if isinstance(exc, urllib3.exceptions.ProtocolError) and exc.args else exc
    if isinstance(cause, http.client.IncompleteRead):
        return "the reply ended before its headers did"
    reason = getattr(cause, "reason", None)
    return str(reason or cause)


def _filename(response, url: str) -> str | None:
    match = _FILENAME.search(response.headers.get("Content-Disposition", ""))
    if match:
        return match.group(1).strip()
    last = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return last or None


def fetch_url(
    url: str,
    dest_path: str | Path,
    *,
    max_bytes: int,
    timeout: float,
    allow: Iterable[str] = (),
    max_redirects: int = MAX_REDIRECTS,
    ca_certs: str | None = None,
) -> FetchResult:
    """Download `url` into `dest_path`, following at most `max_redirects` redirects,
    within `max_bytes` and `timeout` seconds in all. Private, loopback, link-local,
    multicast, reserved and unspecified addresses are refused unless a host name, IP
    or CIDR in `allow` matches. `ca_certs` replaces the public CA bundle (a private CA).
    Raises FetchError, leaving no file behind."""
    deadline = time.monotonic() + timeout
    allow = list(allow)
    dest = Path(dest_path)
    with Watchdog(deadline) as watchdog:
        for _hop in range(max_redirects + 1):
            target = check_url(url, allow)
            response = _open(target, deadline, watchdog, ca_certs)
            if response.status in _REDIRECTS and response.headers.get("Location"):
                url = urljoin(target.url, response.headers["Location"])
                response.close()
                continue
            try:
                if response.status != 200:
                    raise FetchError(f"{target.url} answered HTTP {response.status}")
                size = _saved(response, dest, max_bytes, deadline, watchdog)
            finally:
                response.close()
            return FetchResult(
                url=target.url,
                size=size,
                content_type=response.headers.get("Content-Type"),
                filename=_filename(response, target.url),
            )
    raise FetchError(f"too many redirects (more than {max_redirects})")


def post(url: str, body: bytes, headers: dict, *, timeout: float, allow: Iterable[str] = (),
         ca_certs: str | None = None) -> int:
    """POST `body` to `url`, checked as `fetch_url` checks it (a redirect is an answer, not
    followed); the status code, once the reply's headers have all come within `timeout` seconds
    in all. Raises FetchError when it may not be called, or the call fails or takes longer."""
    target = check_url(url, allow)
    deadline = time.monotonic() + timeout
    with Watchdog(deadline) as watchdog:
        response = _open(target, deadline, watchdog, ca_certs, "POST", body, headers)
        response.close()
        return response.status


def _read(response, deadline: float) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError("timed out before the download finished")
    # The read timeout set at connect time would restart at every byte: shrink it.
    sock = getattr(response.connection, "sock", None)
    if sock is not None:
        sock.settimeout(remaining)
    return response.read1(CHUNK_SIZE)


def _saved(response, dest: Path, max_bytes: int, deadline: float, watchdog: Watchdog) -> int:
    """`_save`, where a cut by the watchdog (a broken or, without a length, an early end) is
    the deadline passing."""
    try:
        size = _save(response, dest, max_bytes, deadline)
    except FetchError:
        if not watchdog.fired:
            raise
    if watchdog.fired:
        dest.unlink(missing_ok=True)
        raise FetchError("timed out before the download finished")
    return size


def _save(response, dest: Path, max_bytes: int, deadline: float) -> int:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"the file is {declared} bytes, over the limit of {max_bytes}")
    size = 0
    try:
        with dest.open("wb") as out:
            # read1 returns what has arrived: a server dripping bytes cannot hold one
            # read past the deadline, which is checked before every read.
            while chunk := _read(response, deadline):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"the file is over the limit of {max_bytes} bytes")
                out.write(chunk)
    except urllib3.exceptions.HTTPError as exc:
        dest.unlink(missing_ok=True)
        if isinstance(exc, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
            raise FetchError("timed out before the download finished") from None
        raise FetchError(f"the download broke off: {_cause(exc)}") from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return size
