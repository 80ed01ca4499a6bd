"""Where a webhook may point (domain/webhook_targets.py), and when one is paused (domain/webhooks.py)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconfliction.config import SettingsError, load_settings
from deconfliction.domain.errors import InvalidInput
from deconfliction.domain.webhook_targets import (
    REFUSED_INWARD,
    REFUSED_METADATA,
    TargetPolicy,
    is_public,
    parse_target,
)
from deconfliction.domain.webhooks import Webhook

PUBLIC = TargetPolicy()

INWARD = [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.1.1", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1", "[::1]", "[::]",
    "[fe80::1]", "[fc00::1]", "[fd12:3456::1]", "[ff02::1]", "[2001:db8::1]", "[::ffff:127.0.0.1]",
    "[::ffff:10.0.0.1]", "[::ffff:7f00:1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "[2002:c0a8:101::1]",
    "[::127.0.0.1]",
]  # fmt: skip
METADATA = ["169.254.169.254", "169.254.170.2", "[fd00:ec2::254]", "168.63.129.16", "100.100.100.200",
            "[::ffff:169.254.169.254]", "192.0.0.192"]  # fmt: skip


@pytest.mark.parametrize("host", INWARD + METADATA)
def test_a_url_to_a_non_public_address_is_refused_naming_the_field(host: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        PUBLIC.check(f"https://{host}/hook")
    assert refused.value.field == "url" and "webhook_allow_hosts" in refused.value.detail


@pytest.mark.parametrize("url", ["http://8.8.8.8/hook", "https://1.1.1.1:443/x", "https://[2606:4700::1111]/x",
                                 "http://hooks.example.org/x", "HTTPS://Hooks.Example.org./x?a=1"])  # fmt: skip
def test_a_public_address_or_a_name_on_a_usual_port_passes_the_check_before_resolution(url: str) -> None:
    target = PUBLIC.check(url)
    assert target.url == url and target.port in (80, 443)


@pytest.mark.parametrize("port", [22, 25, 8080, 8443, 6379, 1, 0])
def test_ports_other_than_80_and_443_are_refused(port: str) -> None:
    with pytest.raises(InvalidInput, match="port"):
        PUBLIC.check(f"http://8.8.8.8:{port}/hook")


def test_credentials_in_a_url_are_refused_without_echoing_them() -> None:
    for url in ("http://user:hunter2-secret@8.8.8.8/hook", "https://token-hunter2-secret@hooks.example.org/"):
        with pytest.raises(InvalidInput) as refused:
            PUBLIC.check(url)
        assert refused.value.field == "url" and "hunter2" not in refused.value.detail
    allowed_everywhere = TargetPolicy.parse("127.0.0.0/8,hooks.example.org")
    with pytest.raises(InvalidInput, match="credentials"):
        allowed_everywhere.check("http://u:p@127.0.0.1:9/metrics")


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "0x7f000001", "017.0.0.1", "127.1", "10.1", "0"])
def test_an_address_spelt_other_than_as_a_dotted_quad_is_refused(host: str) -> None:
    with pytest.raises(InvalidInput, match=r"a\.b\.c\.d"):
        PUBLIC.check(f"http://{host}/hook")


@pytest.mark.parametrize("url", ["http://metadata.google.internal/computeMetadata/v1/", "http://metadata/"])
def test_metadata_service_names_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        PUBLIC.check(url)


def test_the_allow_list_admits_named_hosts_and_networks_on_any_port_but_never_metadata() -> None:
    policy = TargetPolicy.parse(" 127.0.0.1 , Hooks.Internal., 10.20.0.0/16, ::1, 169.254.0.0/16")
    for url in ("http://127.0.0.1:9/x", "http://[::ffff:127.0.0.1]:9/x", "http://10.20.3.4:8080/x",
                "http://[::1]:8000/x", "http://169.254.1.1/x"):  # fmt: skip
        assert policy.check(url).url == url
    with pytest.raises(InvalidInput):
        policy.check("http://10.21.0.1/x")  # outside the allowed network
    named = parse_target("http://hooks.internal:8443/x")
    assert policy.refusal(named, ipaddress.ip_address("192.168.7.7")) is None  # the operator trusts that name
    assert policy.refusal(named, ipaddress.ip_address("169.254.169.254")) == REFUSED_METADATA
    other = parse_target("http://elsewhere.example.org/x")
    assert policy.refusal(other, ipaddress.ip_address("192.168.7.7")) == REFUSED_INWARD
    assert policy.refusal(other, ipaddress.ip_address("10.20.0.5")) is None  # resolved into an allowed network
    assert policy.refusal(other, ipaddress.ip_address("8.8.8.8")) is None
    with pytest.raises(InvalidInput, match="metadata"):
        policy.check("http://169.254.169.254/latest/meta-data/")


@pytest.mark.parametrize("value", ["not a host", "10.0.0.0/33", "hooks.internal/24", "http://x"])
def test_a_malformed_allow_list_is_a_settings_error_naming_it(value: str) -> None:
    with pytest.raises(SettingsError, match="webhook_allow_hosts"):
        load_settings(env={"DECONF_WEBHOOK_ALLOW_HOSTS": value})


def test_webhook_settings_out_of_range_are_settings_errors() -> None:
    for name, value in (("WEBHOOK_TIMEOUT_S", "0"), ("WEBHOOK_MAX_PER_PARTY", "0"), ("WEBHOOK_PAUSE_FAILURES", "0")):
        with pytest.raises(SettingsError):
            load_settings(env={f"DECONF_{name}": value})


ipv4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)


@given(ipv4)
def test_an_ipv4_address_reached_through_any_ipv6_translation_is_judged_as_itself(a: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(0xFFFF << 32 | int(a))
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(a))
    sixtofour = ipaddress.IPv6Address(0x2002 << 112 | int(a) << 80 | 1)
    assert is_public(mapped) == is_public(nat64) == is_public(sixtofour) == is_public(a)


@given(st.sampled_from(["10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16",
                        "100.64.0.0/10", "224.0.0.0/4", "240.0.0.0/4"]), st.integers(0, 2**32 - 1))  # fmt: skip
def test_no_address_of_an_inward_network_is_public(network: str, n: int) -> None:
    net = ipaddress.ip_network(network)
    assert not is_public(net[n % net.num_addresses])


def test_a_webhook_backs_off_then_pauses_after_the_failures_in_a_row_allowed() -> None:
    at = datetime(2030, 1, 1, tzinfo=UTC)
    hook = Webhook("w", "sdf", "http://8.8.8.8/x", "s" * 16, at, 0)
    assert not hook.paused and hook.due(0.0) and hook.view()["paused"] is False
    once = hook.failed("HTTP 503", 1000.0, pause_after=3)
    assert once.failures == 1 and once.next_attempt_s == 1001.0 and not once.paused
    twice = once.failed("timed out", 1001.0, pause_after=3)
    assert twice.next_attempt_s == 1003.0 and not twice.paused and twice.last_error == "timed out"
    paused = twice.failed("unreachable", 1003.0, pause_after=3)
    assert paused.paused and not paused.due(1e12) and paused.view()["paused"] is True
