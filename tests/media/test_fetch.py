"""shared.fetch against a real HTTP server on loopback."""
from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

from shared import fetch as fetch_module
from shared.fetch import FetchError, blocked_reason, check_url, fetch_url

PAYLOAD = os.urandom(200_000)
LOOPBACK = ["127.0.0.1"]


class Handler(BaseHTTPRequestHandler):
    """Routes: /file.bin, /hop/N (N redirects to the file), /to/<url>, /huge, /huge-declared,
    /drip, /missing, /host (echoes the Host header)."""

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name == "Content-Length" for name, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path
        if path == "/file.bin":
            self._send(200, PAYLOAD, [("Content-Type", "video/mp4"),
                                      ("Content-Disposition", 'attachment; filename="clip.mp4"')])
        elif path.startswith("/hop/"):
            left = int(path.rsplit("/", 1)[1])
            self._send(302, headers=[("Location", f"/hop/{left - 1}" if left > 1 else "/file.bin")])
        elif path.startswith("/to/"):
            self._send(302, headers=[("Location", unquote(path[len("/to/"):]))])
        elif path == "/huge-declared":
            self._send(200, headers=[("Content-Length", str(10**9))])
        elif path == "/huge":
            # No Content-Length: the limit can only be enforced while streaming.
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"z" * 65536)
            except OSError:  # the client gave up, as it should
                pass
        elif path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b".")
                    self.wfile.flush()
                    if self.server.stopping.wait(0.02):  # a slow server, not a test sleep
                        return
            except OSError:
                pass
        elif path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"only the beginning")
            self.close_connection = True
        elif path == "/host":
            self._send(200, self.headers["Host"].encode())
        else:
            self._send(404, b"no such file")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.stopping = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.stopping.set()
    httpd.shutdown()
    thread.join()


def _fetch(url, dest, **kwargs):
    kwargs.setdefault("max_bytes", 1_000_000)
    kwargs.setdefault("timeout", 10)
    kwargs.setdefault("allow", LOOPBACK)
    return fetch_url(url, dest, **kwargs)


def test_fetches_a_file(server, tmp_path):
    dest = tmp_path / "got.bin"
    result = _fetch(f"{server}/file.bin", dest)
    assert dest.read_bytes() == PAYLOAD
    assert (result.size, result.content_type, result.filename) == (len(PAYLOAD), "video/mp4", "clip.mp4")


def test_follows_three_redirects_but_not_four(server, tmp_path):
    result = _fetch(f"{server}/hop/3", tmp_path / "ok.bin")
    assert result.url == f"{server}/file.bin" and result.size == len(PAYLOAD)
    with pytest.raises(FetchError, match=r"too many redirects \(more than 3\)"):
        _fetch(f"{server}/hop/4", tmp_path / "no.bin")
    assert not (tmp_path / "no.bin").exists()


@pytest.mark.parametrize(
    "location, reason",
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
        ("http://10.0.0.7/", "private"),
        ("http://[::1]:8080/", "loopback"),
        ("file:///etc/passwd", "only http and https"),
    ],
)
def test_redirect_is_checked_like_the_first_url(server, tmp_path, location, reason):
    with pytest.raises(FetchError, match=reason):
        _fetch(f"{server}/to/{location}", tmp_path / "x.bin")


def test_loopback_is_refused_unless_allowed(server, tmp_path):
    with pytest.raises(FetchError, match="127.0.0.1 is a loopback address: refused"):
        _fetch(f"{server}/file.bin", tmp_path / "x.bin", allow=())
    port = server.rsplit(":", 1)[1]
    with pytest.raises(FetchError, match="localhost resolves to .* loopback"):
        _fetch(f"http://localhost:{port}/file.bin", tmp_path / "x.bin", allow=())
    # Allowed by CIDR, and by host name.
    assert _fetch(f"{server}/file.bin", tmp_path / "a.bin", allow=["127.0.0.0/8"]).size == len(PAYLOAD)
    assert _fetch(f"http://localhost:{port}/file.bin", tmp_path / "b.bin",
                  allow=["localhost", "::1"]).size == len(PAYLOAD)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a.mp4", "file:///etc/passwd", "gopher://x/", "example.com/a.mp4",
            "http:///nohost", "http://user:pw@example.com/a.mp4"],
)
def test_only_plain_http_urls(url, tmp_path):
    with pytest.raises(FetchError):
        _fetch(url, tmp_path / "x.bin")


def test_size_limit_declared(server, tmp_path):
    dest = tmp_path / "x.bin"
    with pytest.raises(FetchError, match="over the limit of 1000000"):
        _fetch(f"{server}/huge-declared", dest)
    assert not dest.exists()


def test_size_limit_while_streaming(server, tmp_path):
    dest = tmp_path / "x.bin"
    with pytest.raises(FetchError, match="over the limit of 1000000 bytes"):
        _fetch(f"{server}/huge", dest)
    assert not dest.exists()  # the partial file is gone


def test_total_time_limit_holds_against_a_dripping_server(server, tmp_path):
    dest = tmp_path / "x.bin"
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        _fetch(f"{server}/drip", dest, timeout=0.5)
    # The drip alone takes 20 s (1000 bytes, 20 ms apart); a per-read timeout would wait it out.
    assert time.monotonic() - started < 10
    assert not dest.exists()


def test_http_errors(server, tmp_path):
    with pytest.raises(FetchError, match="answered HTTP 404"):
        _fetch(f"{server}/missing", tmp_path / "x.bin")


def test_body_shorter_than_announced(server, tmp_path):
    dest = tmp_path / "x.bin"
    with pytest.raises(FetchError, match="broke off"):
        _fetch(f"{server}/short", dest)
    assert not dest.exists()


def test_unicode_host_goes_out_in_ascii(monkeypatch):
    seen = []
    monkeypatch.setattr(fetch_module.socket, "getaddrinfo",
                        lambda host, port, **kw: seen.append(host) or
                        [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))])
    target = check_url("https://bücher.example/ä.mp4")
    assert (target.host, target.address, seen) == ("xn--bcher-kva.example", "93.184.215.14",
                                                    ["xn--bcher-kva.example"])
    assert target.path == "/%C3%A4.mp4"


def test_connects_to_the_address_it_checked(server, tmp_path, monkeypatch):
    """DNS rebinding: the name resolves to an allowed address once, then elsewhere."""
    port = int(server.rsplit(":", 1)[1])
    answers = iter(["127.0.0.1"] + ["10.255.255.1"] * 10)
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host != "media.test":  # urllib3 resolving the IP literal it was given
            return real_getaddrinfo(host, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", rebinding)
    dest = tmp_path / "host.txt"
    _fetch(f"http://media.test:{port}/host", dest, allow=["127.0.0.1"], timeout=5)
    assert dest.read_text() == f"media.test:{port}"  # the original Host, sent to 127.0.0.1


def test_every_resolved_address_must_pass(monkeypatch):
    def two_answers(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ("8.8.8.8", "10.1.1.1")]

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", two_answers)
    with pytest.raises(FetchError, match="10.1.1.1, a private address"):
        check_url("https://mixed.test/video.mp4")


@pytest.mark.parametrize(
    "address, reason",
    [
        ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"), ("169.254.169.254", "link-local"), ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"), ("240.0.0.1", "reserved"), ("100.64.0.1", "non-public"),
        ("::1", "loopback"), ("::", "unspecified"), ("fe80::1", "link-local"),
        ("fc00::1", "private"), ("ff02::1", "multicast"), ("fec0::1", "site-local"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("2002:a00:1::1", "private"),  # 6to4 around 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 around 169.254.169.254
        ("8.8.8.8", None), ("1.1.1.1", None), ("2606:4700:4700::1111", None),
    ],
)
def test_blocked_addresses(address, reason):
    assert blocked_reason(ipaddress.ip_address(address)) == reason


def _self_signed(tmp_path, name: str) -> tuple[str, str]:
    """A certificate for `name` (its own CA) and its key, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture
def https_server(tmp_path, monkeypatch):
    """HTTPS on loopback with a certificate for `media.test`, which resolves to 127.0.0.1."""
    import ssl

    cert, key = _self_signed(tmp_path, "media.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.stopping = threading.Event()
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        return real_getaddrinfo("127.0.0.1" if host == "media.test" else host, *args, **kwargs)

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", resolve)
    yield httpd.server_port, cert
    httpd.stopping.set()
    httpd.shutdown()
    thread.join()


def test_https_to_a_pinned_address_still_verifies_the_host_name(https_server, tmp_path):
    port, cert = https_server
    dest = tmp_path / "tls.bin"
    result = _fetch(f"https://media.test:{port}/file.bin", dest, ca_certs=cert)
    assert result.size == len(PAYLOAD) and dest.read_bytes() == PAYLOAD
    # The same server under another name, or without its CA, is refused.
    with pytest.raises(FetchError, match="hostname '127.0.0.1' doesn't match 'media.test'"):
        _fetch(f"https://127.0.0.1:{port}/file.bin", tmp_path / "x.bin", ca_certs=cert)
    with pytest.raises(FetchError, match="certificate verify failed"):
        _fetch(f"https://media.test:{port}/file.bin", tmp_path / "x.bin")
