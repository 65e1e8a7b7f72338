// Per-event refusals, a token that expires during the session, and re-authentication without
// reconnecting, from the JS client.
// Needs socket.io-client beside it: npm ci --prefix docs/examples (from the repository).
// Run, from the repository, with `uvicorn docs.examples.jwt_events_app:app` serving and the
// same SIOMW_JWT_SECRET exported in both shells:
//   TOKEN=$(siomw --config docs/examples/jwt_events_siomw.toml token --sub alice --ttl 5)
//   FRESH_TOKEN=$(siomw --config docs/examples/jwt_events_siomw.toml token --sub alice --scope admin)
//   URL=http://127.0.0.1:8000 TOKEN=$TOKEN FRESH_TOKEN=$FRESH_TOKEN node docs/examples/jwt_events_client.mjs
import { io } from "socket.io-client";

const getToken = async () => process.env.FRESH_TOKEN; // yours: ask your auth server for one

const socket = io(process.env.URL, { auth: { token: process.env.TOKEN } });

// emitWithAck that re-authenticates once when the token has expired, then sends again
async function call(event, ...args) {
  let reply = await socket.emitWithAck(event, ...args);
  const data = reply?.error?.data;
  if (data?.code === "invalid_token" && data.detail === "expired") {
    const token = await getToken();
    const answer = await socket.emitWithAck("siomw:reauth", { token }); // {ok: true, exp}
    if (answer.error) throw new Error(`re-authentication refused: ${answer.error.message}`);
    socket.auth.token = token; // a reconnection sends the new token too
    console.log("re-authenticated");
    reply = await socket.emitWithAck(event, ...args);
  }
  return reply;
}

// refusals of events emitted without an ack come as this event
socket.on("siomw:error", (err) => console.log("siomw:error", err.event, err.data.code));

socket.on("connect", async () => {
  console.log("whoami:", await call("whoami"));
  const refused = await call("admin:kick", "bob"); // the first token has no "admin" scope
  console.log(refused.error.message, JSON.stringify(refused.error.data));
  await new Promise((resolve) => setTimeout(resolve, 5500)); // the 5-second token expires
  console.log("kick:", await call("admin:kick", "bob")); // refused "expired", re-auth, sent again
  socket.disconnect();
});
