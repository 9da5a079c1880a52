"""The API document's patterns never allow what their validators refuse: strings drawn from
each pattern (hypothesis, a fixed seed) and every size at the boxes' edges."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from shared import patterns
from shared.edit_fields import (DOCUMENTED_SIZES, MAX_AREA, MIN_SIDE, parse_callback_url, parse_resolution,
                                 parse_uuid)
from shared.fetch import url_form

DRAWN = settings(max_examples=150, derandomize=True, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
SIZES = patterns.sizes(MIN_SIDE, DOCUMENTED_SIZES)


@pytest.mark.parametrize("lo, hi", [(16, 4096), (0, 98), (16, 2160), (100, 1000)])
def test_even_number_matches_exactly_the_even_numbers_in_its_range(lo, hi):
    group = re.compile(patterns.even_number(lo, hi))
    assert [n for n in range(0, 10_000) if group.fullmatch(str(n))] == [
        n for n in range(lo, hi + 1) if n % 2 == 0]


def test_every_documented_size_is_accepted_and_the_boxes_edges_hold():
    pattern = re.compile(SIZES)
    edges = sorted({e + d for box in DOCUMENTED_SIZES for e in box for d in (-2, -1, 0, 1, 2)}
                   | {MIN_SIDE - 2, MIN_SIDE - 1, MIN_SIDE, 4094, 4096, 4098})
    for width in range(0, 4200):
        for height in edges:
            for size in (f"{width}x{height}", f"{height}X{width}"):
                if pattern.fullmatch(size):
                    assert parse_resolution(size), size
                    w, h = map(int, re.split("[xX]", size))
                    assert w * h <= MAX_AREA and w % 2 == 0 == h % 2
    for width, height in DOCUMENTED_SIZES:  # each box's own corner is documented
        assert pattern.fullmatch(f"{width}x{height}") and pattern.fullmatch(" 16x16\n")
    assert not pattern.fullmatch("") and not pattern.fullmatch("1920x")


@DRAWN
@given(st.from_regex(SIZES, fullmatch=True))
def test_drawn_sizes_are_accepted(size):
    parse_resolution(size)


@DRAWN
@given(st.from_regex(patterns.UUID, fullmatch=True))
def test_drawn_uuids_are_accepted(value):
    parse_uuid(value)


@DRAWN
@given(st.from_regex(patterns.HTTP_URL, fullmatch=True).filter(lambda u: len(u) <= 2000))
def test_drawn_urls_have_a_fetchable_form(url):
    url_form(url)
    parse_callback_url(url)
