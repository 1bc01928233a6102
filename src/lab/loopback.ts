// The one loopback harness: a connected pair on 127.0.0.1 or ::1, used by the lab's rows, the
// test suite and the benchmarks alike, so that all three measure the same kind of connection.
import net from 'node:net';
import tls from 'node:tls';

export interface LoopbackOptions {
  /** 4 (127.0.0.1, the default) or 6 (::1). */
  family?: 4 | 6;
  /** The accepted side's allowHalfOpen; default true, so a half-close stays one. */
  allowHalfOpen?: boolean;
  /** More options for the connecting side (allowHalfOpen defaults to true; `onread` works). */
  client?: Omit<net.NetConnectOpts, 'port' | 'host' | 'path'>;
  /** Awaited with the listener's port before anything connects (e.g. to start a capture on it). */
  beforeConnect?: (port: number) => unknown;
  /** Called with the connecting socket as soon as it exists, before it can emit anything. */
  onClient?: (socket: net.Socket) => void;
  /** A middlebox (a relay, a proxy): given the listener's address, resolves to the address the client connects to instead. */
  via?: Via;
  /** Make it TLS (the accepted side is then the server's TLSSocket): the server's key and cert. */
  tls?: {
    /** The server's private key, PEM. */
    key: Buffer | string;
    /** The server's certificate, PEM (the client accepts it whoever signed it). */
    cert: Buffer | string;
  };
}

export interface LoopbackPair {
  /** The connecting side. */
  client: net.Socket;
  /** The accepted side: paused, so it reads nothing until asked (TCP: from its first byte). */
  accepted: net.Socket;
}

export type Via = (listener: { host: string; port: number }) => Promise<{ host: string; port: number }>;

export const loopbackHost = (family: 4 | 6 = 4): string => (family === 6 ? '::1' : '127.0.0.1');

/** Listens on an ephemeral loopback port; rejects if listening fails. */
export function listenLoopback<S extends net.Server>(server: S, family: 4 | 6 = 4, backlog?: number): Promise<S> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: loopbackHost(family), backlog }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** One connection on loopback; the listener is closed again once it has accepted it. */
export async function loopbackPair(options: LoopbackOptions = {}): Promise<LoopbackPair> {
  const family = options.family ?? 4;
  const host = loopbackHost(family);
  const allowHalfOpen = options.allowHalfOpen ?? true;
  const server = options.tls
    ? tls.createServer({ ...options.tls, allowHalfOpen } as tls.TlsOptions)
    : net.createServer({ pauseOnConnect: true, allowHalfOpen });
  await listenLoopback(server, family);
  const { port } = server.address() as net.AddressInfo;
  try {
    await options.beforeConnect?.(port);
  } catch (err) {
    server.close();
    throw err;
  }
  const accepted = new Promise<net.Socket>((resolve) => server.once(options.tls ? 'secureConnection' : 'connection', resolve));
  let target = { host, port };
  try {
    if (options.via) target = await options.via(target);
  } catch (err) {
    server.close();
    throw err;
  }
  const clientOptions = { allowHalfOpen: true, ...options.client, port: target.port, host: target.host };
  // tls.connect passes allowHalfOpen on to the socket; @types/node does not list it.
  const client = options.tls
    ? tls.connect({ ...clientOptions, rejectUnauthorized: false } as tls.ConnectionOptions)
    : net.connect(clientOptions as net.NetConnectOpts);
  options.onClient?.(client);
  try {
    await new Promise<void>((resolve, reject) => {
      client.once(options.tls ? 'secureConnect' : 'connect', resolve);
      client.once('error', reject);
    });
    const socket = await accepted;
    socket.pause();
    return { client, accepted: socket };
  } catch (err) {
    client.destroy();
    throw err;
  } finally {
    server.close();
  }
}
