"""The caller's picture as Cursor-on-Target XML, for TAK clients to display."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from deconfliction.adapters.cot_export import document, picture_events, stream
from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.services import conflicts, tracks, views
from deconfliction.services.context import Context
from deconfliction.services.declarations import list_visible
from deconfliction.storage.base import DeclarationQuery

router = APIRouter(prefix="/v1", tags=["cursor-on-target"])
PAGE = 1_000
MAX_CONFLICTS = 10_000
MAX_TRACKS = 10_000


def _visible_features(ctx: Context, party: str) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = []
    after = 0
    while True:
        page = list_visible(ctx, DeclarationQuery(viewer=party, after_key=after, limit=PAGE))
        features.extend(feature for _, feature in page)
        if len(page) < PAGE:
            return features
        after = page[-1][0]


@router.get(
    "/cot",
    response_class=Response,
    summary="The caller's picture as Cursor-on-Target events",
    responses={200: {"content": {"application/xml": {}}, "description": "CoT events"}},
)
def export(
    ctx: CtxDep,
    who: PrincipalDep,
    as_stream: Annotated[
        bool,
        Query(alias="stream", description="Events back to back as a TAK server streams them, not one document"),
    ] = False,
) -> Response:
    """Declarations the caller may see, its open conflicts and its tracks, as CoT events (see docs/api.md)."""
    party = who.require_party()
    open_conflicts = [
        view
        for status in ("open", "acknowledged")
        for view in conflicts.list_conflicts(ctx, party, status, MAX_CONFLICTS)
    ]
    own_tracks = tracks.list_tracks(ctx, party, "active", MAX_TRACKS)
    features = _visible_features(ctx, party)
    views.record(ctx, party, views.others(party, features), "cot")  # a TAK client is shown them: who saw what
    events = picture_events(party, features, open_conflicts, own_tracks, ctx.clock())
    return Response(stream(events) if as_stream else document(events), media_type="application/xml")
