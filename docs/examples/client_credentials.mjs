// The browser/Node side of "Sending credentials": auth as an object, or as a function
// that is called on every (re)connection. Run: URL=http://127.0.0.1:5000 node client_credentials.mjs
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
