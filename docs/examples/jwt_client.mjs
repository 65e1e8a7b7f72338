// The client side of the jwt plugin: send the token in auth (or as a Bearer header), and read
// refusals from connect_error.
// Needs socket.io-client beside it: npm ci --prefix docs/examples (from the repository).
// Run, from the repository, with `uvicorn docs.examples.jwt_app:app` serving and the same
// SIOMW_JWT_SECRET exported in both shells:
//   TOKEN=$(siomw --config docs/examples/jwt_siomw.toml token --sub alice)
//   URL=http://127.0.0.1:8000 TOKEN=$TOKEN node docs/examples/jwt_client.mjs
import { io } from "socket.io-client";

const withToken = io(process.env.URL, { auth: { token: process.env.TOKEN }, forceNew: true });
withToken.on("connect", async () => {
  console.log("whoami:", await withToken.emitWithAck("whoami"));
  withToken.disconnect();

  const admin = io(process.env.URL + "/admin", { auth: { token: process.env.TOKEN }, forceNew: true });
  admin.on("connect_error", (err) => {
    console.log(err.message);              // "Insufficient scope"
    console.log(JSON.stringify(err.data)); // {"code":"insufficient_scope","detail":"missing_scope","scope":"admin"}
    admin.disconnect();

    // outside browsers (Node, React Native) the token can also travel as a header
    const viaHeader = io(process.env.URL, {
      extraHeaders: { Authorization: `Bearer ${process.env.TOKEN}` },
      forceNew: true,
    });
    viaHeader.on("connect", () => { console.log("header: connected"); viaHeader.disconnect(); });
  });
});
