// Drives the reference socket.io-client for siomw's tests.
// Usage: node connect.mjs '<json spec>'; prints one JSON line per observation and exits.
// spec: {url, namespace="/", auth, authFunction=false, transports, extraHeaders, query,
//        attempts=1, emit: {event, args, ack=true}, timeoutMs=5000, leaveAfterMs,
//        listen: [event names to record as {event: "on", name, args}; an ack is answered
//        with "ack:<name>"], lingerMs,
//        emits: [{event, args, ack=true}, ...] after connect, in order (each acked one
//        awaited: {event: "ack", name, args} or {event: "ack_error", name, message}; an
//        unacked one recorded as {event: "emitted", name}), afterMs: wait after them}
// Arguments may hold {"$bytes": n, "fill": k} (a Buffer of n bytes k) and {"$string": n}
// ("x" n times); Buffers received are recorded as {"$bytes": length, "first", "last"}.
import { io } from "socket.io-client";

const spec = JSON.parse(process.argv[2]);
const out = (obj) => process.stdout.write(JSON.stringify(encode(obj)) + "\n");
function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    if ("$bytes" in value) return Buffer.alloc(value.$bytes, value.fill ?? 0);
    if ("$string" in value) return "x".repeat(value.$string);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}
function encode(value) {
  if (value instanceof ArrayBuffer) value = Buffer.from(value);
  if (Buffer.isBuffer(value)) {
    return { $bytes: value.length, first: value.length ? value[0] : null, last: value.length ? value[value.length - 1] : null };
  }
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  }
  return value;
}
const opts = {
  reconnection: false,
  forceNew: true,
  timeout: spec.timeoutMs ?? 5000,
};
if (spec.transports) opts.transports = spec.transports;
if (spec.extraHeaders) opts.extraHeaders = spec.extraHeaders;
if (spec.query) opts.query = spec.query;
if (spec.auth !== undefined) {
  if (spec.authFunction) {
    let calls = 0;
    opts.auth = (cb) => { calls += 1; out({ event: "auth_called", calls }); cb(spec.auth); };
  } else {
    opts.auth = spec.auth;
  }
}
const url = spec.url + (spec.namespace && spec.namespace !== "/" ? spec.namespace : "");
const socket = io(url, opts);
const done = (code = 0) => { socket.disconnect(); setTimeout(() => process.exit(code), 50); };
const timer = setTimeout(() => { out({ event: "timeout" }); done(0); }, spec.timeoutMs ?? 5000);

for (const name of spec.listen ?? []) {
  socket.on(name, (...args) => {
    const ack = typeof args.at(-1) === "function" ? args.pop() : null;
    out({ event: "on", name, args });
    if (ack) ack(`ack:${name}`);
  });
}
socket.on("connect", async () => {
  out({ event: "connect", id: socket.id, active: socket.active });
  if (spec.lingerMs !== undefined) await new Promise((r) => setTimeout(r, spec.lingerMs));
  if (spec.leaveAfterMs !== undefined) { clearTimeout(timer); done(0); return; }
  if (spec.emit) {
    try {
      const res = await socket.timeout(spec.timeoutMs ?? 5000).emitWithAck(spec.emit.event, ...decode(spec.emit.args ?? []));
      out({ event: "ack", args: res });
    } catch (err) {
      out({ event: "ack_error", message: err.message });
    }
  }
  for (const item of spec.emits ?? []) {
    const args = decode(item.args ?? []);
    if (item.ack === false) {
      socket.emit(item.event, ...args);
      out({ event: "emitted", name: item.event });
      continue;
    }
    try {
      const res = await socket.timeout(spec.timeoutMs ?? 5000).emitWithAck(item.event, ...args);
      out({ event: "ack", name: item.event, args: res });
    } catch (err) {
      out({ event: "ack_error", name: item.event, message: err.message });
    }
  }
  if (spec.afterMs !== undefined) await new Promise((r) => setTimeout(r, spec.afterMs));
  clearTimeout(timer);
  done(0);
});
socket.on("connect_error", (err) => {
  const rec = { event: "connect_error", message: err.message, active: socket.active };
  if ("data" in err) rec.data = err.data === undefined ? null : err.data;
  if (err.description !== undefined) rec.description = typeof err.description === "number" ? err.description : String(err.description);
  out(rec);
  clearTimeout(timer);
  done(0);
});
socket.on("disconnect", (reason) => { out({ event: "disconnect", reason }); });
if (spec.leaveAfterMs !== undefined) {
  // leave while the server's chain is still running
  socket.io.on("open", () => setTimeout(() => { out({ event: "left" }); clearTimeout(timer); done(0); }, spec.leaveAfterMs));
}
