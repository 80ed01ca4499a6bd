"""Settings, declared once: name, type, default and help. The CLI, the server and docs/configuration.md read them here.

Precedence, lowest first: defaults, the TOML file (`--config` or `DECONF_CONFIG`), environment `DECONF_<NAME>`,
command-line options.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from deconfliction.domain.covering import DisclosureSteps
from deconfliction.domain.declarations import PRECISION_MAX_M, PRECISION_MIN_M, DeclarationLimits
from deconfliction.domain.parties import PARTY_ID
from deconfliction.domain.probing import ProbeRule
from deconfliction.domain.separation import SeparationPolicy, parse_separation_overrides
from deconfliction.domain.track_auth import check_prefix
from deconfliction.domain.webhook_targets import TargetPolicy
from deconfliction.index import INDEXES


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"DECONF_{self.name.upper()}"


SETTINGS: tuple[Setting, ...] = (
    Setting("db", str, "deconf.db", "Path of the SQLite database file (created if missing)."),
    Setting(
        "database_url",
        str,
        "",
        "PostgreSQL (with PostGIS) to keep the channel in instead, e.g. 'postgresql://USER:PASSWORD@HOST/DB': "
        "several server processes can then share one channel. Empty: the SQLite file `db`.",
    ),
    Setting("host", str, "127.0.0.1", "Interface the HTTP server listens on."),
    Setting("port", int, 8000, "TCP port the HTTP server listens on."),
    Setting(
        "admin_token",
        str,
        "",
        "The admin token. Empty: one is generated on first start, printed once and stored hashed.",
    ),
    Setting("max_body_bytes", int, 1_048_576, "Largest request body accepted; larger bodies get 413."),
    Setting("max_vertices", int, 10_000, "Most vertices one declaration's geometry may have (422 beyond)."),
    Setting("max_area_km2", float, 200_000.0, "Largest area one declaration may cover, in km² (422 beyond)."),
    Setting("max_radius_m", float, 50_000.0, "Largest radius_m a declaration may state (422 beyond)."),
    Setting(
        "separation_max_m",
        float,
        50_000.0,
        "Largest separation_m a declaration may state (422 beyond). With max_radius_m it caps a declaration's "
        "reach: max_area_km2 applies to the shape as grown by its radius and separation.",
    ),
    Setting(
        "disclosure_precision_m",
        float,
        1_000.0,
        "A declaration's precision_m when it states none: parties outside its audience learn its position no "
        "better than this, through conflicts or otherwise (100 to 50000; see docs/concepts.md, 'Need to know').",
    ),
    Setting(
        "disclosure_time_s",
        float,
        3_600.0,
        "Parties outside a declaration's audience learn the edges of its time window no better than this.",
    ),
    Setting(
        "disclosure_altitude_m",
        float,
        100.0,
        "Parties outside a declaration's audience learn the edges of its altitude band no better than this.",
    ),
    Setting(
        "disclosure_probe_count",
        int,
        6,
        "Brief conflicts one party's declarations may open with the same hidden declaration within "
        "disclosure_probe_window_s before its owner is told of probing (event disclosure.probing).",
    ),
    Setting("disclosure_probe_window_s", float, 3_600.0, "The window in which brief conflicts are counted."),
    Setting(
        "disclosure_probe_brief_s",
        float,
        600.0,
        "A conflict resolved within this many seconds of opening, by its opener changing or cancelling its "
        "declaration, counts as a probe.",
    ),
    Setting(
        "disclosure_probe_delay_s",
        float,
        60.0,
        "Once a party is flagged as probing, it may write declarations no more often than this (429 between), "
        "until disclosure_probe_window_s has passed since its last probe.",
    ),
    Setting(
        "separation_defaults",
        str,
        "",
        "Overrides of the default separation per pair of kinds, e.g. "
        "'site/area=3000,area/area=2000' (metres). See docs/concepts.md for the defaults and their reasons.",
    ),
    Setting(
        "rate_limit_per_s",
        float,
        100.0,
        "Sustained requests per second allowed per token (429 beyond); 0 disables the limit.",
    ),
    Setting("rate_limit_burst", int, 200, "Requests a token may send in a burst above the sustained rate."),
    Setting("sse_heartbeat_s", float, 15.0, "Seconds between keep-alive comments on an idle event stream."),
    Setting(
        "sse_streams_per_token",
        int,
        16,
        "Event streams (GET /v1/events) one token may hold open at once, per server process; one more gets 429.",
    ),
    Setting(
        "http_header_timeout_s",
        float,
        10.0,
        "Seconds a client has to send a request's line and headers, from its first byte (or from connecting); a "
        "slower one (slowloris) gets 408 and is disconnected.",
    ),
    Setting(
        "http_body_timeout_s",
        float,
        60.0,
        "Seconds a client has to send a request's whole body once its headers are in; a slower one gets 408.",
    ),
    Setting(
        "http_max_header_bytes",
        int,
        65_536,
        "Most bytes of request line and headers one request may send; more gets 431 and the connection closes.",
    ),
    Setting("http_keep_alive_s", float, 5.0, "Seconds an idle keep-alive connection is kept open between requests."),
    Setting(
        "http_send_stall_s",
        float,
        10.0,
        "Seconds a client may leave the server's answer unread once the send buffers are full before its connection "
        "is dropped: an event stream whose reader is stuck is closed, and resumes with Last-Event-ID.",
    ),
    Setting(
        "max_connections",
        int,
        2_000,
        "Most connections (and requests in progress) one server process holds at once; past it, 503.",
    ),
    Setting("page_limit_max", int, 1_000, "Most items one list request returns."),
    Setting(
        "import_max_bytes",
        int,
        16_777_216,
        "Largest file an import (POST /v1/imports) accepts, in bytes; other requests keep max_body_bytes.",
    ),
    Setting(
        "import_rows_max",
        int,
        5_000,
        "Most declarations one import (POST /v1/imports, `deconf import`) may hold; a larger file is refused whole.",
    ),
    Setting(
        "index",
        str,
        "grid",
        "The in-memory spatio-temporal index: 'grid' (multi-resolution hashed grid, the "
        "fastest at a million declarations) or 'rtree' (3-D R-tree, libspatialindex).",
    ),
    Setting("log_level", str, "info", "Log level: debug, info, warning, error."),
    Setting(
        "ledger_key_file",
        str,
        "",
        "PEM file of the server's Ed25519 key that signs the ledger. Empty: '<db>.ledger-key.pem' beside the "
        "database, created (mode 0600) on first start. Keep a copy: entries signed with a lost key still verify "
        "with its public key, but the chain cannot go on under it.",
    ),
    Setting(
        "notification_ack_s",
        float,
        86_400.0,
        "Default deadline, in seconds after sharing, for a party to acknowledge a declaration shared with it.",
    ),
    Setting("overdue_check_s", float, 1.0, "Seconds between checks for missed acknowledgement deadlines."),
    Setting(
        "webhook_timeout_s",
        float,
        10.0,
        "Seconds one webhook delivery may take in all (resolving, connecting, sending, the answer's status line, "
        "headers and body), however slowly the receiver trickles.",
    ),
    Setting(
        "webhook_allow_hosts",
        str,
        "",
        "Comma-separated host names, addresses or CIDR networks webhooks may reach although they are not public "
        "(loopback, private, …), on any port, e.g. 'hooks.internal,10.20.0.0/16'. Empty: public addresses on "
        "ports 80 and 443 only. Cloud metadata addresses stay refused.",
    ),
    Setting("webhook_max_per_party", int, 10, "Most live webhooks one party may have (409 beyond)."),
    Setting(
        "webhook_pause_failures",
        int,
        20,
        "Failed deliveries in a row after which a webhook is paused (about an hour of backoff at 20) and its party "
        "told with a `webhook.paused` event; it resumes with POST /v1/webhooks/{id}/resume.",
    ),
    Setting(
        "mqtt_url",
        str,
        "",
        "MQTT broker to take live tracks from, e.g. 'mqtt://127.0.0.1:1883' (mqtts:// for TLS; user:password@ "
        "if the broker wants them). Empty: no MQTT.",
    ),
    Setting("mqtt_topic_prefix", str, "deconf", "Topic prefix: the server subscribes to '<prefix>/+/tracks/+'."),
    Setting(
        "mqtt_client_id",
        str,
        "",
        "MQTT client id. Empty: a random one and a clean session. Set (unique per server): a persistent session, "
        "so the broker keeps QoS 1 reports published while the server is away.",
    ),
    Setting("mqtt_max_payload_bytes", int, 65_536, "Largest MQTT payload accepted; larger ones are dropped."),
    Setting(
        "mqtt_max_skew_s",
        float,
        120.0,
        "Seconds a signed MQTT payload's 'ts' may differ from the server's clock; beyond, it is dropped as stale.",
    ),
    Setting(
        "cot_tls_port",
        int,
        8089,
        "Port of the Cursor-on-Target mutual-TLS listener for TAK clients (on `host`); the party is the client "
        "certificate's common name (`deconf cert issue PARTY`). 0: off.",
    ),
    Setting(
        "cot_port",
        int,
        8087,
        "Port of the plain-TCP Cursor-on-Target listener (on `cot_tcp_host`). It is on only when `cot_tcp_party` "
        "is set; 0: off.",
    ),
    Setting(
        "cot_tcp_party",
        str,
        "",
        "The party every event on the plain-TCP CoT listener is attributed to (plain TCP proves no identity). "
        "Empty: the plain-TCP listener is off.",
    ),
    Setting(
        "cot_tcp_host",
        str,
        "127.0.0.1",
        "Interface of the plain-TCP CoT listener: loopback by default, for a trusted gateway on the same host.",
    ),
    Setting("cot_max_event_bytes", int, 65_536, "Largest CoT event accepted; a larger one is dropped and logged."),
    Setting(
        "tak_dir",
        str,
        "",
        "Folder of the channel's CA and the CoT server's certificate. Empty: '<db>.tak' beside the database.",
    ),
    Setting(
        "track_lost_s",
        float,
        60.0,
        "Seconds after its newest report (or at its report's `stale`, if sooner) that a silent track is marked lost: "
        "its warnings resolve and it is no longer watched.",
    ),
    Setting("track_remove_s", float, 900.0, "Seconds after its newest report that a silent track is removed."),
    Setting(
        "cpa_threshold_m",
        float,
        1_852.0,
        "Closest point of approach below which two parties' tracks are warned, in metres, when neither report "
        "states a `separation_m`.",
    ),
    Setting(
        "cpa_horizon_s",
        float,
        1_800.0,
        "How far ahead convergence warnings look, in seconds (time to the closest approach or to entry).",
    ),
    Setting(
        "disclosure_track_precision_m",
        float,
        100.0,
        "Other parties learn a live track's position, through the warnings it raises, no better than this: each "
        "report is compared as the centre of its H3 cell at this precision (100 to 50000; see docs/concepts.md).",
    ),
    Setting(
        "track_vertical_separation_m",
        float,
        300.0,
        "Two tracks that both report altitudes at least this far apart (metres) are not warned of each other: "
        "300 m is the 1,000 ft vertical separation of ICAO RVSM. A track without altitude may be at any.",
    ),
    Setting(
        "workers",
        int,
        1,
        "Worker processes `deconf serve` starts, sharing one port and one channel (see docs/scaling.md). Each keeps "
        "the active picture in memory; one of them, the leader, runs the background jobs.",
    ),
    Setting(
        "log_format",
        str,
        "text",
        "How the server logs: 'text' for people, 'json' (one object a line, with the request id) for log collectors.",
    ),
    Setting(
        "tls_certfile",
        str,
        "",
        "PEM certificate (chain) to serve HTTPS directly. Empty: plain HTTP, e.g. behind a TLS-terminating proxy.",
    ),
    Setting("tls_keyfile", str, "", "PEM private key of `tls_certfile`."),
    Setting(
        "idempotency_keep_s",
        float,
        86_400.0,
        "Seconds an `Idempotency-Key` is remembered: a retry within this time gets the first answer again.",
    ),
    Setting(
        "f3548_public_keys",
        str,
        "",
        "The ASTM F3548-21 DSS API (/dss/v1): PEM file of the auth server's RSA public keys or certificates, or "
        "JWKS JSON file, that access tokens are checked against. Empty: the DSS API is off (every call gets 401).",
    ),
    Setting(
        "f3548_audience",
        str,
        "",
        "Comma-separated `aud` values a DSS access token must carry one of: this DSS's host name(s), e.g. "
        "'dss.example.org'. Required when f3548_public_keys is set.",
    ),
    Setting(
        "f3548_retention_s",
        float,
        86_400.0,
        "Seconds an F3548 operational intent or constraint reference is kept after its end before it expires "
        "(subscriptions expire at their end).",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}
POSTGRES_SCHEMES = ("postgresql", "postgres")  # a database_url of these opens the PostgreSQL backend


@dataclass(frozen=True)
class Settings:
    db: str = "deconf.db"
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: str = ""
    max_body_bytes: int = 1_048_576
    max_vertices: int = 10_000
    max_area_km2: float = 200_000.0
    max_radius_m: float = 50_000.0
    separation_max_m: float = 50_000.0
    disclosure_precision_m: float = 1_000.0
    disclosure_time_s: float = 3_600.0
    disclosure_altitude_m: float = 100.0
    disclosure_probe_count: int = 6
    disclosure_probe_window_s: float = 3_600.0
    disclosure_probe_brief_s: float = 600.0
    disclosure_probe_delay_s: float = 60.0
    separation_defaults: str = ""
    rate_limit_per_s: float = 100.0
    rate_limit_burst: int = 200
    sse_heartbeat_s: float = 15.0
    sse_streams_per_token: int = 16
    http_header_timeout_s: float = 10.0
    http_body_timeout_s: float = 60.0
    http_max_header_bytes: int = 65_536
    http_keep_alive_s: float = 5.0
    http_send_stall_s: float = 10.0
    max_connections: int = 2_000
    page_limit_max: int = 1_000
    import_max_bytes: int = 16_777_216
    import_rows_max: int = 5_000
    index: str = "grid"
    log_level: str = "info"
    ledger_key_file: str = ""
    notification_ack_s: float = 86_400.0
    overdue_check_s: float = 1.0
    webhook_timeout_s: float = 10.0
    webhook_allow_hosts: str = ""
    webhook_max_per_party: int = 10
    webhook_pause_failures: int = 20
    mqtt_url: str = ""
    mqtt_topic_prefix: str = "deconf"
    mqtt_client_id: str = ""
    mqtt_max_payload_bytes: int = 65_536
    mqtt_max_skew_s: float = 120.0
    cot_tls_port: int = 8089
    cot_port: int = 8087
    cot_tcp_party: str = ""
    cot_tcp_host: str = "127.0.0.1"
    cot_max_event_bytes: int = 65_536
    tak_dir: str = ""
    track_lost_s: float = 60.0
    track_remove_s: float = 900.0
    cpa_threshold_m: float = 1_852.0
    disclosure_track_precision_m: float = 100.0
    cpa_horizon_s: float = 1_800.0
    track_vertical_separation_m: float = 300.0
    workers: int = 1
    log_format: str = "text"
    tls_certfile: str = ""
    tls_keyfile: str = ""
    idempotency_keep_s: float = 86_400.0
    f3548_public_keys: str = ""
    f3548_audience: str = ""
    f3548_retention_s: float = 86_400.0

    def ledger_key_path(self) -> Path:
        return Path(self.ledger_key_file or f"{self.db}.ledger-key.pem")

    def f3548_audiences(self) -> tuple[str, ...]:
        """The accepted `aud` values of DSS access tokens, from the comma-separated f3548_audience."""
        return tuple(a.strip() for a in self.f3548_audience.split(",") if a.strip())

    def webhook_policy(self) -> TargetPolicy:
        """Where webhooks may point besides public addresses (webhook_allow_hosts)."""
        return TargetPolicy.parse(self.webhook_allow_hosts)

    def limits(self) -> DeclarationLimits:
        return DeclarationLimits(
            max_vertices=self.max_vertices,
            max_area_m2=self.max_area_km2 * 1e6,
            max_radius_m=self.max_radius_m,
            max_separation_m=self.separation_max_m,
            precision_m=self.disclosure_precision_m,
        )

    def probe_rule(self) -> ProbeRule:
        return ProbeRule(
            self.disclosure_probe_count,
            self.disclosure_probe_window_s,
            self.disclosure_probe_brief_s,
            self.disclosure_probe_delay_s,
        )

    def disclosure_steps(self) -> DisclosureSteps:
        return DisclosureSteps(self.disclosure_precision_m, self.disclosure_time_s, self.disclosure_altitude_m)

    def separation_policy(self) -> SeparationPolicy:
        return SeparationPolicy.with_overrides(parse_separation_overrides(self.separation_defaults))


class SettingsError(ValueError):
    """A setting has a value of the wrong type or an unknown name."""


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    try:
        if setting.type is int and isinstance(value, str | int) and not isinstance(value, bool):
            return int(value)
        if setting.type is float and isinstance(value, str | int | float) and not isinstance(value, bool):
            return float(value)
        if setting.type is str:
            return str(value)
    except ValueError:
        pass
    raise SettingsError(f"{source}: {setting.name} must be {setting.type.__name__}, got {value!r}")


def load_settings(
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings from defaults, an optional TOML file, the environment and explicit overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = config_file or env.get("DECONF_CONFIG")
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
        section = data.get("deconf", data)
        for key, value in section.items():
            if key not in _BY_NAME:
                raise SettingsError(f"config file {path}: unknown setting {key!r} (see `deconf config`)")
            values[key] = _coerce(_BY_NAME[key], value, str(path))
    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = _coerce(setting, env[setting.env], setting.env)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(_BY_NAME[key], value, f"--{key.replace('_', '-')}")
    settings = Settings(**values)
    try:
        settings.separation_policy()
    except ValueError as exc:
        raise SettingsError(f"separation_defaults: {exc}") from None
    if not 0 < settings.track_lost_s < settings.track_remove_s:
        raise SettingsError("track_lost_s must be positive and less than track_remove_s")
    if not (settings.cpa_horizon_s > 0 and settings.cpa_threshold_m >= 0):
        raise SettingsError("cpa_horizon_s must be positive and cpa_threshold_m not negative")
    if settings.index not in INDEXES:
        raise SettingsError(f"index must be 'grid' or 'rtree', not {settings.index!r}")
    if settings.database_url and urlsplit(settings.database_url).scheme not in POSTGRES_SCHEMES:
        # not echoed: the URL may hold the database's password
        raise SettingsError("database_url must be postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE (or empty)")
    _check_mqtt(settings)
    _check_cot(settings)
    _check_serving(settings)
    _check_f3548(settings)
    _check_disclosure(settings)
    _check_webhooks(settings)
    return settings


def _check_disclosure(settings: Settings) -> None:
    for name in ("disclosure_precision_m", "disclosure_track_precision_m"):
        if not PRECISION_MIN_M <= getattr(settings, name) <= PRECISION_MAX_M:
            raise SettingsError(f"{name} must be between {PRECISION_MIN_M:g} and {PRECISION_MAX_M:g} metres")
    if not (settings.disclosure_time_s >= 1 and settings.disclosure_altitude_m >= 1):
        raise SettingsError("disclosure_time_s and disclosure_altitude_m must be at least 1")
    if settings.disclosure_probe_count < 2 or settings.disclosure_probe_window_s <= 0:
        raise SettingsError("disclosure_probe_count must be at least 2 and disclosure_probe_window_s positive")


def _check_webhooks(settings: Settings) -> None:
    try:
        settings.webhook_policy()
    except ValueError as exc:
        raise SettingsError(f"webhook_allow_hosts: {exc}") from None
    if settings.webhook_timeout_s <= 0:
        raise SettingsError("webhook_timeout_s must be positive")
    if settings.webhook_max_per_party < 1 or settings.webhook_pause_failures < 1:
        raise SettingsError("webhook_max_per_party and webhook_pause_failures must be at least 1")


def _check_f3548(settings: Settings) -> None:
    """The keys file must exist and the audience be set; bootstrap parses the keys (adapters.f3548_tokens)."""
    if not settings.f3548_retention_s >= 0:
        raise SettingsError("f3548_retention_s must be zero or more seconds")
    audiences = settings.f3548_audiences()
    if any(any(c.isspace() for c in a) for a in audiences):
        raise SettingsError("f3548_audience: audiences are host names separated by commas, without spaces inside")
    if not settings.f3548_public_keys:
        return
    if not Path(settings.f3548_public_keys).is_file():
        raise SettingsError(f"f3548_public_keys: no file at {settings.f3548_public_keys}")
    if not audiences:
        raise SettingsError(
            "f3548_audience must be set when f3548_public_keys is: the host name(s) USSs put in their access "
            "tokens' aud claim, e.g. DECONF_F3548_AUDIENCE=dss.example.org"
        )


def _check_serving(settings: Settings) -> None:
    if not 1 <= settings.workers <= 64:
        raise SettingsError(f"workers must be between 1 and 64, not {settings.workers}")
    if settings.log_format not in ("text", "json"):
        raise SettingsError(f"log_format must be 'text' or 'json', not {settings.log_format!r}")
    if bool(settings.tls_certfile) != bool(settings.tls_keyfile):
        raise SettingsError("tls_certfile and tls_keyfile go together: set both to serve HTTPS, or neither")
    for name in ("tls_certfile", "tls_keyfile"):
        path = getattr(settings, name)
        if path and not Path(path).is_file():
            raise SettingsError(f"{name}: no file at {path}")
    if settings.idempotency_keep_s <= 0:
        raise SettingsError("idempotency_keep_s must be positive")
    if settings.import_rows_max < 1:
        raise SettingsError("import_rows_max must be at least 1")
    if settings.import_max_bytes < 1:
        raise SettingsError("import_max_bytes must be at least 1")
    _check_connections(settings)


def _check_connections(settings: Settings) -> None:
    for name in ("http_header_timeout_s", "http_body_timeout_s", "http_keep_alive_s", "http_send_stall_s"):
        if not getattr(settings, name) > 0:
            raise SettingsError(f"{name} must be a positive number of seconds")
    for name in ("http_max_header_bytes", "max_connections", "sse_streams_per_token"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"{name} must be at least 1")


def _check_mqtt(settings: Settings) -> None:
    if settings.mqtt_url:
        parts = urlsplit(settings.mqtt_url)
        try:
            port_ok = parts.port is None or 0 < parts.port < 65536
        except ValueError:
            port_ok = False
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or not port_ok:
            # not echoed: the URL may hold the broker's password
            raise SettingsError("mqtt_url must be mqtt://[USER:PASSWORD@]HOST[:PORT] or mqtts://…")
    try:
        check_prefix(settings.mqtt_topic_prefix)
    except ValueError as exc:
        raise SettingsError(f"mqtt_topic_prefix: {exc}") from None
    if settings.mqtt_max_payload_bytes < 1 or settings.mqtt_max_skew_s <= 0:
        raise SettingsError("mqtt_max_payload_bytes and mqtt_max_skew_s must be positive")


def _check_cot(settings: Settings) -> None:
    for name in ("cot_tls_port", "cot_port"):
        if not 0 <= getattr(settings, name) < 65536:
            raise SettingsError(f"{name} must be a TCP port (0: off)")
    if settings.cot_max_event_bytes < 256:
        raise SettingsError("cot_max_event_bytes must be at least 256")
    if settings.cot_tcp_party and not PARTY_ID.match(settings.cot_tcp_party):
        raise SettingsError(f"cot_tcp_party {settings.cot_tcp_party!r} is not a party id")
