"""Chain ordering (siomw_core.ordering.order_chain): properties over random declarations."""

from __future__ import annotations

import itertools
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siomw_core import Middleware, OrderingError
from siomw_core.ordering import order_chain


async def _noop(socket: Any, call_next: Callable[[], Awaitable[None]]) -> None:
    await call_next()


NAMES = [f"m{i}" for i in range(9)]  # no name is a substring of another


class Spec:
    """A generated chain: members, the edges they declare (first, second), a pinned list."""

    def __init__(
        self, members: list[Middleware], edges: list[tuple[str, str]], pinned: list[str]
    ) -> None:
        self.members = members
        self.edges = edges
        self.pinned = pinned

    def __repr__(self) -> str:
        decl = [(m.name, m.priority, m.before, m.after) for m in self.members]
        return f"Spec({decl}, pinned={self.pinned})"


@st.composite
def dags(draw: st.DrawFn, *, with_pinned: bool = False) -> Spec:
    """Members with random priorities and before/after edges that form a DAG.

    Edges only go from a lower to a higher index of a random permutation, each declared
    either as ``before`` on the first or ``after`` on the second member.
    """
    n = draw(st.integers(1, len(NAMES)))
    names = draw(st.permutations(NAMES[:n]))
    priorities = {name: draw(st.integers(-2, 2)) for name in names}
    before: dict[str, list[str]] = {name: [] for name in names}
    after: dict[str, list[str]] = {name: [] for name in names}
    edges: list[tuple[str, str]] = []
    for i in range(n):
        for j in range(i + 1, n):
            kind = draw(st.sampled_from(["none", "none", "before", "after"]))
            if kind == "before":
                before[names[i]].append(names[j])
            elif kind == "after":
                after[names[j]].append(names[i])
            if kind != "none":
                edges.append((names[i], names[j]))
    pinned: list[str] = []
    if with_pinned:
        # a subsequence in permutation order (consistent with the edges), maybe naming absentees
        pinned = [name for name in names if draw(st.booleans())]
        if draw(st.booleans()):
            pinned.insert(draw(st.integers(0, len(pinned))), "absent_pinned")
    members = [
        Middleware(name=name, func=_noop, priority=priorities[name],
                   before=tuple(before[name]), after=tuple(after[name]))
        for name in sorted(names)
    ]
    return Spec(members, edges, pinned)


def names_of(members: list[Middleware], **kwargs: Any) -> list[str]:
    return [p.middleware.name for p in order_chain(members, **kwargs)]


def check_greedy(result: list[str], spec: Spec) -> None:
    """At every step the placed member is the best free one: highest priority, then name."""
    by_name = {m.name: m for m in spec.members}
    preds: dict[str, set[str]] = {name: set() for name in by_name}
    for first, second in spec.edges:
        preds[second].add(first)
    pins = [n for n in spec.pinned if n in by_name]
    for first, second in itertools.pairwise(pins):
        preds[second].add(first)
    placed: set[str] = set()
    for name in result:
        free = [n for n in by_name if n not in placed and preds[n] <= placed]
        best = min(free, key=lambda n: (-by_name[n].priority, n))
        assert name == best, f"placed {name} where {best} was free and ranks higher"
        placed.add(name)


@settings(max_examples=150, deadline=None)
@given(dags())
def test_every_declared_constraint_holds(spec: Spec) -> None:
    """Every before/after declaration of a DAG holds in the computed order."""
    result = names_of(spec.members)
    assert sorted(result) == sorted(m.name for m in spec.members)
    position = {name: i for i, name in enumerate(result)}
    for first, second in spec.edges:
        assert position[first] < position[second], (first, second, result)


@settings(max_examples=150, deadline=None)
@given(dags(), st.randoms(use_true_random=False))
def test_order_is_independent_of_input_order(spec: Spec, rnd: random.Random) -> None:
    """Shuffling the members (discovery order) never changes the result."""
    expected = names_of(spec.members)
    shuffled = list(spec.members)
    rnd.shuffle(shuffled)
    assert names_of(shuffled) == expected


@settings(max_examples=150, deadline=None)
@given(dags())
def test_ties_are_broken_by_priority_then_name(spec: Spec) -> None:
    """Among members free to go next, the highest priority goes first, then the smaller name."""
    check_greedy(names_of(spec.members), spec)


@settings(max_examples=150, deadline=None)
@given(dags(with_pinned=True))
def test_pinned_order_is_respected(spec: Spec) -> None:
    """Pinned names run in their pinned relative order; declared edges still hold."""
    result = names_of(spec.members, pinned=spec.pinned)
    pins = [n for n in spec.pinned if n in result]
    assert [n for n in result if n in pins] == pins
    position = {name: i for i, name in enumerate(result)}
    for first, second in spec.edges:
        assert position[first] < position[second]
    check_greedy(result, spec)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5), st.integers(0, 3), st.data())
def test_cycle_raises_naming_its_members(cycle_len: int, extra: int, data: st.DataObject) -> None:
    """A cycle of before/after declarations raises OrderingError listing exactly its members."""
    names = data.draw(st.permutations(NAMES[: cycle_len + extra]))
    cycle = names[:cycle_len]
    before: dict[str, list[str]] = {name: [] for name in names}
    after: dict[str, list[str]] = {name: [] for name in names}
    for k, first in enumerate(cycle):
        second = cycle[(k + 1) % cycle_len]
        if data.draw(st.booleans()):
            before[first].append(second)
        else:  # the same edge, declared from the other end
            after[second].append(first)
    members = [
        Middleware(name=name, func=_noop, priority=data.draw(st.integers(-1, 1)),
                   before=tuple(before[name]), after=tuple(after[name]))
        for name in names
    ]
    with pytest.raises(OrderingError) as info:
        order_chain(members, chain_name="connect chain of '/'")
    message = str(info.value)
    assert message.startswith("connect chain of '/'")
    assert "cycle" in message
    listed = set(message.rsplit(": ", 1)[1].split(" -> "))
    assert listed == set(cycle)


def test_unconstrained_members_sort_by_priority_then_name() -> None:
    """Without declarations the order is priority descending, then name ascending."""
    members = [
        Middleware(name="b", func=_noop, priority=0),
        Middleware(name="a", func=_noop, priority=0),
        Middleware(name="z", func=_noop, priority=10),
        Middleware(name="c", func=_noop, priority=-5),
    ]
    assert names_of(members) == ["z", "a", "b", "c"]


def test_declaration_beats_priority() -> None:
    """A low-priority member declared before a high-priority one runs first."""
    members = [
        Middleware(name="high", func=_noop, priority=100),
        Middleware(name="low", func=_noop, priority=-100, before=("high",)),
    ]
    assert names_of(members) == ["low", "high"]


def test_pinned_order_cannot_break_a_declaration() -> None:
    """A pin that contradicts a declared before/after is a cycle error naming both: the
    declarations (ratelimit shielding jwt, say) always hold."""
    members = [
        Middleware(name="a", func=_noop, before=("b",)),
        Middleware(name="b", func=_noop),
        Middleware(name="c", func=_noop, priority=5),
    ]
    with pytest.raises(OrderingError, match=r"cycle: .*(a -> b|b -> a)"):
        names_of(members, pinned=["b", "a"])
    assert names_of(members, pinned=["a", "b"]) == ["c", "a", "b"]
    assert names_of(members, pinned=["c", "b"]) == ["c", "a", "b"]


def test_reasons_say_why_each_member_stands_where_it_does() -> None:
    """Each placed member carries its reason: its priority, or its last-placed constraint."""
    members = [
        Middleware(name="auth", func=_noop, priority=10),
        Middleware(name="audit", func=_noop, after=("auth",)),
        Middleware(name="limit", func=_noop, before=("auth",)),
    ]
    placed = order_chain(members)
    assert [p.middleware.name for p in placed] == ["limit", "auth", "audit"]
    reasons = {p.middleware.name: p.reason for p in placed}
    assert reasons == {
        "limit": "priority 0",
        "auth": "after 'limit' ('limit' declared before 'auth'); priority 10",
        "audit": "after 'auth' (declared after 'auth'); priority 0",
    }


def test_reason_of_a_member_with_two_constraints_names_the_last_placed() -> None:
    """A member with several constraints shows the one placed last (the one that held it
    back), whatever the names' alphabetical order; a pin shows as such."""
    members = [
        Middleware(name="zeta", func=_noop, priority=10),
        Middleware(name="alpha", func=_noop, priority=5),
        Middleware(name="m", func=_noop, after=("zeta", "alpha")),
        Middleware(name="b", func=_noop, priority=1, before=("n",)),
        Middleware(name="n", func=_noop, after=("zeta",)),
        Middleware(name="p", func=_noop, priority=-1),
    ]
    placed = order_chain(members, pinned=["n", "p"])
    assert [(pl.middleware.name, pl.reason) for pl in placed] == [
        ("zeta", "priority 10"),
        ("alpha", "priority 5"),
        ("b", "priority 1"),
        ("m", "after 'alpha' (declared after 'alpha'); priority 0"),
        ("n", "after 'b' ('b' declared before 'n'); priority 0"),
        ("p", "after 'n' (pinned after 'n' by order); priority -1"),
    ]


@pytest.mark.parametrize("kind", ["before", "after"])
def test_absent_reference_warns_once(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    """A before/after naming an absent member logs one warning (not one per recomposition)
    and is ignored."""
    chain_name = "connect chain of '/'"
    warned: set[str] = set()  # what a Siomw instance keeps across recompositions
    members = [
        Middleware(name="a", func=_noop, **{kind: ("ghost",)}),  # type: ignore[arg-type]
        Middleware(name="b", func=_noop, priority=1),
    ]
    with caplog.at_level(logging.WARNING, logger="siomw"):
        assert names_of(members, chain_name=chain_name, warned=warned) == ["b", "a"]
        assert names_of(members, chain_name=chain_name, warned=warned) == ["b", "a"]
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "siomw" and r.levelno == logging.WARNING]
    assert warnings == [f"siomw: connect chain of '/': 'a' declares {kind} 'ghost', which is "
                        "not in the chain; the constraint is ignored"]


@pytest.mark.parametrize("strict", [False, True])
def test_if_present_references_may_be_absent(
    strict: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A member declared with if_present ignores absent neighbours silently, even when
    strict, and still obeys present ones."""
    members = [
        Middleware(name="limit", func=_noop, before=("jwt", "ghost"), after=("gone",),
                   if_present=True),
        Middleware(name="jwt", func=_noop, priority=10),
    ]
    with caplog.at_level(logging.WARNING, logger="siomw"):
        assert names_of(members, strict=strict, chain_name=uuid.uuid4().hex) == ["limit", "jwt"]
    assert not [r for r in caplog.records if r.name == "siomw"]


@pytest.mark.parametrize("kind", ["before", "after"])
def test_absent_reference_is_an_error_when_strict(kind: str) -> None:
    """In strict mode a before/after naming an absent member raises OrderingError."""
    members = [Middleware(name="a", func=_noop, **{kind: ("ghost",)})]  # type: ignore[arg-type]
    with pytest.raises(OrderingError) as info:
        order_chain(members, strict=True)
    assert str(info.value) == f"chain: 'a' declares {kind} 'ghost', which is not in the chain"


def test_duplicate_names_are_an_error() -> None:
    """Two members with one name cannot be ordered."""
    members = [Middleware(name="a", func=_noop), Middleware(name="a", func=_noop)]
    with pytest.raises(OrderingError) as info:
        order_chain(members)
    assert str(info.value) == "chain: two middlewares are named 'a'"
