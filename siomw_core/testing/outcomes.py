"""What a client saw of one attempt, the same shape at every level, and the assertions.

A refusal reaches a user three ways (``docs/plugins/writing.md``): a namespace CONNECT is
answered CONNECT_ERROR ``{"message", "data"}`` (the client's ``connect_error`` handler); an
event with an ack is acked ``{"error": {"message", "data"}}``; an engine request is answered
an HTTP status with the JSON body ``{"message", "data"}``. :class:`Outcome` holds any of them;
``data["code"]`` is the machine-readable reason (RFC 6750 codes for tokens, ``rate_limited``,
``middleware_timeout``, a plugin's own).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outcome", "assert_accepted", "assert_refused", "outcome_of"]


@dataclass(frozen=True)
class Outcome:
    """One attempt as its client saw it.

    Attributes:
        accepted: the connection was accepted, the event handled, the request answered
            below 400.
        message: the refusal's message (``None`` when accepted).
        data: the refusal's ``data`` (a dict with ``"code"``, usually); when accepted, what
            came back (the ack's value, the JSON body of a request, ``None`` for a connect).
        status: the HTTP status, for engine requests (and a polling connect refused by the
            engine); ``None`` otherwise.
        level: ``"connect"``, ``"event"`` or ``"http"``: where it was seen.
        headers: the response headers of an HTTP request (names lower-cased).
        body: the response body of an HTTP request, as text.
    """

    accepted: bool
    message: str | None = None
    data: Any = None
    status: int | None = None
    level: str = "connect"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    @property
    def code(self) -> str | None:
        """``data["code"]`` when ``data`` is a dict that has one, else ``None``."""
        if isinstance(self.data, dict):
            code = self.data.get("code")
            return None if code is None else str(code)
        return None

    def describe(self) -> str:
        """One line for assertion messages: what was seen."""
        if self.accepted:
            seen = f"accepted ({self.level})"
            if self.data is not None:
                seen += f", data={self.data!r}"
        else:
            seen = f"refused ({self.level}): message={self.message!r}, data={self.data!r}"
        if self.status is not None:
            seen += f", status={self.status}"
        return seen

    @classmethod
    def from_http(cls, status: int, headers: dict[str, str], body: str) -> Outcome:
        """An engine request's answer: refused when ``status >= 400``, its ``message`` and
        ``data`` from a JSON body ``{"message", "data"}`` (the text itself otherwise)."""
        parsed: Any = None
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        if status < 400:
            return cls(True, data=parsed, status=status, level="http", headers=headers,
                       body=body)
        if isinstance(parsed, dict) and "message" in parsed:
            return cls(False, str(parsed["message"]), parsed.get("data"), status, "http",
                       headers, body)
        return cls(False, body or None, None, status, "http", headers, body)

    @classmethod
    def from_payload(cls, payload: Any, *, level: str, status: int | None = None) -> Outcome:
        """A refusal from its payload: ``{"message", "data"}``, or a bare message."""
        if isinstance(payload, dict) and "message" in payload:
            return cls(False, None if payload["message"] is None else str(payload["message"]),
                       payload.get("data"), status, level)
        return cls(False, None if payload is None else str(payload), None, status, level)


def outcome_of(value: Any) -> Outcome:
    """``value`` as an :class:`Outcome`: an Outcome as is; an ack value of the refusal shape
    ``{"error": {"message", "data"}}`` as a refused event; any other ack value as an accepted
    event whose ``data`` is that value."""
    if isinstance(value, Outcome):
        return value
    if isinstance(value, dict) and set(value) == {"error"} and isinstance(value["error"], dict):
        return Outcome.from_payload(value["error"], level="event")
    return Outcome(True, data=value, level="event")


def assert_refused(outcome: Any, code: str | None = None, message: str | None = None,
                   status: int | None = None) -> Outcome:
    """Assert that ``outcome`` (an :class:`Outcome`, or an ack value: :func:`outcome_of`) is
    a refusal, with ``data["code"] == code``, ``message`` and HTTP ``status`` when given.

    Returns:
        the outcome, for further checks (``.data``).

    Raises:
        AssertionError: naming what was expected and what was seen.
    """
    seen = outcome_of(outcome)
    wanted = [f"{name}={value!r}" for name, value in
              (("code", code), ("message", message), ("status", status)) if value is not None]
    expected = "refused" + (f" with {', '.join(wanted)}" if wanted else "")
    problems = []
    if seen.accepted:
        problems.append("it was accepted")
    else:
        if code is not None and seen.code != code:
            problems.append(f"code {seen.code!r}")
        if message is not None and seen.message != message:
            problems.append(f"message {seen.message!r}")
    if status is not None and seen.status != status:
        problems.append(f"status {seen.status!r}")
    if problems:
        raise AssertionError(f"expected {expected}; got {', '.join(problems)}: "
                             f"{seen.describe()}")
    return seen


def assert_accepted(outcome: Any) -> Outcome:
    """Assert that ``outcome`` (an :class:`Outcome`, or an ack value) was accepted.

    Returns:
        the outcome (``.data``: the ack's value or the JSON body).

    Raises:
        AssertionError: with the refusal's message, data and status.
    """
    seen = outcome_of(outcome)
    if not seen.accepted:
        raise AssertionError(f"expected accepted; got {seen.describe()}")
    return seen
