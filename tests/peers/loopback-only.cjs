// Loaded with `node --require` before a Node MCP server the tests start: some published
// servers bind every interface, and a test server must only ever be reachable from this
// machine. Every TCP listen without an explicit Unix socket path is bound to 127.0.0.1.
'use strict';
const net = require('node:net');

const LOOPBACK = '127.0.0.1';
const originalListen = net.Server.prototype.listen;

function looksLikePort(value) {
  return typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value));
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first] = args;
  if (first !== null && typeof first === 'object') {
    // listen({port, host, ...}) or listen(handle): keep Unix sockets and handles as they are.
    if (first.path === undefined && first.fd === undefined && first._handle === undefined) {
      args[0] = Object.assign({}, first, { host: LOOPBACK });
    }
  } else if (first === undefined || typeof first === 'function') {
    // listen() or listen(callback): an ephemeral port.
    args.unshift(0, LOOPBACK);
  } else if (looksLikePort(first)) {
    // listen(port[, host][, backlog][, callback])
    if (typeof args[1] === 'string') {
      args[1] = LOOPBACK;
    } else {
      args.splice(1, 0, LOOPBACK);
    }
  }
  return originalListen.apply(this, args);
};
