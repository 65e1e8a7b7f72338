// The client side of the handshake check.
// Needs socket.io-client beside it: npm ci --prefix docs/examples (from the repository).
// Run, from the repository, with `uvicorn docs.examples.jwt_handshake_app:app` serving and the
// same SIOMW_JWT_SECRET exported in both shells:
//   TOKEN=$(siomw --config docs/examples/jwt_handshake_siomw.toml token --sub alice --scope chat)
//   URL=http://127.0.0.1:8000 TOKEN=$TOKEN node docs/examples/jwt_handshake_client.mjs
import { io } from "socket.io-client";

const { URL, TOKEN } = process.env;

// outside browsers (Node, React Native) the token travels as a header on every transport
const viaHeader = io(URL, { extraHeaders: { Authorization: `Bearer ${TOKEN}` }, forceNew: true });
viaHeader.on("connect", async () => {
  console.log("whoami:", await viaHeader.emitWithAck("whoami"));
  viaHeader.disconnect();
  withoutToken();
});

// an engine refusal is an HTTP status: the client reports a transport error, with the status
// as err.description, and would retry forever: stop on 401 and 403, get a new token first
function withoutToken() {
  const anonymous = io(URL, { transports: ["polling"], forceNew: true });
  anonymous.on("connect_error", (err) => {
    console.log(err.message, err.description); // "xhr poll error" 401
    if (err.description === 401 || err.description === 403) anonymous.disconnect();
    viaQuery();
  });
}

// in browsers, WebSocket-only clients send the token in the query (or a cookie)
function viaQuery() {
  const socket = io(URL, { query: { token: TOKEN }, transports: ["websocket"], forceNew: true });
  socket.on("connect", async () => {
    console.log("query:", await socket.emitWithAck("whoami"));
    socket.disconnect();
  });
}
