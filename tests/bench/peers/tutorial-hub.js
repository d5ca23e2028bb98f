#!/usr/bin/env node
// COMPARISON PEER, NOT PART OF TCPHUB.
//
// The tutorial's design (../../../../shared/seed) written the natural way with
// Node's `net` module, fixed only where the tutorial is wrong: newline
// framing instead of one JSON.parse per 'data' event, and the same frames
// tcphub speaks (sync/synced, info with to, ping/pong). The benchmark runs it
// beside tcphub and nats-server so the figures compare like with like.
//
//   node tutorial-hub.js [port] [host]   (prints "listening PORT" when ready)
'use strict';
const net = require('net');

const port = Number(process.argv[2] || 9000);
const host = process.argv[3] || '127.0.0.1';

// Session table keyed by "address:port", as in the tutorial.
const clients = new Map(); // sessionId -> { socket, name }
const byName = new Map(); // alias -> sessionId

function send(socket, obj) {
  socket.write(JSON.stringify(obj) + '\n');
}

function handle(sessionId, client, frame) {
  let msg;
  try {
    msg = JSON.parse(frame);
  } catch (e) {
    send(client.socket, { type: 'error', code: 'bad_json', message: String(e.message) });
    return;
  }
  switch (msg.type) {
    case 'sync': {
      if (client.name) byName.delete(client.name);
      const old = byName.get(msg.clientName);
      if (old && clients.has(old)) clients.get(old).socket.destroy();
      client.name = msg.clientName;
      byName.set(client.name, sessionId);
      send(client.socket, { type: 'synced', clientName: client.name, sessionId });
      break;
    }
    case 'info': {
      const from = client.name || sessionId;
      if (msg.to === undefined) break; // for the host: the tutorial only logs it
      // Encoded once per message, like tcphub, so the comparison is fair.
      const line = JSON.stringify({ type: 'info', from, message: msg.message }) + '\n';
      if (msg.to === '*') {
        for (const [id, other] of clients) if (id !== sessionId) other.socket.write(line);
      } else {
        const target = clients.get(byName.get(msg.to));
        if (target) target.socket.write(line);
        else send(client.socket, { type: 'error', code: 'unknown_alias', message: `no session holds alias ${JSON.stringify(msg.to)}` });
      }
      break;
    }
    case 'ping':
      send(client.socket, { type: 'pong' });
      break;
    case 'list':
      send(client.socket, {
        type: 'sessions',
        sessions: [...clients].map(([id, c]) => ({ sessionId: id, clientName: c.name || null })),
      });
      break;
    default:
      send(client.socket, { type: 'error', code: 'unknown_type', message: `unknown type ${JSON.stringify(msg.type)}` });
  }
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  const sessionId = `${socket.remoteAddress}:${socket.remotePort}`;
  const client = { socket, name: '' };
  clients.set(sessionId, client);
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const frame = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (frame.trim()) handle(sessionId, client, frame);
    }
  });
  const forget = () => {
    if (clients.get(sessionId) === client) clients.delete(sessionId);
    if (client.name && byName.get(client.name) === sessionId) byName.delete(client.name);
  };
  socket.on('close', forget);
  socket.on('error', forget);
});

server.listen({ port, host, backlog: 4096 }, () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
