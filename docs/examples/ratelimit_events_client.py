"""A python client that tells a rate-limited reply from a normal one and waits retry_after.

Run it against ratelimit_events_app.py: ``python ratelimit_events_client.py [URL]``.
"""

import asyncio
import sys
from typing import Any

import socketio


def refused(reply: Any) -> dict[str, Any] | None:
    """The ``{"message", "data"}`` of a refused event's ack, or None for a normal reply."""
    if isinstance(reply, dict) and set(reply) == {"error"}:
        error: dict[str, Any] = reply["error"]
        return error
    return None


async def main(url: str) -> None:
    client = socketio.AsyncClient()

    @client.on("siomw:error")  # refusals of events sent without an ack
    async def on_error(payload: dict[str, Any]) -> None:
        print(f"{payload['event']} refused: {payload['message']}")

    await client.connect(url, transports=["websocket"])
    for query in ("a", "b", "c", "d"):
        reply = await client.call("search", query)
        error = refused(reply)
        if error is None:
            print(f"search {query}: {reply}")
        else:
            data = error["data"]
            print(f"search {query}: {error['message']} ({data['code']}, {data['limit']}, "
                  f"retry in {data['retry_after']} s)")
    await client.emit("search", "no ack")  # refused: answered by the siomw:error event
    await asyncio.sleep(0.5)
    await client.disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"))
