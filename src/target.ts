import net from 'node:net';
import { NetLingerError } from './errors';
import { invalidArgType, outOfRange } from './validate';

/** A POSIX file descriptor or Windows SOCKET, or a live `net.Socket` / `tls.TLSSocket`. */
export type SocketTarget = number | bigint | net.Socket;

interface HandleLike {
  fd?: unknown;
}

/** The JavaScript runtime, for messages that depend on it. */
export function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  if (g.Deno) return `Deno ${g.Deno.version.deno}`;
  if (g.Bun) return `Bun ${g.Bun.version}`;
  return `Node.js ${process.version}`;
}

/** True when the target is a Node socket rather than a raw handle. */
export function isNodeSocket(target: unknown): target is net.Socket {
  return target instanceof net.Socket;
}

/**
 * The OS handle behind a target, resolved now and never cached: a Node socket's descriptor can
 * be closed and reused at any time. A socket with no handle is a typed error, never a no-op.
 */
export function resolveHandle(target: unknown, name = 'target'): number | bigint {
  if (typeof target === 'number') {
    if (!Number.isSafeInteger(target) || target < 0) {
      throw outOfRange(name, 'a non-negative integer (a file descriptor or SOCKET)', target);
    }
    return target;
  }
  if (typeof target === 'bigint') {
    if (target < 0n || target > 0xffff_ffff_ffff_ffffn) throw outOfRange(name, '>= 0n && < 2n ** 64n', target);
    return target;
  }
  if (!isNodeSocket(target)) {
    throw invalidArgType(name, 'of type number or bigint, or an instance of net.Socket', target);
  }
  const handle = (target as unknown as { _handle?: HandleLike | null })._handle;
  const fd = handle?.fd;
  if (typeof fd === 'number' && fd >= 0) return fd;
  if (target.destroyed || !handle) {
    throw new NetLingerError(
      'ERR_SOCKET_NO_HANDLE',
      target.destroyed ? 'The socket is destroyed: it has no OS handle any more' : 'The socket is not connected yet: it has no OS handle',
    );
  }
  if (typeof fd !== 'number') {
    throw new NetLingerError(
      'ERR_NET_LINGER_UNSUPPORTED',
      `${runtimeName()} does not expose the OS descriptor of a net.Socket; pass the descriptor as a number`,
    );
  }
  if (process.platform === 'win32') {
    throw new NetLingerError(
      'ERR_NET_LINGER_UNSUPPORTED',
      'Node does not expose the SOCKET of a net.Socket on Windows; pass the SOCKET as a number',
    );
  }
  throw new NetLingerError('ERR_SOCKET_NO_HANDLE', `The socket's handle has no usable descriptor (fd ${String(fd)})`);
}
