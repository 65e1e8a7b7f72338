"""Refusals of event middlewares, as python-socketio's AsyncClient sees them.

Run, from the repository, with `uvicorn docs.examples.event_app:app` serving:
  URL=http://127.0.0.1:8000 python docs/examples/event_client.py
"""

import asyncio
import os
from typing import Any

import socketio


def refusal(reply: Any) -> dict[str, Any] | None:
    """The refusal in an ack's reply, or None: a refused event's ack is {"error": {...}}."""
    error = reply.get("error") if isinstance(reply, dict) else None
    return error if isinstance(error, dict) else None


async def main() -> None:
    sio = socketio.AsyncClient()
    done = asyncio.Event()

    @sio.on("siomw:error")  # a refused event sent without an ack
    async def refused(error: dict[str, Any]) -> None:
        print(f"{error['event']} refused: {error['message']} ({error['data']['code']})")
        done.set()

    await sio.connect(os.environ["URL"], auth={"role": "guest"})
    print(await sio.call("message", "  hello  "))  # {'echo': 'hello'}: trimmed by the chain
    error = refusal(await sio.call("admin:kick", "bob"))
    if error:
        print(f"{error['message']}: {error['data']['code']}")  # unauthorized event: forbidden
    await sio.emit("admin:kick", "bob")  # no ack: the siomw:error handler gets it
    await done.wait()
    error = refusal(await sio.call("message", "again"))
    print(error["data"] if error else None)  # {'code': 'quota', 'limit': 1}: guests get one
    await sio.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
