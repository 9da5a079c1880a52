"""Farm fixtures: sources uploaded through the API and probed by a real worker; farms of
their own for the fault tests."""
from __future__ import annotations

import pytest

from tests.fixtures.database import postgres_database
from tests.fixtures.faults import fault_settings
from tests.fixtures.farm import upload_source
from tests.fixtures.livesrv import Farm, RedisServer
from tests.fixtures.mediakit import PALETTE, make_audio, make_video

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
        settings = fault_settings(faults_database_url, redis.url, folder, storage_url)
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
    return upload_source(api, tiny_clip, "tiny")
