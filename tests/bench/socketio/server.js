// One node of a Socket.IO cluster: a Socket.IO server whose rooms and
// broadcasts reach the other nodes through Redis, with
// @socket.io/redis-adapter (its pub/sub adapter, the one Socket.IO's docs
// start with). The comparison peer of tests/bench/cluster.
//
//   node server.js PORT REDIS_URL
//
// It keeps tcphub's model, in Socket.IO's idiom, so the load generator
// (bench.js) does per message what tcphub-bench does against tcphub:
//   - a client names itself in the handshake (`auth: {name}`) and is put in
//     the room `@NAME`: an alias is a room, so `io.to("@Client-2")` reaches
//     that client on whichever node it is (the adapter sends the message to
//     every node, and each checks its own rooms);
//   - `info` {to, message}: to `*`, everyone else on every node
//     (socket.broadcast.emit); to an alias, `io.to("@" + to)`;
//   - `info` {room, message}: the members of room `#ROOM` but the sender;
//   - `join` (room, ack): joins room `#ROOM`, then acks.
// Deliveries are `info` events {from, message} (and `room` for a room),
// the same fields as tcphub's info frame. What it does not do: say that an
// alias is unknown (that needs a round trip to every node,
// io.fetchSockets), claims and policies, presence.
"use strict";

const { createServer } = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

async function main() {
  const port = Number(process.argv[2]);
  const redisUrl = process.argv[3];
  if (!port || !redisUrl) {
    console.error("usage: node server.js PORT REDIS_URL");
    process.exit(2);
  }
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (e) => console.error("redis:", e.message));
  await Promise.all([pub.connect(), sub.connect()]);

  const http = createServer();
  // WebSocket only: the generator never long-polls, and without the
  // polling upgrade a connection is one socket, as a tcphub client is.
  const io = new Server(http, {
    transports: ["websocket"],
    adapter: createAdapter(pub, sub),
    // A slow subscriber must not be cut mid-run; the generator bounds what
    // is in flight instead (as it does for tcphub and NATS).
    pingTimeout: 60000,
  });

  io.on("connection", (socket) => {
    const name = String((socket.handshake.auth && socket.handshake.auth.name) || socket.id);
    socket.join("@" + name);
    socket.on("join", (room, ack) => {
      socket.join("#" + room);
      if (typeof ack === "function") ack();
    });
    socket.on("info", (m) => {
      if (!m || typeof m !== "object") return;
      if (typeof m.room === "string") {
        socket.to("#" + m.room).emit("info", { from: name, room: m.room, message: m.message });
      } else if (m.to === "*") {
        socket.broadcast.emit("info", { from: name, message: m.message });
      } else if (typeof m.to === "string") {
        io.to("@" + m.to).emit("info", { from: name, message: m.message });
      }
    });
  });

  http.listen(port, "127.0.0.1", () => console.log(`listening ${port}`));
  const stop = () => {
    io.close();
    Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
