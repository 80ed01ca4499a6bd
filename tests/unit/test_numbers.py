"""Numbers and times from outside at the edges of what float, int() and datetime hold (each once a 500)."""

from __future__ import annotations

import math

import pytest

from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.numbers import INT64_MAX, finite_float, parse_whole
from deconfliction.domain.timewindow import parse_time


@pytest.mark.parametrize("value", [10**400, -(10**400), math.nan, math.inf, -math.inf, True, "1", None, [1]])
def test_finite_float_refuses_what_is_not_a_finite_json_number(value: object) -> None:
    assert finite_float(value) is None


@pytest.mark.parametrize(("value", "expected"), [(0, 0.0), (10**300, 1e300), (-2.5, -2.5), (2**63, 2.0**63)])
def test_finite_float_accepts_finite_numbers(value: object, expected: float) -> None:
    assert finite_float(value) == expected


@pytest.mark.parametrize("text", ["", "-1", "+1", " 1", "1.0", "\u00b2", "\u0663", str(INT64_MAX + 1), "9" * 5000])
def test_parse_whole_refuses_all_but_ascii_digits_within_64_bits(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_whole(text, "after", "a cursor")
    assert info.value.field == "after"


@pytest.mark.parametrize("text", ["0", "007", str(INT64_MAX)])
def test_parse_whole_accepts_ascii_digits_within_64_bits(text: str) -> None:
    assert parse_whole(text, "after", "a cursor") == int(text)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01"])
def test_a_time_that_leaves_the_years_datetime_holds_once_in_utc_is_invalid_input(value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_time(value, "properties.start")
    assert info.value.field == "properties.start" and "9999" in info.value.detail


def test_the_first_and_last_utc_instants_parse() -> None:
    assert parse_time("0001-01-01T00:00:00Z", "t").year == 1
    assert parse_time("9999-12-31T23:59:59.999999Z", "t").year == 9999
