"""Send siomw's lines through the application's stdlib logging instead of a stream.

With ``file = "logging"`` each rendered line becomes the message of a record on the stdlib
logger ``logger_name``; the application's handlers and formatters decide where it goes.
"""

import logging
from typing import Any

import siomw_logging
import socketio

from siomw_core import Config, CoreSettings, attach

sio = socketio.AsyncServer(async_mode="asgi")
config = Config(
    source="logging_stdlib.py",
    core=CoreSettings(),
    tables={"logging": {"file": "logging", "logger_name": "myapp.socketio", "format": "json"}},
)
mw = attach(sio, config=config, entry_points=False, local_plugins=[("logging", siomw_logging)])


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    pass


app = mw.asgi_app()  # socketio.ASGIApp(sio) with its arguments (a bare one works too)

if __name__ == "__main__":
    import uvicorn

    # the application, not the library, configures logging
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(app, host="127.0.0.1", port=8000)
