import net from 'node:net';

export interface Connection {
  client: net.Socket;
  server: net.Socket;
  close(): void;
}

/** A connected loopback pair; the accepted side reads nothing until resumed. */
export async function connection(host = '127.0.0.1'): Promise<Connection> {
  const listener = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => listener.listen(0, host, resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect((listener.address() as net.AddressInfo).port, host);
  client.on('error', () => undefined);
  await new Promise((resolve) => client.once('connect', resolve));
  const server = await accepted;
  server.on('error', () => undefined);
  listener.close();
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
