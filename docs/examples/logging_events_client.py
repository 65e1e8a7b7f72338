"""A Python client of logging_events.py: ``python logging_events_client.py URL``."""

import asyncio
import sys
from typing import Any

import socketio


async def main(url: str) -> list[Any]:
    client = socketio.AsyncClient()
    await client.connect(url, auth={"name": "ada"}, transports=["websocket"])
    answers = [
        await client.call("chat message", {"text": "hello", "otp": "551903"}),
        await client.call("chat message", {"text": "HELLO!"}),  # refused: shouting
    ]
    await client.emit("typing")  # excluded: no line
    await client.disconnect()
    return answers


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
