// The JS client of docs/examples/serve_mounted.py: the Socket.IO server is under /realtime.
// Needs socket.io-client beside it: npm ci --prefix docs/examples (from the repository).
// Run, from the repository, with `uvicorn docs.examples.serve_mounted:api` serving:
//   URL=http://127.0.0.1:8000 node docs/examples/serve_mounted_client.mjs
import { io } from "socket.io-client";

for (const transports of [["polling"], ["websocket"]]) {
  const socket = io(process.env.URL, {
    path: "/realtime/socket.io/", // the mount prefix, then the engine path
    transports,
    reconnection: false,
    forceNew: true, // one connection per transport, not the cached one
  });
  await new Promise((resolve, reject) => {
    socket.on("connect", resolve);
    socket.on("connect_error", reject);
  });
  console.log(JSON.stringify([transports[0], await socket.emitWithAck("echo", "hi")]));
  socket.close();
}
// a polling-only client leaves an HTTP request open after close() that keeps Node running
// (so does plain python-socketio's server): end the script here
process.exit(0);
