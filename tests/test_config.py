"""Settings read from the environment: the variables whose values are checked."""
from __future__ import annotations

import pytest

from shared.config import Settings


@pytest.mark.parametrize("raw, expected", [("", 30.0), ("0", 0.0), ("2", 2.0), ("45.5", 45.5)])
def test_chunk_seconds_from_the_environment(raw, expected):
    assert Settings.from_env({"CANOPY_CHUNK_SECONDS": raw}).chunk_seconds == expected


@pytest.mark.parametrize("raw", ["1", "-5", "nan", "inf", "thirty"])
def test_a_chunk_length_no_render_could_use_is_refused_at_start(raw):
    with pytest.raises(ValueError, match="CANOPY_CHUNK_SECONDS"):
        Settings.from_env({"CANOPY_CHUNK_SECONDS": raw})
