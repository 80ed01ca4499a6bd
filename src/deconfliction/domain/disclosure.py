"""Need to know: who may see a declaration's geometry."""

from __future__ import annotations

from deconfliction.domain.declarations import AUDIENCE_ALL, AUDIENCE_CONFLICTS, Audience, Declaration


def audience_includes(audience: Audience, party: str) -> bool:
    if audience == AUDIENCE_ALL:
        return True
    if audience == AUDIENCE_CONFLICTS:
        return False
    return party in audience


def may_see(declaration: Declaration, party: str) -> bool:
    """The owner, and parties its audience names ("all" names everyone). Conflicts alone never disclose it."""
    return declaration.party == party or audience_includes(declaration.spec.audience, party)


def shared_with(audience: Audience, all_parties: list[str], owner: str) -> list[str]:
    """The parties (other than the owner) a declaration with this audience is shared with."""
    if audience == AUDIENCE_ALL:
        return [p for p in all_parties if p != owner]
    if audience == AUDIENCE_CONFLICTS:
        return []
    return [p for p in audience if p != owner]
