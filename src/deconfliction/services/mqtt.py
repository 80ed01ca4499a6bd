"""Live tracks over MQTT: each party's signing secret, and what the subscriber (adapters/mqtt.py) needs to know."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from deconfliction.domain.parties import PartyStatus
from deconfliction.domain.track_auth import PartyCredential, new_secret
from deconfliction.services.context import Context
from deconfliction.services.writer import Outbox


class MqttFeed(Protocol):
    """The running subscriber, as the app sees it: started and stopped with it, and its counts."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def status(self, party: str | None = None) -> dict[str, Any]: ...


def rotate_secret(ctx: Context, party: str) -> tuple[str, datetime]:
    """A new signing secret for the party, replacing its previous one at once; (secret, created_at)."""
    secret = new_secret()

    def job(out: Outbox) -> datetime:
        at = ctx.clock()
        out.tx.set_mqtt_secret(party, secret, at)
        return at

    return secret, ctx.write(job)


def secret_created_at(ctx: Context, party: str) -> datetime | None:
    with ctx.store.read() as tx:
        stored = tx.mqtt_secret(party)
    return None if stored is None else stored[1]


def credential_of(ctx: Context, party: str) -> PartyCredential | None:
    """The party's current secret and whether it may write; None for no such party. Read afresh for each payload, so
    a rotation or a change of status takes effect with the next one."""
    with ctx.store.read() as tx:
        found = tx.get_party(party)
        stored = None if found is None else tx.mqtt_secret(party)
    if found is None:
        return None
    return PartyCredential(None if stored is None else stored[0], found.status is PartyStatus.ACTIVE)
