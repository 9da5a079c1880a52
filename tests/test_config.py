"""Settings read from the environment: the variables whose values are checked."""
from __future__ import annotations

from dataclasses import fields

import pytest

from shared.config import ENV_VARS, Settings


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


def test_to_env_gives_back_every_setting_from_env_reads():
    """A child process started with `to_env()` reads the same settings: every variable is
    written, none drifts (a setting from_env reads but to_env forgets would come back as its
    default here)."""
    changed = Settings(
        database_url="postgresql+psycopg://db/x", redis_url="redis://r:1/2",
        storage_url="s3://k:s@h:9/b", secret_key="s", public_url="https://farm.example",
        port=8123, max_upload_bytes=123, link_ttl_seconds=77, encoder="cpu", cache_dir="/c",
        fetch_allow=["a.example", "10.0.0.0/8"], max_output_seconds=99,
        orphan_grace_seconds=98, lease_seconds=7, render_cache_bytes=0,
        reap_interval_seconds=3, resend_after_seconds=4, db_idle_transaction_seconds=2.5,
        queue_timeout_seconds=5, chunk_seconds=12.5, webhook_backoff=(1.0, 2.5),
        webhook_timeout_seconds=6, webhook_retention_days=0.5, events_keepalive_seconds=0.25,
        streams_per_user=2, metrics_token="t", log_format="json", hold_dir="/h")
    fixed = {"heartbeat_seconds"}  # set in code only
    assert {f.name for f in fields(Settings)} - fixed == set(ENV_VARS)
    assert all(getattr(changed, name) != getattr(Settings(), name) for name in ENV_VARS)
    assert Settings.from_env(changed.to_env()) == changed
