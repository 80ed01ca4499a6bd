"""Routes through intermediaries: the shortest path of links between two parties, with a deterministic tie-break."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from deconfliction.domain.parties import Link, PartyStatus


def _neighbours(links: Iterable[Link]) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    for link in links:
        graph.setdefault(link.a, []).append(link.b)
        graph.setdefault(link.b, []).append(link.a)
    for ids in graph.values():
        ids.sort()
    return graph


def _shortest(graph: Mapping[str, list[str]], source: str, target: str, usable: set[str] | None) -> list[str] | None:
    """The shortest path, smallest in the order of party ids among equals; intermediaries only from `usable`."""
    hops = {target: 0}
    queue = deque([target])
    while queue:  # breadth first from the target: hops[p] = links from p to the target
        here = queue.popleft()
        for nxt in graph.get(here, ()):
            if nxt in hops or (usable is not None and nxt not in usable and nxt != source):
                continue
            hops[nxt] = hops[here] + 1
            queue.append(nxt)
    if source not in hops:
        return None
    path = [source]
    while path[-1] != target:  # walk down, always to the smallest id one link nearer: deterministic
        here = path[-1]
        path.append(min(n for n in graph[here] if hops.get(n) == hops[here] - 1))
    return path


def find_route(
    links: Iterable[Link], statuses: Mapping[str, PartyStatus], source: str, target: str
) -> list[str] | None:
    """The route a message takes from `source` to `target`, or None when no path of links joins them.

    Among the shortest paths through active intermediaries, the one whose party ids come first in order wins. When
    only paths through suspended or withdrawn intermediaries exist, the shortest of those is returned: the message
    will wait at that party, flagged, rather than be refused.
    """
    graph = _neighbours(links)
    active = {p for p, status in statuses.items() if status is PartyStatus.ACTIVE}
    return _shortest(graph, source, target, active) or _shortest(graph, source, target, None)
