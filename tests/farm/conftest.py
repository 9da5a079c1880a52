"""Farm fixtures: sources uploaded through the API and probed by a real worker."""
from __future__ import annotations

import pytest
from shared.config import Settings
from shared.states import FINISHED, MediaState
from tests.conftest import postgres_database
from tests.livesrv import Farm, RedisServer, wait_for
from tests.mediakit import PALETTE, make_audio, make_video

SOURCE_SIZE = (320, 180)


@pytest.fixture(scope="session")
def seed_media(tmp_path_factory):
    """The seed example's sources: two videos with their own colours and tones, and music."""
    folder = tmp_path_factory.mktemp("seed")
    return {
        "first": make_video(folder / "first.mp4", size=SOURCE_SIZE, fps=30, duration=10.5,
                            tone_hz=440, colors_per_second=PALETTE),
        "second": make_video(folder / "second.mp4", size=SOURCE_SIZE, fps=25, duration=21,
                             tone_hz=660, colors_per_second=PALETTE[5:] + PALETTE[:5]),
        "music": make_audio(folder / "music.m4a", duration=21, tone_hz=1000),
    }


def upload(vj, path, name=None) -> str:
    """Upload through the client and wait for the worker's probe; returns the video file id."""
    video = vj.video_files.create(name or path.stem, str(path))
    wait_for(lambda: vj.video_files.get(video.id).current_status == MediaState.ANALYZED, 60,
             f"probe of {path.name}")
    return video.id


def wait_finished(api, asset_id, timeout=180) -> dict:
    """Poll the asset until its render ends: uploaded, failed or canceled."""
    def finished():
        asset = api("GET", f"/assets/{asset_id}").json()
        return asset if asset["status"] in FINISHED else None

    return wait_for(finished, timeout, f"render of asset {asset_id}", interval=0.2)


def seed_edit(first, second, music, resolution="1920x1080", **top) -> dict:
    """The seed's example edit, as the Video Jungle docs give it."""
    edit = {
        "video_edit_version": "1.0",
        "video_output_format": "mp4",
        "video_output_resolution": resolution,
        "video_output_fps": 30.0,
        "video_output_filename": "output_video.mp4",
        "video_series_sequential": [
            {"video_id": first, "type": "videofile", "video_start_time": "00:00:00",
             "video_end_time": "00:00:10",
             "audio_levels": [{"audio_level": "0.5", "start_time": "00:00:00", "end_time": "00:00:10"}]},
            {"video_id": second, "type": "videofile", "video_start_time": "00:00:10",
             "video_end_time": "00:00:20",
             "audio_levels": [{"audio_level": "0.7", "start_time": "00:00:10", "end_time": "00:00:20"}]},
        ],
        "audio_overlay": [
            {"audio_id": music, "type": "music", "audio_start_time": "00:00:00",
             "audio_end_time": "00:00:20", "audio_levels": [{"audio_level": "0.5"}]},
        ],
    }
    edit.update(top)
    return edit


@pytest.fixture(scope="session")
def faults_database_url():
    """One PostgreSQL database for the fault tests (each test has its own users)."""
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def fault_source(tmp_path_factory):
    """A 20 s source with colours and a tone: long enough to interrupt its render."""
    folder = tmp_path_factory.mktemp("fault-media")
    return make_video(folder / "long.mp4", size=(320, 180), fps=30, duration=20, tone_hz=440,
                      colors_per_second=PALETTE)


@pytest.fixture
def make_farm(faults_database_url, tmp_path):
    """make_farm(workers=1, storage_url=None) -> a farm of its own, with short leases."""
    farms = []

    def _make(workers: int = 1, storage_url: str | None = None) -> Farm:
        folder = tmp_path / f"farm{len(farms)}"
        folder.mkdir()
        redis = RedisServer(folder)
        redis.start()
        settings = Settings(
            database_url=faults_database_url, redis_url=redis.url,
            storage_url=storage_url or f"file://{folder / 'objects'}", secret_key="faults",
            cache_dir=str(folder / "cache"),
            lease_seconds=3, reap_interval_seconds=1, resend_after_seconds=4,
        )
        farm = Farm(settings, folder, redis)
        farms.append(farm)
        return farm.start(workers)

    yield _make
    for farm in farms:
        farm.stop()


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    """A 1 s clip of 64x36 with a tone: the cheapest render source."""
    return make_video(tmp_path_factory.mktemp("tiny") / "tiny.mp4", size=(64, 36), fps=10,
                      duration=1.0, tone_hz=440)


@pytest.fixture
def tiny_source(api, tiny_clip) -> str:
    """The tiny clip uploaded by this test's user and probed; its video file id."""
    created = api("POST", "/video-file", json={"name": "tiny", "filename": tiny_clip.name})
    assert created.status_code == 201, created.text
    with open(tiny_clip, "rb") as fh:
        api("POST", created.json()["upload_url"], files={"file": (tiny_clip.name, fh)})
    video_id = created.json()["id"]
    wait_for(lambda: api("GET", f"/video-file/{video_id}").json()["current_status"] == "analyzed",
             60, "probe of the tiny clip")
    return video_id


def tiny_edit(source_id: str, **top) -> dict:
    """A 1 s render of the tiny clip at 64x36, 10 fps."""
    return {"video_edit_version": "1.0", "video_output_format": "mp4",
            "video_output_resolution": "64x36", "video_output_fps": 10,
            "video_output_filename": "tiny.mp4",
            "video_series_sequential": [{"video_id": source_id, "type": "videofile",
                                         "video_start_time": 0, "video_end_time": 1}],
            **top}
