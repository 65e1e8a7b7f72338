// "Handling middleware errors" on the client: err.message and err.data of connect_error.
// Needs socket.io-client beside it: npm ci --prefix docs/examples (from the repository).
// Run, from the repository, with `uvicorn docs.examples.connect_registering:app` serving:
//   URL=http://127.0.0.1:8000 node docs/examples/client_errors.mjs
import { io } from "socket.io-client";

const socket = io(process.env.URL, { auth: { token: "wrong" } });
socket.on("connect_error", (err) => {
  console.log(err.message); // "not authorized"
  console.log(JSON.stringify(err.data)); // {"content":"Please retry later"}
  console.log(socket.active); // false: a middleware refusal is not retried automatically
  socket.disconnect();
});
