"""A handler's requirement enforced by a plugin, from python-socketio's AsyncClient.

Run, from the repository, with `uvicorn docs.examples.event_plugin:app` serving:
  URL=http://127.0.0.1:8000 python docs/examples/event_plugin_client.py
"""

import asyncio
import os

import socketio


async def main() -> None:
    for key in ("key-ann", "key-bob"):
        sio = socketio.AsyncClient()
        await sio.connect(os.environ["URL"], auth={"key": key})
        print(await sio.call("publish", "news"))
        await sio.disconnect()
    # key-ann: ann published news
    # key-bob: {'error': {'message': 'needs role editor',
    #                     'data': {'code': 'insufficient_scope', 'role': 'editor'}}}


if __name__ == "__main__":
    asyncio.run(main())
