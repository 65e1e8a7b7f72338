"""Memory per connected socket: siomw's full chain against bare python-socketio.

Usage: python bench/memory_rate.py [--kind asgi|aiohttp|wsgi] [--sockets 10000]
[--modes bare,full] [--top N]

Each mode's server (``bench/server.py MODE PORT KIND`` with ``PYTHONTRACEMALLOC=1`` and
``SIOMW_BENCH_STATS=1``: tracemalloc traces from the interpreter's start, and ``GET
/bench/memory`` answers the traced bytes after ``gc.collect()``) gets a warm-up of a few
connections, then a reading of the traced bytes, then ``--sockets`` WebSocket clients that
connect to ``"/"`` (with a token, each from its own loopback address: no rate limit is hit)
and stay connected, then a second reading. Reported: the bytes each connected socket holds
(the difference over the sockets) and, for each mode, the bytes it adds per socket over
bare. ``--top N`` also prints, in bytes per socket, bare's N source lines (tracemalloc's,
one frame) whose allocations grew most between the two readings, and for each other mode
the N lines that grew most beyond bare's growth on the same line (what the mode adds).

The clients are raw RFC 6455 frames over asyncio streams (an HTTP Upgrade, masked text
frames with a zero mask key, Engine.IO pings answered), so that 10 000 of them cost this
process little; the file-descriptor limit is raised to its hard limit (the server inherits
it). On the ``wsgi`` kind every connected WebSocket holds one of gunicorn's threads: the
server gets ``SIOMW_BENCH_THREADS = sockets + 50``. Both modes run with an Engine.IO ping
interval of an hour (``SIOMW_BENCH_PING_INTERVAL``): 10 000 sockets take longer to connect
on a busy machine than python-engineio's ping timeout; the pings would only add noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import tempfile
import time
import tracemalloc
import urllib.request
from typing import Any

import jwt
from server import check_modes

from connect_rate import SECRET, free_port, start

HANDSHAKE = ("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def frame(text: str, opcode: int = 1, raw: bytes | None = None) -> bytes:
    """A client's masked WebSocket frame of ``text`` (or the bytes ``raw``); mask key zero:
    the payload as is (RFC 6455 5.3)."""
    payload = text.encode() if raw is None else raw
    size = len(payload)
    head = bytes([0x80 | opcode])
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 65536:
        head += bytes([0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + size.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One (unmasked) server frame: ``(opcode, payload)``."""
    first, second = await reader.readexactly(2)
    size = second & 0x7F
    if size == 126:
        size = int.from_bytes(await reader.readexactly(2), "big")
    elif size == 127:
        size = int.from_bytes(await reader.readexactly(8), "big")
    return first & 0x0F, await reader.readexactly(size)


class Client:
    """One connected Socket.IO client on raw frames; :meth:`serve` answers pings."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, source: str, auth: str) -> Client:
        """Upgrade, read the Engine.IO open packet, send CONNECT, await its answer.

        Raises:
            RuntimeError: the upgrade or the CONNECT was refused.
        """
        reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                       local_addr=(source, 0))
        writer.write(HANDSHAKE.format(port=port).encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"upgrade refused: {head[:200]!r}")
        client = cls(reader, writer)
        await client.expect(b"0")
        writer.write(frame("40" + auth))
        answer = await client.expect(b"4")
        if not answer.startswith(b"40"):
            raise RuntimeError(f"CONNECT refused: {answer[:300]!r}")
        return client

    async def expect(self, prefix: bytes) -> bytes:
        """The next text frame starting with ``prefix``, answering pings meanwhile."""
        while True:
            opcode, payload = await read_frame(self.reader)
            if opcode == 8:
                raise RuntimeError("the server closed the WebSocket")
            if opcode == 9:  # uvicorn's keepalive: a pong carries the ping's data (RFC 6455 5.5.3)
                self.writer.write(frame("", opcode=0xA, raw=payload))
            elif payload == b"2":
                self.writer.write(frame("3"))
            elif payload.startswith(prefix):
                return payload

    async def serve(self) -> None:
        """Answer Engine.IO pings until the connection ends."""
        try:
            await self.expect(b"\xff")  # never sent: reads until closed
        except (asyncio.IncompleteReadError, ConnectionError, RuntimeError):
            pass

    def close(self) -> None:
        self.writer.close()


def stats(port: int) -> dict[str, int]:
    """The server's ``GET /bench/memory`` answer."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/memory", timeout=120) as resp:
        return dict(json.loads(resp.read()))


def source(i: int) -> str:
    """Client ``i``'s loopback address (distinct for the first 62 500)."""
    return f"127.2.{(i // 250) % 250}.{2 + i % 250}"


async def hold(port: int, sockets: int, concurrency: int = 50) -> dict[str, float]:
    """Warm up, read, connect ``sockets`` clients (``concurrency`` at a time), read again,
    close: ``{"before", "after", "sockets", "per_socket", "seconds"}`` (bytes traced)."""
    token = jwt.encode({"sub": "bench", "exp": int(time.time()) + 3600}, SECRET,
                       algorithm="HS256")
    auth = json.dumps({"token": token})
    warm = [await Client.connect(port, source(sockets + i), auth) for i in range(20)]
    for client in warm:
        client.close()
    await asyncio.sleep(0.5)
    before = await asyncio.to_thread(stats, port)
    clients: list[Client] = []
    tasks: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(concurrency)
    t0 = time.monotonic()

    async def one(i: int) -> None:
        async with gate:
            client = await Client.connect(port, source(i), auth)
        clients.append(client)
        # from now on: the server pings every 25 s and drops a socket that does not answer
        tasks.append(asyncio.create_task(client.serve()))

    await asyncio.gather(*(one(i) for i in range(sockets)))
    seconds = time.monotonic() - t0
    after = await asyncio.to_thread(stats, port)
    for client in clients:
        client.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if after["sockets"] - before["sockets"] != sockets:
        raise RuntimeError(f"{after['sockets'] - before['sockets']} sockets connected, "
                           f"not {sockets}")
    return {"before": before["traced"], "after": after["traced"], "sockets": sockets,
            "per_socket": (after["traced"] - before["traced"]) / sockets, "seconds": seconds}


def grown_lines(folder: str, sockets: int) -> dict[str, float]:
    """How much each source line's traced bytes grew between the server's two snapshots in
    ``folder``, per socket: ``{"file:line": bytes per socket}``."""
    before = tracemalloc.Snapshot.load(os.path.join(folder, "0.snap"))
    after = tracemalloc.Snapshot.load(os.path.join(folder, "1.snap"))
    return {f"{stat.traceback[0].filename}:{stat.traceback[0].lineno}":
            stat.size_diff / sockets for stat in after.compare_to(before, "lineno")}


def top(grown: dict[str, float], count: int,
        bare: dict[str, float] | None = None) -> list[tuple[str, float]]:
    """The ``count`` lines of ``grown`` that grew most, or, given ``bare``'s, most beyond
    bare's growth on the same line (what the mode adds): ``[("file:line", bytes)]``."""
    added = grown if bare is None else {
        line: grown.get(line, 0.0) - bare.get(line, 0.0) for line in {*grown, *bare}}
    return sorted(added.items(), key=lambda item: -item[1])[:count]


def measure(mode: str, sockets: int, kind: str = "asgi",
            top: int = 0) -> dict[str, Any]:
    """One server of ``mode`` on ``kind`` holding ``sockets`` connections (see the module);
    with ``top``, also ``"grown"``: :func:`grown_lines` of its snapshots."""
    raise_fd_limit()
    # a ping interval of an hour: no Engine.IO ping while the sockets connect (at 10 000,
    # on a busy machine, that takes longer than python-engineio's 25 + 20 s), bare and full
    env: dict[str, str] = {"PYTHONTRACEMALLOC": "1", "SIOMW_BENCH_STATS": "1",
                           "SIOMW_BENCH_PING_INTERVAL": "3600"}
    if kind == "wsgi":
        env["SIOMW_BENCH_THREADS"] = str(sockets + 50)
    folder = tempfile.mkdtemp(prefix="siomw-memory-") if top else ""
    if folder:
        env["SIOMW_BENCH_SNAPSHOTS"] = folder
    port = free_port()
    proc = start(mode, port, kind=kind, env=env)
    try:
        result: dict[str, Any] = dict(asyncio.run(hold(port, sockets)))
        if folder:
            result["grown"] = grown_lines(folder, sockets)
        return result
    finally:
        proc.terminate()  # uvicorn closes 10 000 WebSockets one by one: give it a while
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="asgi", choices=("asgi", "aiohttp", "wsgi"))
    parser.add_argument("--sockets", type=int, default=10000)
    parser.add_argument("--modes", default="bare,full")
    parser.add_argument("--top", type=int, default=0, metavar="N",
                        help="print the N source lines that grew most, per mode")
    args = parser.parse_args()
    modes = args.modes.split(",")
    check_modes(parser, modes, args.kind)
    if args.sockets < 1:
        parser.error(f"--sockets must be at least 1, not {args.sockets}")
    if args.top < 0:
        parser.error(f"--top must be 0 (none) or more, not {args.top}")
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})
    results: dict[str, Any] = {m: measure(m, args.sockets, args.kind, args.top)
                               for m in modes}
    bare = results["bare"]["per_socket"]
    print(f"kind {args.kind}; {args.sockets} sockets held")
    print(f"{'mode':<13} {'bytes/socket':>12} {'added over bare':>15} {'connect s':>9}")
    for mode in modes:
        per = results[mode]["per_socket"]
        print(f"{mode:<13} {per:12.0f} {per - bare:15.0f} {results[mode]['seconds']:9.1f}")
    for mode in modes if args.top else ():
        if mode == "bare":
            print(f"\n{mode}: bytes per socket by source line")
            lines = top(results[mode]["grown"], args.top)
        else:
            print(f"\n{mode}: bytes per socket by source line, beyond bare's on that line")
            lines = top(results[mode]["grown"], args.top, results["bare"]["grown"])
        for where, size in lines:
            print(f"{size:10.0f}  {where}")


if __name__ == "__main__":
    main()
