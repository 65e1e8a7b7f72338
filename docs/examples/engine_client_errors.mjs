// What the JS client shows when an engine middleware refuses the handshake (HTTP 401).
// Needs socket.io-client beside it: npm ci --prefix docs/examples (from the repository).
// Run, from the repository, with `uvicorn docs.examples.engine_registering:app` serving:
//   URL=http://127.0.0.1:8000 node docs/examples/engine_client_errors.mjs
import { io } from "socket.io-client";

for (const transports of [["polling"], ["websocket"]]) {
  const socket = io(process.env.URL, { transports, reconnection: false });
  const err = await new Promise((resolve) => socket.on("connect_error", resolve));
  // polling: the XHR status; websocket under Node: ws's Error (a browser gives no detail)
  const detail = String(err.description?.message ?? err.description);
  console.log(JSON.stringify([transports[0], err.message, err.type, detail]));
  socket.close();
}
