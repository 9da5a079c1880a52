"""Log lines keep signed links without their signatures: the formatters, and the access log
of a live gunicorn."""
from __future__ import annotations

import io
import json
import logging
import sys
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import requests

from shared.config import REPO_ROOT
from shared.logs import REDACTED, JsonFormatter, TextFormatter, redact
from shared.storage import open_storage
from tests.fixtures.livesrv import LiveServer, wait_for


def test_redact_drops_only_the_signatures():
    local = "GET /files/a/b.mp4?expires=1&filename=b.mp4&signature=abc_-DEF HTTP/1.1"
    assert redact(local) == local.replace("abc_-DEF", REDACTED)
    s3 = "https://s3.example/b/k?X-Amz-Credential=c&X-Amz-Signature=ff00&X-Amz-Security-Token=t&n=1"
    assert redact(s3) == (f"https://s3.example/b/k?X-Amz-Credential=c&X-Amz-Signature={REDACTED}"
                          f"&X-Amz-Security-Token={REDACTED}&n=1")
    assert redact("no signature=here, ?designature=x") == "no signature=here, ?designature=x"
    quoted = json.dumps({"msg": '"GET /f?signature=abc" "http://h/f?signature=def"'})
    assert json.loads(redact(quoted))["msg"] == (
        f'"GET /f?signature={REDACTED}" "http://h/f?signature={REDACTED}"')


def test_app_log_lines_lose_signatures_in_both_formats():
    link = "http://h/files/k?expires=9&signature=SeCrEt"
    try:
        raise ConnectionError(f"cannot fetch {link}")
    except ConnectionError:
        record = logging.LogRecord("worker", logging.WARNING, __file__, 1, "fetch of %s failed",
                                   (link,), sys.exc_info())
    for formatter in (TextFormatter(), JsonFormatter()):
        line = formatter.format(record)
        assert "SeCrEt" not in line and line.count(f"signature={REDACTED}") == 2, line


def test_gunicorns_error_log_loses_signatures_too(tmp_path, monkeypatch):
    import runpy

    from gunicorn.config import Config

    # A folder of its own: else the file sets PROMETHEUS_MULTIPROC_DIR for this process.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    logger_class = runpy.run_path(str(REPO_ROOT / "gunicorn.conf.py"))["RedactingLogger"]
    config = Config()
    config.set("errorlog", str(tmp_path / "error.log"))
    logger = logger_class(config)
    logger.error("Error handling request %s", "/files/k?expires=1&signature=SeCrEt")
    logged = (tmp_path / "error.log").read_text()
    assert "SeCrEt" not in logged and f"signature={REDACTED}" in logged


def test_the_access_log_keeps_signed_links_without_their_signature(settings, monkeypatch,
                                                                     tmp_path):
    # Both of gunicorn's access formats, one on each database's run: its own and JSON.
    log_format = "json" if settings.database_url.startswith("postgresql") else "text"
    ours = replace(settings, storage_url=f"file://{tmp_path / 'objects'}", log_format=log_format)
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--access-logfile - --workers 1")
    server = LiveServer(ours, tmp_path)
    server.start()
    try:
        storage = open_storage(replace(ours, public_url=server.url))
        storage.put_stream("logs/clip.mp4", io.BytesIO(b"x" * 100))
        link = storage.download_url("logs/clip.mp4", filename="clip.mp4")
        signature = parse_qs(urlsplit(link).query)["signature"][0]
        assert requests.get(link, timeout=30).status_code == 200
        other = "B" if signature.endswith("A") else "A"
        forged = link.replace(signature, signature[:-1] + other)
        assert requests.get(forged, headers={"Referer": link}, timeout=30).status_code == 403
        lines = wait_for(lambda: _access_lines(server, 2), 30, "two access-log lines")
    finally:
        server.stop()
    text = server.log_path.read_text()
    assert signature[:-1] not in text
    assert all(f"signature={REDACTED}" in line and "expires=" in line for line in lines), lines
    if log_format == "json":
        assert [json.loads(line)["logger"] for line in lines] == ["gunicorn.access"] * 2


def _access_lines(server, count: int) -> list[str] | None:
    found = [line for line in server.log_path.read_text().splitlines() if "/files/logs/" in line]
    return found if len(found) >= count else None
