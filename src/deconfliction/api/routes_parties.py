"""Parties and links (admin writes; any caller reads)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from deconfliction.api.deps import CtxDep, PrincipalDep
from deconfliction.api.schemas import (
    LinkIn,
    LinkOut,
    LinkPatch,
    Me,
    PartyCreated,
    PartyIn,
    PartyOut,
    PartyPatch,
    TokenOut,
)
from deconfliction.domain.parties import Link, PartyStatus
from deconfliction.domain.timewindow import format_time
from deconfliction.services import parties

router = APIRouter(prefix="/v1", tags=["parties and links"])


def _link(link: Link) -> dict[str, Any]:
    return {"a": link.a, "b": link.b, "relay": link.relay.value, "created_at": format_time(link.created_at)}


@router.post(
    "/parties",
    status_code=status.HTTP_201_CREATED,
    response_model=PartyCreated,
    summary="Register a party (admin); its token is shown once",
)
def create_party(body: PartyIn, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    who.require_admin()
    party, token = parties.create_party(ctx, body.id, body.name, body.public_key)
    return {**party.summary(), "token": token}


@router.get("/me", response_model=Me, summary="Who the token belongs to: a party (with its status) or the admin")
def me(ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    if who.party is None:
        return {"party": None, "admin": True, "name": "administrator", "status": None, "may_write": False}
    party = parties.get_party(ctx, who.party)
    return {
        "party": party.id,
        "admin": False,
        "name": party.name,
        "status": party.status.value,
        "may_write": who.status is PartyStatus.ACTIVE,
    }


@router.get("/parties", response_model=list[PartyOut], summary="List parties (any caller)")
def list_parties(ctx: CtxDep, who: PrincipalDep) -> list[dict[str, str | None]]:
    return [p.summary() for p in parties.list_parties(ctx)]


@router.patch("/parties/{party_id}", response_model=PartyOut, summary="Change a party's status or public key (admin)")
def patch_party(party_id: str, body: PartyPatch, ctx: CtxDep, who: PrincipalDep) -> dict[str, str | None]:
    who.require_admin()
    party = parties.update_party(
        ctx, party_id, body.status, body.public_key, set_key="public_key" in body.model_fields_set
    )
    return party.summary()


@router.post(
    "/parties/{party_id}/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenOut,
    summary="Issue another token for a party (admin); shown once",
)
def issue_token(party_id: str, ctx: CtxDep, who: PrincipalDep) -> dict[str, str]:
    who.require_admin()
    return {"party": party_id, "token": parties.issue_token(ctx, party_id)}


@router.post(
    "/links",
    status_code=status.HTTP_201_CREATED,
    response_model=LinkOut,
    summary="Link two parties (admin): who can pass messages to whom",
)
def create_link(body: LinkIn, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    who.require_admin()
    return _link(parties.add_link(ctx, body.a, body.b, body.relay))


@router.get("/links", response_model=list[LinkOut], summary="List links (any caller)")
def list_links(ctx: CtxDep, who: PrincipalDep) -> list[dict[str, Any]]:
    return [_link(link) for link in parties.list_links(ctx)]


@router.patch("/links/{a}/{b}", response_model=LinkOut, summary="Change a link's relay mode (admin)")
def patch_link(a: str, b: str, body: LinkPatch, ctx: CtxDep, who: PrincipalDep) -> dict[str, Any]:
    who.require_admin()
    return _link(parties.change_link(ctx, a, b, body.relay))


@router.delete(
    "/links/{a}/{b}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a link (admin); messages already routed over it wait at the party before it",
)
def delete_link(a: str, b: str, ctx: CtxDep, who: PrincipalDep) -> Response:
    who.require_admin()
    parties.remove_link(ctx, a, b)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
