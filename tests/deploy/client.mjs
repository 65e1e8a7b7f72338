// A JS socket.io-client that stays connected and takes commands, for tests/deploy.
// Usage: node client.mjs '<json spec>'; spec: {url, localAddress, transports, auth,
// listen: [event names]}. Prints one JSON line per observation:
//   {event: "connect", id}, {event: "connect_error", message, data},
//   {event: "on", name, args}, {event: "ack", id, args}, {event: "ack_error", id, message},
//   {event: "disconnect", reason}.
// Reads one JSON command per line on stdin: {id, emit, args} (emitWithAck; the answer is
// "ack" with that id) or {close: true} (disconnect and exit). stdin closed: exit.
import http from "node:http";
import readline from "node:readline";
import { createRequire } from "node:module";

// socket.io-client as tests/js installed it (npm ci --prefix tests/js)
const { io } = createRequire(new URL("../js/package.json", import.meta.url))("socket.io-client");

const spec = JSON.parse(process.argv[2]);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
// the client's own address: polling requests through the agent, the WebSocket through ws
const agent = new http.Agent({ localAddress: spec.localAddress, keepAlive: true });
const socket = io(spec.url, {
  reconnection: false,
  forceNew: true,
  timeout: 10000,
  transports: spec.transports,
  auth: spec.auth,
  agent,
  localAddress: spec.localAddress,
});
const done = () => { socket.disconnect(); agent.destroy(); setTimeout(() => process.exit(0), 50); };
for (const name of spec.listen ?? []) socket.on(name, (...args) => out({ event: "on", name, args }));
socket.on("connect", () => out({ event: "connect", id: socket.id }));
socket.on("connect_error", (err) => out({ event: "connect_error", message: err.message, data: err.data ?? null }));
socket.on("disconnect", (reason) => out({ event: "disconnect", reason }));
const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const cmd = JSON.parse(line);
  if (cmd.close) { done(); return; }
  try {
    const args = await socket.timeout(10000).emitWithAck(cmd.emit, ...(cmd.args ?? []));
    out({ event: "ack", id: cmd.id, args });
  } catch (err) {
    out({ event: "ack_error", id: cmd.id, message: err.message });
  }
});
lines.on("close", done);
setTimeout(done, 60000); // bounded: a test that forgets to close its client
