"""Request bodies and the documented shapes of responses (OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from deconfliction.domain.numbers import INT64_MAX

# Page cursors are row keys: bounded like them, so that a larger one is a 422 naming it, not a store error.
BeforeCursor = Annotated[
    int | None, Query(ge=1, le=INT64_MAX, description="cursor from the previous page's X-Next-Before")
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PartyIn(Strict):
    id: str = Field(description="Lowercase id, e.g. 'sdf'", examples=["sdf"])
    name: str = Field(min_length=1, max_length=200, examples=["Syrian Democratic Forces"])
    public_key: str | None = Field(None, description="Raw 32-byte Ed25519 public key, base64")


class PartyPatch(Strict):
    status: Literal["active", "suspended", "withdrawn"] | None = None
    public_key: str | None = None


class PartyOut(BaseModel):
    id: str
    name: str
    status: str
    public_key: str | None = Field(None, description="Raw Ed25519 public key (base64) that checks its signatures")


class Me(BaseModel):
    party: str | None = Field(description="The caller's party id; null for the admin token")
    admin: bool
    name: str
    status: str | None = Field(description="active, suspended or withdrawn; null for the admin")
    may_write: bool = Field(description="Whether the caller may declare, send and acknowledge now")


class PartyCreated(PartyOut):
    token: str = Field(description="The party's bearer token, shown once")


class TokenOut(BaseModel):
    party: str
    token: str


class LinkIn(Strict):
    a: str
    b: str
    relay: Literal["auto", "review"] = "auto"


class LinkPatch(Strict):
    relay: Literal["auto", "review"]


class LinkOut(BaseModel):
    a: str
    b: str
    relay: str
    created_at: str


class Point(BaseModel):
    type: Literal["Point"]
    coordinates: list[float]


class TimeSpan(BaseModel):
    start: str
    end: str | None


class ConflictOut(BaseModel):
    id: str
    kind: str
    declaration: str
    declaration_version: int
    other_party: str
    other_declaration: str | None
    distance_m: float
    required_m: float
    time: TimeSpan
    location: Point
    location_uncertainty_m: float = Field(
        0.0,
        description="How far from `location` the conflict may lie: the other declaration is hidden from the caller "
        "and was compared as its covering (0: compared exactly)",
    )
    status: Literal["open", "acknowledged", "resolved"]
    opened_at: str
    acknowledged_at: str | None
    other_acknowledged: bool
    resolved_at: str | None
    resolved_reason: str | None
    digest: str = Field(description="What a signed acknowledgement signs (see docs/ledger.md)")
    signature: str | None = Field(None, description="The caller's acknowledgement signature, when it signed")
    line: str | None = Field(None, description='For kind "line": the id of the agreed line crossed')


class DeclarationWritten(BaseModel):
    id: str
    version: int
    declaration: dict[str, Any]
    conflicts: list[ConflictOut]


class Health(BaseModel):
    status: str = Field(description='"ok"; "down" (with 503) when the store does not answer')
    # The rest only for the admin token: without it, a probe learns whether the channel is up, nothing more.
    schema_version: int | None = None
    declarations_active: int | None = None
    worker: int | None = Field(
        None, description="Process id of the worker that answered (`deconf serve --workers N` runs N)"
    )
    leader: bool | None = Field(None, description="Whether that worker runs the background jobs (one worker does)")


_POSITION: dict[str, Any] = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 3,
    "description": "[lon, lat] or [lon, lat, alt]: lon within ±180, lat within ±90",
}
_POLYGON: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "description": "Linear rings: the outer one first, then holes; each closed (last position = first)",
    "items": {"type": "array", "items": _POSITION, "minItems": 4},
}


def _geometry(kind: str, coordinates: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {"type": {"const": kind}, "coordinates": coordinates},
    }


FEATURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"const": "Feature"},
        "geometry": {
            "description": "GeoJSON Point, LineString, Polygon or MultiPolygon, WGS84 [lon, lat]. Edges are "
            "great-circle arcs; rings may cross ±180°.",
            "oneOf": [
                _geometry("Point", _POSITION),
                _geometry("LineString", {"type": "array", "items": _POSITION, "minItems": 2}),
                _geometry("Polygon", _POLYGON),
                _geometry("MultiPolygon", {"type": "array", "items": _POLYGON, "minItems": 1}),
            ],
        },
        "properties": {
            "type": "object",
            "required": ["kind", "start"],
            "additionalProperties": False,
            "properties": {
                "kind": {"enum": ["site", "area", "route", "flight"]},
                "name": {"type": "string", "maxLength": 200},
                "start": {"type": "string", "format": "date-time"},
                "end": {"type": ["string", "null"], "format": "date-time", "description": "null or absent: open-ended"},
                "altitude": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"lower_m": {"type": "number"}, "upper_m": {"type": ["number", "null"]}},
                },
                "radius_m": {"type": "number", "minimum": 0},
                "separation_m": {"type": ["number", "null"], "minimum": 0},
                "precision_m": {
                    "type": ["number", "null"],
                    "minimum": 100,
                    "maximum": 50_000,
                    "description": "how finely a party outside the audience may learn where it is; null or absent: "
                    "the channel's disclosure_precision_m (1000)",
                },
                "audience": {
                    "oneOf": [
                        {"enum": ["all", "conflicts"]},
                        {"type": "array", "items": {"type": "string"}},
                        {"type": "null"},
                    ],
                    "description": 'null or absent: "conflicts"',
                },
                "speed_mps": {"type": "number", "exclusiveMinimum": 0, "description": "routes only"},
                "times": {
                    "type": "array",
                    "items": {"type": "string", "format": "date-time"},
                    "description": "routes only: one time per vertex",
                },
                "party": {"description": "output only: ignored on input, whatever its value"},
                "version": {"description": "output only: ignored on input, whatever its value"},
                "status": {"description": "output only: ignored on input, whatever its value"},
                "created_at": {"description": "output only: ignored on input, whatever its value"},
                "updated_at": {"description": "output only: ignored on input, whatever its value"},
            },
        },
    },
    "example": {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[40.30, 35.45], [40.55, 35.45], [40.55, 35.70], [40.30, 35.70], [40.30, 35.45]]],
        },
        "properties": {
            "kind": "area",
            "name": "Khabur valley offensive",
            "start": "2017-09-09T05:00:00Z",
            "end": "2017-09-20T00:00:00Z",
            "altitude": {"lower_m": 0, "upper_m": 3000},
            "radius_m": 0,
            "separation_m": 2000,
            "audience": "conflicts",
        },
    },
}


class AckIn(Strict):
    signature: str | None = Field(
        None,
        description='Base64 Ed25519 over b"deconf/ack/v1\\n" + the 32 digest bytes; required from a party with a key '
        "(messages, notifications), optional for conflicts",
    )


class RelayIn(Strict):
    decision: Literal["approve", "refuse"]
    note: str | None = Field(None, description="A note on approval; the reason the sender is told on refusal")


class WebhookIn(Strict):
    url: str = Field(description="http(s) URL that receives the caller's events as POSTs")
    secret: str | None = Field(None, description="HMAC key (≥ 16 characters); generated when omitted")
