// The browser/Node side of "Sending credentials": auth as an object, or as a function
// that is called on every (re)connection.
// Needs socket.io-client beside it: npm ci --prefix docs/examples (from the repository).
// Run, from the repository, with `uvicorn docs.examples.connect_credentials:app` serving:
//   URL=http://127.0.0.1:8000 node docs/examples/client_credentials.mjs
import { io } from "socket.io-client";

const asObject = io(process.env.URL, { auth: { token: "token-of-alice" }, forceNew: true });
asObject.on("connect", async () => {
  console.log("object:", await asObject.emitWithAck("whoami"));
  asObject.disconnect();

  const asFunction = io(process.env.URL, {
    auth: (cb) => cb({ token: "token-of-bob" }), // e.g. read from localStorage
    forceNew: true,
  });
  asFunction.on("connect", async () => {
    console.log("function:", await asFunction.emitWithAck("whoami"));
    asFunction.disconnect();
  });
});
