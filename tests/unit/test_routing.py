"""Routes through intermediaries: shortest, deterministic among equals, around inactive parties where possible."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.domain.parties import Link, PartyStatus, RelayMode
from deconfliction.domain.routing import find_route

AT = datetime(2017, 9, 10, tzinfo=UTC)
ACTIVE = PartyStatus.ACTIVE


def links(*pairs: str) -> list[Link]:
    out = []
    for pair in pairs:
        a, b = pair.split("-")
        out.append(Link(*Link.ordered(a, b), RelayMode.AUTO, AT))
    return out


def everyone(graph: list[Link], status: PartyStatus = ACTIVE) -> dict[str, PartyStatus]:
    return {p: status for link in graph for p in (link.a, link.b)}


def test_the_scenario_route_passes_both_intermediaries() -> None:
    graph = links("sdf-coalition", "coalition-russia", "russia-saa")
    assert find_route(graph, everyone(graph), "sdf", "saa") == ["sdf", "coalition", "russia", "saa"]
    assert find_route(graph, everyone(graph), "saa", "sdf") == ["saa", "russia", "coalition", "sdf"]


def test_no_path_is_none() -> None:
    graph = links("sdf-coalition", "russia-saa")
    assert find_route(graph, everyone(graph), "sdf", "saa") is None
    assert find_route(graph, {**everyone(graph), "unhcr": ACTIVE}, "sdf", "unhcr") is None


def test_among_equally_short_routes_the_smallest_ids_win_whatever_the_order_of_links() -> None:
    pairs = ["a-m", "m-z", "a-b", "b-z", "a-x", "x-z"]
    for order in itertools.permutations(pairs):
        graph = links(*order)
        assert find_route(graph, everyone(graph), "a", "z") == ["a", "b", "z"]


def test_a_shorter_route_beats_smaller_ids() -> None:
    graph = links("a-b", "b-c", "c-z", "a-y", "y-z")
    assert find_route(graph, everyone(graph), "a", "z") == ["a", "y", "z"]


def test_an_active_detour_of_equal_length_is_preferred_to_a_suspended_intermediary() -> None:
    graph = links("a-b", "b-z", "a-c", "c-z")
    statuses = {**everyone(graph), "b": PartyStatus.SUSPENDED}
    assert find_route(graph, statuses, "a", "z") == ["a", "c", "z"]


def test_when_only_inactive_intermediaries_join_the_parties_the_route_goes_through_them() -> None:
    graph = links("a-b", "b-z")
    statuses = {**everyone(graph), "b": PartyStatus.WITHDRAWN}
    assert find_route(graph, statuses, "a", "z") == ["a", "b", "z"]


def _brute_force(graph: list[Link], source: str, target: str) -> list[str] | None:
    nodes = sorted({p for link in graph for p in (link.a, link.b)})
    edges = {(link.a, link.b) for link in graph} | {(link.b, link.a) for link in graph}
    best: list[str] | None = None
    for length in range(0, len(nodes) - 1):
        inner = [n for n in nodes if n not in (source, target)]
        for middle in itertools.permutations(inner, length):
            path = [source, *middle, target]
            if all((x, y) in edges for x, y in itertools.pairwise(path)) and (best is None or path < best):
                best = path
        if best is not None:
            return best
    return None


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_routes_are_the_smallest_shortest_paths_of_a_brute_force_search(seed: int) -> None:
    rng = random.Random(seed)
    names = [f"p{i}" for i in range(6)]
    pairs = [f"{a}-{b}" for a, b in itertools.combinations(names, 2) if rng.random() < 0.35]
    graph = links(*pairs) if pairs else []
    statuses = {n: ACTIVE for n in names}
    got = find_route(graph, statuses, "p0", "p5")
    assert got == _brute_force(graph, "p0", "p5")
