"""Settings read from the environment: the variables whose values are checked."""
from __future__ import annotations

import pytest

from shared.config import Settings


@pytest.mark.parametrize("raw, expected", [("", 30.0), ("0", 0.0), ("2", 2.0), ("45.5", 45.5)])
def test_chunk_seconds_from_the_environment(raw, expected):
    assert Settings.from_env({"CANOPY_CHUNK_SECONDS": raw}).chunk_seconds == expected


@pytest.mark.parametrize("raw", ["1", "-5", "nan", "inf", "thirty"])
def test_a_piece_length_no_render_could_use_is_refused_at_start(raw):
    with pytest.raises(ValueError, match="CANOPY_CHUNK_SECONDS"):
        Settings.from_env({"CANOPY_CHUNK_SECONDS": raw})


@pytest.mark.parametrize("name, raw", [
    ("CANOPY_EVENTS_KEEPALIVE", "0"), ("CANOPY_EVENTS_KEEPALIVE", "nan"),
    ("CANOPY_EVENTS_KEEPALIVE", "-1"), ("CANOPY_STREAMS_PER_USER", "-1"),
    ("CANOPY_STREAMS_PER_USER", "many"),
])
def test_event_stream_settings_no_server_could_keep_are_refused_at_start(name, raw):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: raw})


def test_event_stream_settings_from_the_environment():
    settings = Settings.from_env({"CANOPY_EVENTS_KEEPALIVE": "0.5", "CANOPY_STREAMS_PER_USER": "0"})
    assert (settings.events_keepalive_seconds, settings.streams_per_user) == (0.5, 0)
    assert (Settings.from_env({}).events_keepalive_seconds, Settings.from_env({}).streams_per_user) == (
        15.0, 32)
