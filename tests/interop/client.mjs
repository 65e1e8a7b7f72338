// The interop suite's JS client: the reference socket.io-client (tests/js/node_modules).
// Usage: node client.mjs '<json spec>'; prints one JSON observation per line, then exits.
// spec: {url, path="/socket.io/", auth, transports, extraHeaders, listen: [event names],
//        emits: [{event, args, ack=true}], waitFor: [event names], timeoutMs=8000}
// Observations, in the order they happen: {event: "connect", id},
// {event: "connect_error", message, data?, description?}, {event: "on", name, args},
// {event: "ack", name, value}, {event: "ack_error", name, message}, {event: "emitted", name},
// {event: "timeout"} (waitFor not all seen, or no outcome, within timeoutMs).
import { createRequire } from "node:module";

// socket.io-client is installed once, in tests/js (npm ci --prefix tests/js)
const require = createRequire(new URL("../js/package.json", import.meta.url));
const { io } = require("socket.io-client");

const spec = JSON.parse(process.argv[2]);
const timeoutMs = spec.timeoutMs ?? 8000;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const opts = { reconnection: false, forceNew: true, timeout: timeoutMs, path: spec.path ?? "/socket.io/" };
if (spec.transports) opts.transports = spec.transports;
if (spec.extraHeaders) opts.extraHeaders = spec.extraHeaders;
if (spec.auth !== undefined) opts.auth = spec.auth;

const socket = io(spec.url, opts);
const seen = new Set();
let wake = null;
const finish = () => { socket.disconnect(); setTimeout(() => process.exit(0), 50); };
const timer = setTimeout(() => { out({ event: "timeout" }); finish(); }, timeoutMs);

for (const name of spec.listen ?? []) {
  socket.on(name, (...args) => {
    out({ event: "on", name, args });
    seen.add(name);
    if (wake) wake();
  });
}
socket.on("connect", async () => {
  out({ event: "connect", id: socket.id });
  for (const item of spec.emits ?? []) {
    const args = item.args ?? [];
    if (item.ack === false) {
      socket.emit(item.event, ...args);
      out({ event: "emitted", name: item.event });
      continue;
    }
    try {
      const value = await socket.timeout(timeoutMs).emitWithAck(item.event, ...args);
      out({ event: "ack", name: item.event, value });
    } catch (err) {
      out({ event: "ack_error", name: item.event, message: err.message });
    }
  }
  // bounded by the timer above: wait until every waitFor event has arrived
  while (!(spec.waitFor ?? []).every((name) => seen.has(name))) {
    await new Promise((resolve) => { wake = resolve; });
  }
  clearTimeout(timer);
  finish();
});
socket.on("connect_error", (err) => {
  const rec = { event: "connect_error", message: err.message };
  if ("data" in err) rec.data = err.data === undefined ? null : err.data;
  if (typeof err.description === "number") rec.description = err.description;
  out(rec);
  clearTimeout(timer);
  finish();
});
