import type net from 'node:net';
import { loopbackPair } from '../src/lab/loopback';

export interface Connection {
  client: net.Socket;
  server: net.Socket;
  close(): void;
}

/** A connected loopback pair (the package's one harness); the accepted side reads nothing until resumed. */
export async function connection(host = '127.0.0.1'): Promise<Connection> {
  const { client, accepted: server } = await loopbackPair({
    family: host === '::1' ? 6 : 4, allowHalfOpen: false, client: { allowHalfOpen: false },
    onClient: (socket) => socket.on('error', () => undefined),
  });
  server.on('error', () => undefined);
  return {
    client,
    server,
    close() {
      client.destroy();
      server.destroy();
    },
  };
}

export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
