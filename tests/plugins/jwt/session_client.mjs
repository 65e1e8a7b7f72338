// A socket.io-client session for the jwt event tests: connect, then run steps in order.
// Usage: node session_client.mjs '<json spec>'; prints one JSON line per observation.
// spec: {url, namespace="/", auth, timeoutMs=5000, listen: [event names to record],
//        steps: [{emit, args=[], ack=true} | {sleepMs} | {waitFor: name}]}
// Observations: {event: "connect"}, {event: "connect_error", message, data},
//   {event: "ack", name, args: [reply]}, {event: "ack_timeout", name}, {event: "sent", name},
//   {event: "on", name, args}, {event: "disconnect", reason}, {event: "timeout"}, {event: "done"}
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
const opts = { reconnection: false, forceNew: true, timeout: timeoutMs };
if (spec.auth !== undefined) opts.auth = spec.auth;
const url = spec.url + (spec.namespace && spec.namespace !== "/" ? spec.namespace : "");
const socket = io(url, opts);
const seen = [];  // names of events and "disconnect", for waitFor
let wake = null;
const note = (name) => { seen.push(name); if (wake) wake(); };
const finish = (code = 0) => { socket.off("disconnect"); socket.disconnect(); setTimeout(() => process.exit(code), 50); };
const overall = setTimeout(() => { out({ event: "timeout" }); finish(0); }, spec.overallMs ?? 20000);

for (const name of spec.listen ?? []) {
  socket.on(name, (...args) => { out({ event: "on", name, args }); note(name); });
}
socket.on("disconnect", (reason) => { out({ event: "disconnect", reason }); note("disconnect"); });
socket.on("connect_error", (err) => {
  out({ event: "connect_error", message: err.message, data: err.data ?? null });
  clearTimeout(overall);
  finish(0);
});

async function waitFor(name) {
  const deadline = Date.now() + timeoutMs;
  while (!seen.includes(name)) {
    const left = deadline - Date.now();
    if (left <= 0) { out({ event: "wait_timeout", name }); return; }
    await new Promise((r) => { wake = r; setTimeout(r, left); });
    wake = null;
  }
  seen.splice(seen.indexOf(name), 1);
}

socket.once("connect", async () => {
  out({ event: "connect" });
  for (const step of spec.steps ?? []) {
    if (step.sleepMs !== undefined) {
      await new Promise((r) => setTimeout(r, step.sleepMs));
    } else if (step.waitFor !== undefined) {
      await waitFor(step.waitFor);
    } else if (step.ack === false) {
      socket.emit(step.emit, ...(step.args ?? []));
      out({ event: "sent", name: step.emit });
    } else {
      try {
        const reply = await socket.timeout(timeoutMs).emitWithAck(step.emit, ...(step.args ?? []));
        out({ event: "ack", name: step.emit, args: [reply] });
      } catch (err) {
        out({ event: "ack_timeout", name: step.emit });
      }
    }
  }
  out({ event: "done" });
  clearTimeout(overall);
  finish(0);
});
