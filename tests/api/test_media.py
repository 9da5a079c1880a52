"""Media ingest end to end: gunicorn + a Celery worker + Redis + storage, real uploads, real probes."""
from __future__ import annotations

import hashlib
import io
import wave
from dataclasses import replace

import pytest
import requests
from shared.models import VideoFile
from shared.queue import MEDIA_QUEUE, PROBE_TASK, make_celery
from shared.states import MediaState
from shared.storage import open_storage
from tests.fixtures.farm import FETCH_TEST_HOST
from tests.fixtures.livesrv import serve_directory, wait_for
from tests.fixtures.mediakit import PALETTE, make_audio, make_image, make_video

DONE = {MediaState.ANALYZED, MediaState.FAILED}


def settled(fetch, what: str) -> dict:
    """Poll `fetch()` (a status dict) until the probe has finished one way or the other."""

    def finished():
        state = fetch()
        return state if state.get("status", state.get("current_status")) in DONE else None

    return wait_for(finished, 60, what)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_video_file_with_the_client(vj, api, tmp_path):
    source = make_video(tmp_path / "clip.mp4", size=(320, 180), fps=25, duration=2.0, tone_hz=440,
                        colors_per_second=PALETTE[:2])
    created = vj.video_files.create("My clip", str(source))
    done = settled(lambda: vj.video_files.get(created.id).model_dump(), "probe of clip.mp4")
    assert done["current_status"] == MediaState.ANALYZED, done
    video = vj.video_files.get(created.id)
    assert (video.size, video.hash) == (source.stat().st_size, sha256(source))
    assert abs(video.duration - 2.0) < 0.1 and abs(video.fps - 25) < 0.01
    assert video.thumbnail_url and video.filename == "clip.mp4"
    extra = api("GET", f"/video-file/{created.id}").json()
    assert (extra["width"], extra["height"], extra["channels"]) == (320, 180, 2)
    assert extra["video_codec"] == "h264" and extra["audio_codec"] == "aac"
    assert vj.video_files.get_analysis(created.id)["analysis"][0]["duration"] == video.duration

    out = tmp_path / "download.mp4"
    vj.video_files.download(created.id, str(out))
    assert out.read_bytes() == source.read_bytes()
    assert created.id in [v.id for v in vj.video_files.list()]
    found = vj.video_files.search(query="my cl", duration_min=1, duration_max=3)
    assert [v["id"] for v in found] == [created.id]
    assert vj.video_files.search(query="my cl", duration_min=5) == []

    link = video.download_url
    assert vj.video_files.delete(created.id)["deleted"] is True
    assert requests.get(link, timeout=10).status_code in (403, 404)  # S3 says 403 for a missing key
    with pytest.raises(requests.HTTPError):
        vj.video_files.get(created.id)


def test_project_assets_with_the_client(vj, tmp_path):
    project = vj.projects.create("Assets", "uploads")
    image = make_image(tmp_path / "still.png", (64, 48), PALETTE[3])
    audio = make_audio(tmp_path / "music.m4a", duration=1.5, tone_hz=880)
    asset = vj.assets.upload_asset("Still", "an image", project.id, str(image))
    music = vj.assets.upload_asset("Music", "a tone", project.id, str(audio))
    for item in (asset, music):
        done = settled(lambda: vj.assets.status(item.id), f"probe of {item.keyname}")
        assert done["status"] == MediaState.ANALYZED and done["uploaded"] is True, done

    fetched = vj.assets.get(asset.id)
    assert fetched.uploaded and fetched.download_url
    downloaded = requests.get(fetched.download_url, timeout=10)
    assert downloaded.content == image.read_bytes()
    assert "attachment" in downloaded.headers["Content-Disposition"]
    assert vj.assets.check(music.id)["status"] == MediaState.ANALYZED

    video = vj.video_files.create("Linked", str(make_video(tmp_path / "v.mp4", duration=1.0)))
    settled(lambda: vj.video_files.get(video.id).model_dump(), "probe of v.mp4")
    linked = vj.assets.add_videofile_to_project(project.id, video.id)
    assert linked.asset_type == "video-reference" and linked.status == MediaState.ANALYZED

    listed = {a.id for a in vj.assets.list_for_project(project.id)}
    assert listed == {asset.id, music.id, linked.id}
    assert vj.assets.list_generated_for_project(project.id) == []
    assert vj.assets.delete(asset.id)["deleted"] is True
    assert requests.get(fetched.download_url, timeout=10).status_code in (403, 404)
    assert {a.id for a in vj.assets.list_for_project(project.id)} == {music.id, linked.id}
    # The linked library file survives the project.
    vj.projects.delete(project.id)
    assert vj.video_files.get(video.id).current_status == MediaState.ANALYZED


def upload_video_file(api, path, name="x"):
    created = api("POST", "/video-file", json={"name": name, "filename": path.name})
    assert created.status_code == 201, created.text
    with open(path, "rb") as fh:
        return api("POST", created.json()["upload_url"], files={"file": (path.name, fh)})


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("notes.mp4", b"this is plain text, not a video\n" * 20, "not a media file"),
        ("cut.mp4", None, "truncated"),
        ("empty.wav", None, "no audio samples"),
    ],
)
def test_bad_media_fails_with_a_reason(api, tmp_path, name, content, reason):
    path = tmp_path / name
    if name == "cut.mp4":
        whole = make_video(tmp_path / "whole.mp4", duration=2.0).read_bytes()
        content = whole[: len(whole) // 3]
    if name == "empty.wav":
        with wave.open(str(tmp_path / "e.wav"), "wb") as empty:  # a valid header, no frames
            empty.setnchannels(2)
            empty.setsampwidth(2)
            empty.setframerate(48000)
        content = (tmp_path / "e.wav").read_bytes()
    path.write_bytes(content)
    uploaded = upload_video_file(api, path)
    assert uploaded.status_code == 200, uploaded.text
    video_id = uploaded.json()["id"]
    done = settled(lambda: api("GET", f"/video-file/{video_id}").json(), f"probe of {name}")
    assert done["current_status"] == MediaState.FAILED
    assert done["error"], done
    assert done["download_url"] is None


def test_a_probe_whose_stored_file_is_gone_fails_the_row(api, settings, db, tmp_path):
    """The object vanished between the probe's queueing and its run: failed, never processing."""
    video_id = upload_video_file(api, make_video(tmp_path / "gone.mp4", duration=1.0)).json()["id"]
    done = settled(lambda: api("GET", f"/video-file/{video_id}").json(), "probe of gone.mp4")
    assert done["current_status"] == MediaState.ANALYZED, done
    open_storage(settings).delete(done["key"])
    with db.session() as session:  # as queue_probe leaves it; the API sends no probe without bytes
        session.get(VideoFile, video_id).status = MediaState.PROCESSING
    make_celery(settings).send_task(PROBE_TASK, args=["video_file", video_id], queue=MEDIA_QUEUE)
    failed = settled(lambda: api("GET", f"/video-file/{video_id}").json(), "probe of a missing file")
    assert failed["current_status"] == MediaState.FAILED and "no longer stored" in failed["error"], failed


def test_zero_byte_upload_is_422(api, tmp_path):
    path = tmp_path / "zero.mp4"
    path.write_bytes(b"")
    response = upload_video_file(api, path)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]


def test_hostile_filename_is_sanitized(api, tmp_path):
    source = make_video(tmp_path / "ok.mp4", duration=1.0)
    created = api("POST", "/video-file", json={"name": "x", "filename": "a.mp4"}).json()
    with open(source, "rb") as fh:
        response = api("POST", created["upload_url"],
                               files={"file": ("../../etc/\x07pass\nwd.mp4", fh)})
    assert response.status_code == 200
    name = response.json()["filename"]  # the client's multipart encoder escapes the newline
    assert name.startswith("pass") and name.endswith("wd.mp4") and name.isprintable()
    assert "/" not in name and ".." not in response.json()["key"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://127.0.0.1:6379/", "http://[::1]/x.mp4",
                                 "http://169.254.169.254/latest/meta-data", "http://10.0.0.8/a.mp4",
                                 "gopher://example.com/"])
def test_url_upload_refuses_private_addresses_and_other_schemes(api, url):
    response = api("POST", "/video-file", json={"name": "x", "filename": url, "upload_method": "url"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "filename"]


def test_url_upload_fetches_from_an_allowed_host(api, tmp_path):
    """The test server's own loopback address is allowed by CANOPY_FETCH_ALLOW; the worker fetches."""
    source = make_video(tmp_path / "remote.mp4", duration=1.0)
    with serve_directory(tmp_path, FETCH_TEST_HOST) as base:
        created = api("POST", "/video-file", json={
            "name": "remote", "filename": f"{base}/remote.mp4", "upload_method": "url"})
        assert created.status_code == 201, created.text
        video_id = created.json()["id"]
        done = settled(lambda: api("GET", f"/video-file/{video_id}").json(), "url fetch")
    assert done["current_status"] == MediaState.ANALYZED, done
    assert done["size"] == source.stat().st_size and done["filename"].endswith("remote.mp4")


def test_direct_upload_then_analysis(api, tmp_path):
    source = make_video(tmp_path / "direct.mp4", duration=1.0)
    created = api("POST", "/video-file", json={
        "name": "d", "filename": "direct.mp4", "upload_method": "direct"}).json()
    assert created["upload_url"].startswith("http")
    put = requests.put(created["upload_url"], data=source.read_bytes(), timeout=30)
    assert put.status_code in (200, 201, 204), put.text
    api("POST", f"/video-file/{created['id']}/analysis")
    done = settled(lambda: api("GET", f"/video-file/{created['id']}").json(), "direct probe")
    assert done["current_status"] == MediaState.ANALYZED and done["size"] == source.stat().st_size


def test_an_upload_named_like_the_thumbnail_keeps_its_bytes(api, tmp_path):
    """The thumbnail is stored beside the upload: under a name no upload can have."""
    source = make_image(tmp_path / "thumbnail.jpg", (640, 360), PALETTE[2])
    created = upload_video_file(api, source, name="t")
    assert created.status_code == 200, created.text
    done = settled(lambda: api("GET", f"/video-file/{created.json()['id']}").json(), "probe")
    assert done["current_status"] == MediaState.ANALYZED and done["hash"] == sha256(source), done
    assert requests.get(done["download_url"], timeout=10).content == source.read_bytes()
    thumbnail = requests.get(done["thumbnail_url"], timeout=10)
    assert thumbnail.status_code == 200 and thumbnail.content != source.read_bytes()


def test_other_owners_media_is_404(api, farm, make_user, tmp_path):
    uploaded = upload_video_file(api, make_video(tmp_path / "mine.mp4", duration=1.0)).json()
    _, key = make_user()
    other = {"X-API-Key": key}
    for method, path in [("GET", f"/video-file/{uploaded['id']}"),
                         ("DELETE", f"/video-file/{uploaded['id']}"),
                         ("POST", f"/video-file/{uploaded['id']}/analysis")]:
        assert requests.request(method, farm.url + path, headers=other, timeout=10).status_code == 404
    project = requests.post(farm.url + "/projects", headers=other, timeout=10,
                            json={"name": "p", "description": "d"}).json()
    link = requests.post(farm.url + f"/projects/{project['id']}/asset", headers=other, timeout=10,
                         json={"upload_method": "video-reference", "asset_type": "video-reference",
                               "keyname": uploaded["id"], "description": ""})
    assert link.status_code == 422 and link.json()["detail"][0]["loc"] == ["body", "keyname"]
    assert api("GET", f"/video-file/{uploaded['id']}").status_code == 200


def test_upload_over_the_limit_is_413(settings, make_user, tmp_path):
    from api import create_app

    small = create_app(replace(settings, max_upload_bytes=10_000)).test_client()
    _, key = make_user()
    headers = {"X-API-Key": key}
    created = small.post("/video-file", json={"name": "big", "filename": "big.mp4"}, headers=headers)
    payload = tmp_path / "big.mp4"
    payload.write_bytes(b"\0" * 50_000)
    with open(payload, "rb") as fh:
        response = small.post(created.json["upload_url"], data={"file": (fh, "big.mp4")},
                              headers=headers, content_type="multipart/form-data")
    assert response.status_code == 413
    assert small.get(f"/video-file/{created.json['id']}", headers=headers).json["current_status"] == MediaState.WAITING


def test_a_direct_upload_over_the_limit_is_refused_at_analysis(settings, db, make_user):
    """A presigned S3 PUT carries no size condition: the bytes land, the analysis refuses them."""
    from api import create_app
    from shared.models import VideoFile
    from shared.storage import open_storage

    small = create_app(replace(settings, max_upload_bytes=10_000)).test_client()
    headers = {"X-API-Key": make_user()[1]}
    created = small.post("/video-file", headers=headers, json={
        "name": "big", "filename": "big.mp4", "upload_method": "direct"}).json
    row = small.get(f"/video-file/{created['id']}", headers=headers).json
    store = open_storage(settings)
    with db.session() as session:
        key = session.get(VideoFile, created["id"]).storage_key
    store.put_bytes(key, b"\0" * 50_000)  # what a PUT to the presigned link leaves

    response = small.post(f"/video-file/{created['id']}/analysis", headers=headers)
    assert response.status_code == 413, response.json
    assert "CANOPY_MAX_UPLOAD_BYTES" in response.json["detail"]
    assert not store.exists(key)
    after = small.get(f"/video-file/{created['id']}", headers=headers).json
    assert after["current_status"] == row["current_status"] == MediaState.WAITING


def test_a_refused_upload_frees_the_file_even_when_its_cleanup_fails(app, client, auth, monkeypatch,
                                                                    caplog):
    """The refused bytes' delete failing (a store down) must not leave the row processing."""
    storage = app.extensions["canopy"].storage

    def broken_delete(key):
        raise OSError(36, "File name too long")

    created = client.post("/video-file", json={"name": "x", "filename": "a.mp4"}, headers=auth).json
    monkeypatch.setattr(storage, "delete", broken_delete)  # no store refuses a delete on demand
    for attempt in range(2):  # the second gets the same refusal, not a 409 for a stuck row
        response = client.post(created["upload_url"], data={"file": (io.BytesIO(b""), "a.mp4")},
                               headers=auth, content_type="multipart/form-data")
        assert response.status_code == 422, (attempt, response.json)
        assert response.json["detail"][0]["loc"] == ["body", "file"]
    assert client.get(f"/video-file/{created['id']}", headers=auth).json["current_status"] == MediaState.WAITING
    assert "could not delete the refused upload" in caplog.text


def test_refused_reupload_keeps_the_stored_file(api, tmp_path):
    source = make_video(tmp_path / "keep.mp4", duration=1.0)
    video_id = upload_video_file(api, source).json()["id"]
    done = settled(lambda: api("GET", f"/video-file/{video_id}").json(), "probe of keep.mp4")
    assert done["current_status"] == MediaState.ANALYZED

    empty = tmp_path / "keep2.mp4"
    empty.write_bytes(b"")
    with open(empty, "rb") as fh:  # same file name: the refused bytes must not replace the kept ones
        refused = api("POST", f"/video-file/{video_id}/upload-video", files={"file": ("keep.mp4", fh)})
    assert refused.status_code == 422
    after = api("GET", f"/video-file/{video_id}").json()
    assert after["current_status"] == MediaState.ANALYZED and after["key"] == done["key"]
    assert requests.get(after["download_url"], timeout=10).content == source.read_bytes()


def test_direct_asset_upload_then_analysis(api, tmp_path):
    project = api("POST", "/projects", json={"name": "p", "description": "d"}).json()
    image = make_image(tmp_path / "direct.png", (32, 32), PALETTE[2])
    created = api("POST", f"/projects/{project['id']}/asset", json={
        "upload_method": "direct", "asset_type": "user", "keyname": "direct.png"}).json()
    slot = created["upload_url"]
    put = requests.request(slot.get("method", "PUT"), slot["url"], data=image.read_bytes(),
                           headers=slot.get("headers") or {}, timeout=30)
    assert put.status_code in (200, 201, 204), put.text
    assert api("POST", f"/assets/{created['id']}/analysis").status_code == 200
    done = settled(lambda: api("GET", f"/assets/{created['id']}/status").json(), "direct asset probe")
    assert done["status"] == MediaState.ANALYZED and done["uploaded"] is True


def test_long_non_ascii_filename_is_shortened_to_fit_a_file_name(api, tmp_path):
    """190 'é' are 380 bytes of UTF-8: over any file system's 255-byte name, though < 200 characters."""
    source = make_video(tmp_path / "ok.mp4", duration=1.0)
    created = api("POST", "/video-file", json={"name": "x", "filename": "a.mp4"}).json()
    with open(source, "rb") as fh:
        response = api("POST", created["upload_url"], files={"file": ("é" * 190 + ".mp4", fh)})
    assert response.status_code == 200, response.text
    name = response.json()["filename"]
    assert name.endswith(".mp4") and set(name[:-4]) == {"é"} and len(name.encode()) <= 150
    done = settled(lambda: api("GET", f"/video-file/{created['id']}").json(), "probe")
    assert done["current_status"] == MediaState.ANALYZED, done
    with open(source, "rb") as fh:  # and the file takes uploads again
        again = api("POST", created["upload_url"], files={"file": ("ok.mp4", fh)})
    assert again.status_code == 200, again.text


def test_direct_upload_with_a_long_emoji_filename(api, tmp_path):
    source = make_video(tmp_path / "direct.mp4", duration=1.0)
    created = api("POST", "/video-file", json={
        "name": "d", "filename": "😀" * 150 + ".mp4", "upload_method": "direct"})
    assert created.status_code == 201, created.text
    created = created.json()
    assert created["filename"].endswith(".mp4") and len(created["filename"].encode()) <= 150
    put = requests.put(created["upload_url"], data=source.read_bytes(), timeout=30)
    assert put.status_code in (200, 201, 204), put.text
    assert api("POST", f"/video-file/{created['id']}/analysis").status_code == 200
    done = settled(lambda: api("GET", f"/video-file/{created['id']}").json(), "direct probe")
    assert done["current_status"] == MediaState.ANALYZED, done
