// A client that respects the server's budget: on a rate_limited refusal it learns from
// err.data how long to wait.
// Needs socket.io-client beside it: npm ci --prefix docs/examples (from the repository).
// Run, from the repository, with `uvicorn docs.examples.ratelimit_app:app` serving:
//   URL=http://127.0.0.1:8000 node docs/examples/ratelimit_client.mjs
import { io } from "socket.io-client";

const attempts = Number(process.env.ATTEMPTS ?? 4);
for (let i = 1; i <= attempts; i++) {
  const socket = io(process.env.URL, { forceNew: true, reconnection: false, transports: ["websocket"] });
  const outcome = await new Promise((resolve) => {
    socket.on("connect", () => resolve("connected"));
    socket.on("connect_error", (err) => {
      if (err.data?.code === "rate_limited") {
        // a real client would wait: setTimeout(() => socket.connect(), err.data.retry_after * 1000)
        resolve(`${err.message}: ${err.data.limit}, retry in ${err.data.retry_after} s`);
      } else {
        resolve(`refused: ${err.message} ${JSON.stringify(err.data)}`);
      }
    });
  });
  console.log(`attempt ${i}: ${outcome}`);
  socket.disconnect();
}
