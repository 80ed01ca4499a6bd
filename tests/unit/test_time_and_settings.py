"""Times, altitude bands, separations and settings: parsing and their precise errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from deconfliction.config import SETTINGS, Settings, SettingsError, load_settings
from deconfliction.domain.altitude import AltitudeBand
from deconfliction.domain.declarations import Kind
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.separation import DEFAULT_SEPARATIONS_M, SeparationPolicy, parse_separation_overrides
from deconfliction.domain.timewindow import TimeWindow, format_time, parse_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-09-09T05:00:00Z", datetime(2017, 9, 9, 5, tzinfo=UTC)),
        ("2017-09-09T08:00:00+03:00", datetime(2017, 9, 9, 5, tzinfo=UTC)),
        ("2017-09-09t05:00:00.250z", datetime(2017, 9, 9, 5, 0, 0, 250000, tzinfo=UTC)),
        ("2017-09-09T05:00:00.123456789Z", datetime(2017, 9, 9, 5, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_rfc3339_times_are_read_into_utc(text: str, expected: datetime) -> None:
    assert parse_time(text, "start") == expected


@pytest.mark.parametrize("text", ["2017-09-09T05:00:00", "2017-09-09", "yesterday", "2017-13-09T05:00:00Z", 5])
def test_times_without_offset_or_malformed_are_refused_naming_the_field(text: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_time(text, "properties.start")
    assert caught.value.field == "properties.start"


def test_times_are_returned_in_utc_with_z() -> None:
    assert format_time(parse_time("2017-09-09T08:00:00+03:00", "t")) == "2017-09-09T05:00:00Z"


def test_window_end_must_follow_start() -> None:
    start = datetime(2017, 9, 9, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="must be after"):
        TimeWindow(start, start)


def test_altitude_band_order_and_limits() -> None:
    with pytest.raises(InvalidInput) as caught:
        AltitudeBand(500, 100)
    assert caught.value.field == "properties.altitude.upper_m"
    with pytest.raises(InvalidInput):
        AltitudeBand(float("nan"), None)
    assert AltitudeBand(0, 100).overlaps(AltitudeBand(100, None))
    assert not AltitudeBand(0, 99.9).overlaps(AltitudeBand(100, None))


def test_every_pair_of_kinds_has_a_default_separation() -> None:
    for a in Kind:
        for b in Kind:
            assert SeparationPolicy().default_m(a, b) == DEFAULT_SEPARATIONS_M[frozenset({a, b})]


def test_separation_overrides_parse_and_reject_nonsense() -> None:
    assert parse_separation_overrides("site/area=3500, route/route=10") == {
        frozenset({Kind.SITE, Kind.AREA}): 3500.0,
        frozenset({Kind.ROUTE}): 10.0,
    }
    for bad in ("site=1", "site/lake=1", "site/area=-1", "site/area=x"):
        with pytest.raises(ValueError):
            parse_separation_overrides(bad)


def test_settings_precedence_file_then_env_then_options(tmp_path: Path) -> None:
    config = tmp_path / "deconf.toml"
    config.write_text('[deconf]\nport = 9000\nmax_vertices = 77\ndb = "from-file.db"\n')
    s = load_settings(config_file=config, env={"DECONF_PORT": "9100"}, overrides={"db": "cli.db"})
    assert (s.port, s.max_vertices, s.db) == (9100, 77, "cli.db")


def test_settings_errors_say_which_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="DECONF_PORT"):
        load_settings(env={"DECONF_PORT": "eighty"})
    config = tmp_path / "c.toml"
    config.write_text("colour = 'red'\n")
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        load_settings(config_file=config, env={})
    with pytest.raises(SettingsError, match="separation_defaults"):
        load_settings(env={"DECONF_SEPARATION_DEFAULTS": "site/moon=5"})


def test_settings_are_declared_once_and_match_the_dataclass() -> None:
    declared = {s.name: s.default for s in SETTINGS}
    assert declared == {name: getattr(Settings(), name) for name in Settings.__dataclass_fields__}
