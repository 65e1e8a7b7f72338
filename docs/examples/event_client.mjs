// Refusals of event middlewares, as the JS client sees them.
// Needs socket.io-client beside it: npm ci --prefix docs/examples (from the repository).
// Run, from the repository, with `uvicorn docs.examples.event_app:app` serving:
//   URL=http://127.0.0.1:8000 node docs/examples/event_client.mjs
import { io } from "socket.io-client";

const socket = io(process.env.URL, { auth: { role: "guest" } });

// without an ack, a refusal arrives as the "siomw:error" event
socket.on("siomw:error", ({ event, message, data }) => {
  console.log(`${event} refused: ${message} (${data.code})`);
});

socket.on("connect", async () => {
  let reply = await socket.emitWithAck("message", "  hello  ");
  console.log(JSON.stringify(reply)); // {"echo":"hello"}: trimmed by the chain
  reply = await socket.emitWithAck("admin:kick", "bob");
  if (reply?.error) { // a refusal answers the ack with {error: {message, data}}
    console.log(`${reply.error.message}: ${reply.error.data.code}`); // unauthorized event: forbidden
  }
  socket.emit("admin:kick", "bob"); // no ack: the siomw:error listener gets it
  reply = await socket.emitWithAck("message", "again");
  console.log(JSON.stringify(reply.error.data)); // {"code":"quota","limit":1}: guests get one
  socket.disconnect();
});
