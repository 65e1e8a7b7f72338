"""Reading a scrape: prometheus_client's own parser, samples by name and labels."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

#: the page on the engine's own server (the plugin's default path)
PATH = "/socket.io/metrics"


class Scrape:
    """One scrape's samples: ``scrape.value("siomw_attempts_total", level="connect")`` sums
    the samples of that name whose labels include the given ones (0.0 when none)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [sample for family in text_string_to_metric_families(text)
                        for sample in family.samples]

    def matching(self, name: str, **labels: str) -> list[Any]:
        return [s for s in self.samples if s.name == name and
                all(s.labels.get(key) == value for key, value in labels.items())]

    def value(self, name: str, **labels: str) -> float:
        return float(sum(s.value for s in self.matching(name, **labels)))


def fetch(url: str) -> tuple[int, dict[str, str], str]:
    """GET ``url``: status, headers (lower-case names), body."""
    with urllib.request.urlopen(url, timeout=5) as response:
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, response.read().decode()


def until(predicate: Callable[[], Any], timeout: float = 10) -> Any:
    """``predicate()``'s first true value, polled every 50 ms for at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)
