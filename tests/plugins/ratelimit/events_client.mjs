// A socket.io-client for the ratelimit event tests: connect, then run steps in order.
// Usage: node events_client.mjs '<json spec>'; prints one JSON line per observation.
// spec: {url, namespace="/", auth, timeoutMs=5000, listen: [event names to record],
//        steps: [{emit, args=[], count=1, ack=true, waitMs=0} | {sleepMs}]}
// A step with count > 1 sends that many emits at once (no await in between); with acks it
// waits for every ack, without it waits waitMs for what the server sends back.
// Observations: {event: "connect"}, {event: "connect_error", message, data},
//   {event: "ack", name, index, args: [reply]}, {event: "ack_timeout", name, index},
//   {event: "on", name, args}, {event: "disconnect", reason}, {event: "timeout"},
//   {event: "done"}
// socket.io-client is resolved from tests/js/node_modules (npm ci --prefix tests/js).
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "..", "js", "package.json"));
const { io } = require("socket.io-client");

const spec = JSON.parse(process.argv[2]);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const timeoutMs = spec.timeoutMs ?? 5000;
const opts = { reconnection: false, forceNew: true, timeout: timeoutMs, transports: ["websocket"] };
if (spec.auth !== undefined) opts.auth = spec.auth;
const url = spec.url + (spec.namespace && spec.namespace !== "/" ? spec.namespace : "");
const socket = io(url, opts);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const finish = (code = 0) => { socket.disconnect(); setTimeout(() => process.exit(code), 50); };
const overall = setTimeout(() => { out({ event: "timeout" }); finish(0); }, spec.overallMs ?? 20000);

for (const name of spec.listen ?? []) {
  socket.on(name, (...args) => out({ event: "on", name, args }));
}
socket.on("disconnect", (reason) => out({ event: "disconnect", reason }));
socket.on("connect_error", (err) => {
  out({ event: "connect_error", message: err.message, data: err.data ?? null });
  clearTimeout(overall);
  finish(0);
});
socket.on("connect", async () => {
  out({ event: "connect" });
  for (const step of spec.steps ?? []) {
    if (step.sleepMs !== undefined) { await sleep(step.sleepMs); continue; }
    const count = step.count ?? 1;
    const args = step.args ?? [];
    if (step.ack ?? true) {
      const pending = [];
      for (let index = 0; index < count; index++) {
        pending.push(socket.timeout(timeoutMs).emitWithAck(step.emit, ...args).then(
          (reply) => out({ event: "ack", name: step.emit, index, args: [reply] }),
          () => out({ event: "ack_timeout", name: step.emit, index }),
        ));
      }
      await Promise.all(pending);
    } else {
      for (let index = 0; index < count; index++) socket.emit(step.emit, ...args);
      await sleep(step.waitMs ?? 0);
    }
  }
  out({ event: "done" });
  clearTimeout(overall);
  finish(0);
});
