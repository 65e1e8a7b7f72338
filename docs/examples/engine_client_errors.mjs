// What the JS client shows when an engine middleware refuses the handshake (HTTP 401).
import { io } from "socket.io-client";

for (const transports of [["polling"], ["websocket"]]) {
  const socket = io(process.env.URL, { transports, reconnection: false });
  const err = await new Promise((resolve) => socket.on("connect_error", resolve));
  // polling: the XHR status; websocket under Node: ws's Error (a browser gives no detail)
  const detail = String(err.description?.message ?? err.description);
  console.log(JSON.stringify([transports[0], err.message, err.type, detail]));
  socket.close();
}
