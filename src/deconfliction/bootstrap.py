"""The one place that wires the layers: settings → store → picture → context → app."""

from __future__ import annotations

import dataclasses
import gc
import json
import logging.config
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from deconfliction.adapters.cot_server import CotListeners, build_listeners
from deconfliction.adapters.f3548_tokens import TokenVerifier, make_verifier
from deconfliction.adapters.mqtt import TrackSubscriber
from deconfliction.adapters.webhook_http import HttpPoster, resolve_host
from deconfliction.api.app import create_app
from deconfliction.api.logs import log_config
from deconfliction.config import Settings
from deconfliction.domain.declarations import Declaration
from deconfliction.domain.signing import SigningKey
from deconfliction.services import mqtt, tracks
from deconfliction.services.auth import ensure_admin_token
from deconfliction.services.background import Background
from deconfliction.services.context import Context
from deconfliction.services.deadlines import DeadlineWatch
from deconfliction.services.dss_intents import stored_volumes
from deconfliction.services.dss_picture import DssPicture
from deconfliction.services.dss_sweeper import DssSweeper
from deconfliction.services.events import EventHub
from deconfliction.services.parties import record_existing
from deconfliction.services.picture import Picture
from deconfliction.services.sync import Announcements, FeedPruner, Sync
from deconfliction.services.track_picture import TrackSettings
from deconfliction.services.webhook_delivery import Deliverer, DeliveryRules
from deconfliction.services.webhooks import WebhookTargets
from deconfliction.storage.base import Store
from deconfliction.storage.sqlite import SqliteStore


@dataclass
class Wired:
    ctx: Context
    hub: EventHub
    generated_admin_token: str | None
    background: Background
    dss_verifier: TokenVerifier | None = None  # F3548 access tokens; None: the DSS API is off


def ledger_key(path: Path) -> SigningKey:
    """The server's ledger key: read from its PEM file, or created there (owner-only) on first start."""
    if path.exists():
        return SigningKey.from_pem(path.read_bytes())
    key = SigningKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.to_pem())
        f.flush()
        os.fsync(f.fileno())
    return key


def open_store(settings: Settings) -> Store:
    """The channel's store, migrated: PostgreSQL when `database_url` is set, else the SQLite file `db`."""
    store: Store
    if settings.database_url:
        from deconfliction.storage.postgres import PostgresStore  # psycopg is loaded only when it is used

        store = PostgresStore(settings.database_url)
    else:
        store = SqliteStore(settings.db)
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def wire(settings: Settings, on_loaded: Callable[[int], None] | None = None) -> Wired:
    """Open the store, rebuild the active picture from it, and set up the admin token."""
    store = open_store(settings)
    with store.read() as tx:
        # Changes committed from here on by other workers are applied at this worker's first write (sync.py).
        seen = tx.last_change_seq()
    policy = settings.separation_policy()
    picture = Picture(policy, settings.index, settings.disclosure_steps())
    # The picture is millions of long-lived objects: collecting while building them only wastes time, and freezing
    # them afterwards keeps every later collection from walking them again.
    gc.disable()
    try:
        _load(store, picture, on_loaded)
    finally:
        gc.enable()
        gc.freeze()
    dss = DssPicture(settings.index)
    with store.read() as tx:
        dss.load(tx, stored_volumes)
    hub = EventHub()
    ctx = Context(
        store=store,
        picture=picture,
        dss=dss,
        limits=settings.limits(),
        policy=policy,
        sink=hub,
        ledger_key=ledger_key(settings.ledger_key_path()),
        notification_ack_s=settings.notification_ack_s,
        probing=settings.probe_rule(),
    )
    sync = Sync(ctx, seen)
    ctx.writer.hook = sync
    generated = ensure_admin_token(ctx, settings.admin_token)
    record_existing(ctx)
    deliverer = Deliverer(
        ctx,
        HttpPoster(settings.webhook_timeout_s),
        WebhookTargets(settings.webhook_policy(), resolve_host),
        DeliveryRules(settings.webhook_timeout_s, settings.webhook_pause_failures),
    )
    hub.add_listener(deliverer.wake)
    background = Background(
        DeadlineWatch(ctx, settings.overdue_check_s),
        deliverer,
        mqtt=mqtt_feed(settings, ctx),
        cot=cot_listeners(settings, ctx),
        tracks=track_sweeper(settings, ctx),
        dss=DssSweeper(ctx, retention_s=settings.f3548_retention_s),
        # other processes may write this channel: listen for their commits
        announcements=Announcements(ctx, hub) if shared(settings) else None,
        pruner=FeedPruner(ctx, keep_keys_s=settings.idempotency_keep_s),
        try_lead=store.try_lead,
    )
    return Wired(ctx, hub, generated, background, make_verifier(settings))


def shared(settings: Settings) -> bool:
    """Whether other processes may write the channel while this one serves it: several workers, or a PostgreSQL
    database that other machines' workers may share."""
    return settings.workers > 1 or bool(settings.database_url)


def track_sweeper(settings: Settings, ctx: Context) -> tracks.TrackSweeper:
    """Load the live tracks into memory; the sweeper marks the silent ones lost, then removed."""
    tracks.configure(
        ctx,
        TrackSettings(
            settings.track_lost_s,
            settings.track_remove_s,
            settings.cpa_threshold_m,
            settings.cpa_horizon_s,
            settings.track_vertical_separation_m,
            settings.disclosure_track_precision_m,
        ),
    )
    return tracks.TrackSweeper(ctx, min(1.0, settings.track_lost_s / 4))


def mqtt_feed(settings: Settings, ctx: Context) -> TrackSubscriber | None:
    """The subscriber taking live tracks from the configured broker; None when `mqtt_url` is empty."""
    if not settings.mqtt_url:
        return None
    return TrackSubscriber(
        settings.mqtt_url,
        settings.mqtt_topic_prefix,
        lambda party, track_id, reports: tracks.ingest(ctx, party, track_id, reports, source="mqtt"),
        lambda party: mqtt.credential_of(ctx, party),
        max_payload_bytes=settings.mqtt_max_payload_bytes,
        max_skew_s=settings.mqtt_max_skew_s,
        client_id=settings.mqtt_client_id,
    )


def cot_listeners(settings: Settings, ctx: Context) -> CotListeners | None:
    """The Cursor-on-Target listeners for TAK clients (mutual TLS; plain TCP for one party); None when all are off."""

    def party_status(party: str) -> str | None:
        with ctx.store.read() as tx:
            found = tx.get_party(party)
        return None if found is None else found.status.value

    return build_listeners(
        settings,
        lambda party, track_id, reports: tracks.ingest(ctx, party, track_id, reports, source="cot"),
        party_status,
    )


def _load(store: Store, picture: Picture, on_loaded: Callable[[int], None] | None) -> None:
    with store.read() as tx:
        total = tx.count_active_declarations()

        def counted() -> list[Declaration]:
            out = []
            for i, d in enumerate(tx.active_declarations(), 1):
                out.append(d)
                if on_loaded is not None and (i % 1000 == 0 or i == total):
                    on_loaded(i)
            return out

        picture.load(counted())


WORKER_SETTINGS = "DECONF_WORKER_SETTINGS"  # how `deconf serve --workers N` hands its settings to each worker


def worker_settings(settings: Settings) -> str:
    return json.dumps(dataclasses.asdict(settings))


def worker_app() -> FastAPI:
    """One of the N worker processes of `deconf serve --workers N` (uvicorn calls this in each)."""
    settings = Settings(**json.loads(os.environ[WORKER_SETTINGS]))
    logging.config.dictConfig(log_config(settings.log_level, settings.log_format))
    _exit_with_parent()
    application, _ = build_app(settings)
    return application


def _exit_with_parent() -> None:
    """A worker whose supervisor died (even by SIGKILL) stops too, rather than serve on alone, unsupervised, on
    the port a restarted server needs."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                logging.getLogger("deconfliction.worker").warning("the supervisor is gone: this worker stops")
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(10.0)
                os._exit(1)  # still here: the graceful stop hung

    threading.Thread(target=watch, name="deconf-parent-watch", daemon=True).start()


def build_app(settings: Settings) -> tuple[FastAPI, Wired]:
    wired = wire(settings)
    return create_app(settings, wired.ctx, wired.hub, wired.background, wired.dss_verifier), wired


def backup(settings: Settings, target: Path) -> int:
    """Copy the channel's database to `target` with SQLite's online backup: consistent while a server writes.
    Returns the schema version copied. The ledger key file is not copied: it is a secret, kept apart."""
    if not Path(settings.db).exists():
        raise FileNotFoundError(f"no database at {settings.db}")
    store = SqliteStore(settings.db)
    try:
        store.backup(target)
        return store.schema_version()
    finally:
        store.close()


def restore(settings: Settings, source: Path) -> int:
    """Make `source` (a backup) the channel's database, after checking it: SQLite's integrity check, and a schema
    this version knows. Returns the number of entries in its record. Stop the server first."""
    checked = SqliteStore(source)
    try:
        try:
            problems = checked.integrity_problems()
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{source} is not a readable SQLite database ({exc})") from None
        if problems:
            raise ValueError(f"{source} fails SQLite's integrity check: {problems[0]}")
        version = checked.schema_version()
        if version == 0:
            raise ValueError(f"{source} is not a deconfliction database (no schema)")
        store_target = Path(settings.db)
        for suffix in ("-wal", "-shm"):
            Path(f"{store_target}{suffix}").unlink(missing_ok=True)
        checked.backup(store_target)
    finally:
        checked.close()
    restored = open_store(settings)  # applies any newer migrations
    try:
        with restored.read() as tx:
            head = tx.ledger_head()
        return 0 if head is None else head[0]
    finally:
        restored.close()
