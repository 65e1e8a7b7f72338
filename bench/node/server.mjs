// Node's socket.io as bench/suite.py measures it beside siomw: `node server.mjs MODE PORT`.
//
// MODE:
// - bare: socket.io alone, an accepting connection handler;
// - full: the three middlewares of siomw's full chain, written as Node users write them, in
//   io.use: jsonwebtoken HS256 on handshake.auth.token (SIOMW_JWT_SECRET), a
//   rate-limiter-flexible memory limiter keyed by the client address (1000 per 60 s, as
//   bench/server.py's full mode), and one pino line per connection (to /dev/null);
// - full-hot: full with 1 000 000 per 60 s (every client on one address: one hot key).
// Answers 404 to every other HTTP request (connect_rate.serving() waits for that).
import { createServer } from "node:http";
import jwt from "jsonwebtoken";
import pino from "pino";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { Server } from "socket.io";

const [mode, port] = process.argv.slice(2);
if (!["bare", "full", "full-hot"].includes(mode)) {
  console.error(`bench/node/server.mjs: unknown mode ${JSON.stringify(mode)}`);
  process.exit(2);
}
const secret = process.env.SIOMW_JWT_SECRET;
const http = createServer((req, res) => {
  res.writeHead(404);
  res.end();
});
const io = new Server(http, { transports: ["websocket", "polling"] });

if (mode !== "bare") {
  const limiter = new RateLimiterMemory({ points: mode === "full-hot" ? 1000000 : 1000, duration: 60 });
  const log = pino(pino.destination("/dev/null"));
  io.use((socket, next) => {
    try {
      socket.data.claims = jwt.verify(socket.handshake.auth.token, secret, { algorithms: ["HS256"] });
      next();
    } catch (err) {
      next(new Error("invalid_token"));
    }
  });
  io.use((socket, next) => {
    limiter.consume(socket.handshake.address).then(() => next(), () => next(new Error("rate_limited")));
  });
  io.use((socket, next) => {
    log.info({ event: "connect", sid: socket.id, sub: socket.data.claims.sub, address: socket.handshake.address });
    next();
  });
}
io.on("connection", () => {});
http.listen(Number(port), "127.0.0.1");
