"""Chain ordering: a topological sort of ``before``/``after`` with ties broken by priority.

pluggy cannot order chains (it only has ``tryfirst``/``trylast``, LIFO within each), so the
order is computed here, Kong-style (``reference/marketplace-anchors.md`` §1.1-1.2): every
``before``/``after`` edge holds; among the members free to go next, the highest ``priority``
goes first, then the smallest name. The result depends only on the declarations, never on
discovery order.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

from .errors import OrderingError
from .middleware import Middleware

__all__ = ["Placed", "order_chain"]

log = logging.getLogger("siomw")


@dataclass(frozen=True, slots=True)
class Placed:
    """A member in its place, and the constraint that put it there (for ``siomw chain``)."""

    middleware: Middleware
    reason: str


def order_chain(
    members: Iterable[Middleware],
    *,
    pinned: Sequence[str] = (),
    strict: bool = False,
    chain_name: str = "chain",
    warned: set[str] | None = None,
    quiet: bool = False,
) -> list[Placed]:
    """Order ``members`` outermost first.

    Args:
        members: the chain's members; names must be unique.
        pinned: the config's ``order``: the listed names that are present run in that
            relative order, on top of the declarations (a pin that contradicts a
            declaration is a cycle: declared constraints always hold).
        strict: make a ``before``/``after`` reference to an absent member an error
            (otherwise a warning).
        chain_name: how messages name the chain, e.g. ``"connect chain of '/'"``.
        warned: warnings already given (chains are recomposed); each is logged once per set.
        quiet: ignore absent references silently, strict or not (a chain being built up,
            whose later members may still come).

    Returns:
        The members in running order, each with the reason for its place.

    Raises:
        OrderingError: duplicate names, a cycle (the message lists it), or, when ``strict``,
            a reference to an absent member.
    """
    by_name: dict[str, Middleware] = {}
    for member in members:
        if member.name in by_name:
            raise OrderingError(f"{chain_name}: two middlewares are named {member.name!r}")
        by_name[member.name] = member

    pinned_here = [name for name in pinned if name in by_name]
    # edges[a] = {b: why}: a runs before b
    preds: dict[str, dict[str, str]] = {name: {} for name in by_name}

    def edge(first: str, second: str, why: str) -> None:
        preds[second].setdefault(first, why)

    for member in by_name.values():
        for other in member.before:
            if other not in by_name:
                if not (member.if_present or quiet):
                    _absent(member, "before", other, strict, chain_name, warned)
            else:
                edge(member.name, other, f"declared before {other!r}")
        for other in member.after:
            if other not in by_name:
                if not (member.if_present or quiet):
                    _absent(member, "after", other, strict, chain_name, warned)
            else:
                edge(other, member.name, f"declared after {other!r}")
    for first, second in itertools.pairwise(pinned_here):
        preds[second].setdefault(first, f"pinned after {first!r} by order")

    sorter: TopologicalSorter[str] = TopologicalSorter({n: set(p) for n, p in preds.items()})
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise OrderingError(
            f"{chain_name}: the before/after declarations form a cycle: {cycle}"
        ) from None

    ready: list[tuple[int, str]] = []
    placed: list[Placed] = []
    position: dict[str, int] = {}
    while sorter.is_active():
        for name in sorter.get_ready():
            heapq.heappush(ready, (-by_name[name].priority, name))
        _, name = heapq.heappop(ready)
        member = by_name[name]
        position[name] = len(placed)
        placed.append(Placed(member, _reason(member, preds[name], position)))
        sorter.done(name)
    return placed


def _reason(member: Middleware, preds: dict[str, str], position: dict[str, int]) -> str:
    """Why ``member`` stands where it does: its last-placed constraint, else its priority."""
    if preds:
        last = max(preds, key=position.__getitem__)
        why = preds[last]
        if why.startswith("declared before"):
            owner = last
            why = f"{owner!r} {why}"
        return f"after {last!r} ({why}); priority {member.priority}"
    return f"priority {member.priority}"


def _absent(
    member: Middleware, kind: str, other: str, strict: bool, chain_name: str,
    warned: set[str] | None,
) -> None:
    message = f"{chain_name}: {member.name!r} declares {kind} {other!r}, which is not in the chain"
    if strict:
        raise OrderingError(message)
    if warned is None or message not in warned:
        if warned is not None:
            warned.add(message)
        log.warning("siomw: %s; the constraint is ignored", message)
