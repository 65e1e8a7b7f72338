"""Per-event refusals, a token that expires during the session, and re-authentication without
reconnecting, from python-socketio's AsyncClient (docs/plugins/jwt.md).

Run, from the repository, with `uvicorn docs.examples.jwt_events_app:app` serving and the same
SIOMW_JWT_SECRET exported in both shells:
  TOKEN=$(siomw --config docs/examples/jwt_events_siomw.toml token --sub alice --ttl 5)
  FRESH_TOKEN=$(siomw --config docs/examples/jwt_events_siomw.toml token --sub alice --scope admin)
  export TOKEN FRESH_TOKEN
  URL=http://127.0.0.1:8000 python docs/examples/jwt_events_client.py
"""

import asyncio
import json
import os
from typing import Any

import socketio

EXPIRED = {"code": "invalid_token", "detail": "expired"}


async def get_token() -> str:
    return os.environ["FRESH_TOKEN"]  # yours: ask your auth server for one


async def main() -> None:
    sio = socketio.AsyncClient()
    auth = {"token": os.environ["TOKEN"]}  # reconnections send what this dict holds then

    async def call(event: str, *args: Any) -> Any:
        """sio.call that re-authenticates once when the token has expired, then sends again."""
        reply = await sio.call(event, args, timeout=10)
        if isinstance(reply, dict) and reply.get("error", {}).get("data") == EXPIRED:
            token = await get_token()
            answer = await sio.call("siomw:reauth", {"token": token}, timeout=10)
            if "error" in answer:
                raise RuntimeError(f"re-authentication refused: {answer['error']['message']}")
            auth["token"] = token
            print("re-authenticated")
            reply = await sio.call(event, args, timeout=10)
        return reply

    @sio.on("siomw:error")  # refusals of events emitted without an ack
    async def on_error(err: dict[str, Any]) -> None:
        print("siomw:error", err["event"], err["data"]["code"])

    await sio.connect(os.environ["URL"], auth=auth)
    print("whoami:", await call("whoami"))
    refused = await call("admin:kick", "bob")  # the first token has no "admin" scope
    print(refused["error"]["message"], json.dumps(refused["error"]["data"]))
    await asyncio.sleep(5.5)  # the 5-second token expires
    print("kick:", await call("admin:kick", "bob"))  # refused "expired", re-auth, sent again
    await sio.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
