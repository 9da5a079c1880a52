"""`/files/<key>`: the local store's signed links, over real HTTP."""
from __future__ import annotations

import os
import time
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import delete

from shared.models import VideoFile
from shared.storage import InvalidKey

from tests.fixtures.livesrv import UPLOAD_LIMIT


# Only the local backend hands out /files/ links.
pytestmark = pytest.mark.parametrize("storage", ["local"], indirect=True)


@pytest.fixture
def local(storage):
    assert storage.scheme == "file"
    return storage

DATA = bytes(range(256)) * 40  # 10240 bytes with a recognisable pattern


def _stored(local, ns, name="video.mp4"):
    key = f"{ns}/{name}"
    local.put_bytes(key, DATA)
    return key


def _with(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


def test_range_forms(local, ns):
    url = local.download_url(_stored(local, ns), "v.mp4")
    cases = {"bytes=0-0": DATA[:1], "bytes=10240-": None, "bytes=-16": DATA[-16:],
             "bytes=10000-99999": DATA[10000:],
             "bytes=-99999": DATA,  # a suffix longer than the object: all of it (RFC 9110)
             "bytes=-0": None}  # a suffix of no byte: valid, and satisfied by none
    for header, body in cases.items():
        answer = requests.get(url, headers={"Range": header}, timeout=5)
        if body is None:
            assert answer.status_code == 416
            assert answer.headers["Content-Range"] == f"bytes */{len(DATA)}"
        else:
            assert answer.status_code == 206, header
            assert answer.content == body
            assert answer.headers["Accept-Ranges"] == "bytes"
            assert answer.headers["Content-Type"] == "video/mp4"


@pytest.mark.parametrize("header", ["bytes=oops", "items=0-1", "bytes=5-2", "bytes=0-1,5-6"])
def test_unparsable_other_unit_or_multi_range_gets_the_whole(local, ns, header):
    """RFC 9110: a Range header that does not parse, or names another unit, is ignored."""
    url = local.download_url(_stored(local, ns), "v.mp4")
    whole = requests.get(url, headers={"Range": header}, timeout=5)
    assert whole.status_code == 200 and whole.content == DATA


def test_head_answers_headers_only(local, ns):
    url = local.download_url(_stored(local, ns), "v.mp4")
    answer = requests.head(url, timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Length"] == str(len(DATA))
    assert answer.content == b""


def test_expired_link_is_refused(local, ns):
    url = local.download_url(_stored(local, ns), "v.mp4", ttl=30)
    local.clock = lambda: time.time() + 31
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 403
    assert answer.json() == {"detail": "link has expired"}


@pytest.mark.parametrize(
    "change",
    [
        {"filename": "other.mp4"},  # renamed download
        {"expires": "9999999999"},  # stretched
        {"signature": "A" * 43},
    ],
)
def test_tampered_link_is_refused(local, ns, change):
    url = local.download_url(_stored(local, ns), "v.mp4")
    answer = requests.get(_with(url, **change), timeout=5)
    assert answer.status_code == 403
    assert answer.json()["detail"] == "link signature is invalid"


@pytest.mark.parametrize(
    "query",
    [
        "expires=9999999999&signature=%C3%A9",  # a non-ASCII signature
        "expires=%C2%B2&signature=x",  # "²": a digit to str.isdigit, not to int()
        "expires=%D9%A3&signature=x",  # an Arabic-Indic 3: int() takes it
        "expires=" + "9" * 13 + "&signature=x",
        "expires=-1&signature=x",
        "expires=&signature=x",
    ],
)
def test_malformed_link_arguments_are_refused(local, ns, query):
    key = _stored(local, ns)
    for method in ("GET", "PUT"):
        answer = requests.request(method, f"{local.public_url}/files/{key}?{query}", timeout=5)
        assert answer.status_code == 403, (method, answer.text)
        assert "detail" in answer.json()
    assert local.read_bytes(key) == DATA


def test_link_of_one_key_does_not_open_another(local, ns):
    _stored(local, ns, "secret.mp4")
    url = local.download_url(_stored(local, ns), "v.mp4")
    answer = requests.get(url.replace("video.mp4", "secret.mp4"), timeout=5)
    assert answer.status_code == 403


def test_unsigned_and_missing(local, ns):
    key = _stored(local, ns)
    plain = requests.get(f"{local.public_url}/files/{key}", timeout=5)
    assert plain.status_code == 403 and "detail" in plain.json()
    gone = requests.get(local.download_url(f"{ns}/gone.mp4", "g.mp4"), timeout=5)
    assert gone.status_code == 404 and gone.json() == {"detail": "object not found"}


def test_download_link_cannot_upload(local, ns):
    key = _stored(local, ns)
    answer = requests.put(local.download_url(key, None), data=b"overwrite", timeout=5)
    assert answer.status_code == 403
    assert local.read_bytes(key) == DATA


def test_a_link_whose_row_is_gone_stores_nothing(local, ns, direct_slot, files_server):
    """A signed PUT link outlives its row: the row, not the signature, says bytes may come."""
    unknown = f"{ns}/video-files/{uuid.uuid4()}/gone.mp4"
    answer = requests.put(local.upload_url(unknown)["url"], data=b"bytes", timeout=5)
    assert answer.status_code == 404 and "deleted" in answer.json()["detail"]
    assert not local.exists(unknown)
    key = direct_slot("kept.mp4")
    with files_server.db.session() as session:
        session.execute(delete(VideoFile).where(VideoFile.storage_key == key))
    assert requests.put(local.upload_url(key)["url"], data=b"bytes", timeout=5).status_code == 404
    assert list(local.list_objects(key.rsplit("/", 1)[0])) == []


def test_upload_over_limit_is_refused(local, direct_slot):
    key = direct_slot("huge.bin")
    url = local.upload_url(key)["url"]
    declared = requests.put(url, data=b"x" * (UPLOAD_LIMIT + 1), timeout=5)
    assert declared.status_code == 413
    # Chunked: no Content-Length, so the limit is enforced while streaming.
    chunks = (b"y" * 65536 for _ in range(UPLOAD_LIMIT // 65536 + 1))
    streamed = requests.put(url, data=chunks, timeout=5)
    assert streamed.status_code == 413
    assert not local.exists(key)
    assert not list(local.path(key).parent.glob("*.part"))  # no partial file left behind


def test_symlink_out_of_the_root_is_refused(local, ns, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_bytes(b"secret")
    link_dir = local.root / ns
    link_dir.mkdir(parents=True)
    os.symlink(outside, link_dir / "escape")
    with pytest.raises(InvalidKey):
        local.read_bytes(f"{ns}/escape/passwd")
    signed = local.download_url(f"{ns}/escape/passwd", "p.txt")
    assert requests.get(signed, timeout=5).status_code == 404
