import net from 'node:net';
import { binding, FindStatus } from './binding.js';
import { NetLingerError } from './errors.js';
import { currentRuntime, runtimeName, streamHandle } from './node-internals.js';
import { invalidArgType, outOfRange } from './validate.js';

/** A POSIX file descriptor or Windows SOCKET, or a live `net.Socket` / `tls.TLSSocket`. */
export type SocketTarget = number | bigint | net.Socket;

/** True when the target is a Node socket rather than a raw handle. */
export function isNodeSocket(target: unknown): target is net.Socket {
  return target instanceof net.Socket;
}

/**
 * The OS handle found for each libuv handle object (`socket._handle`): on Windows the SOCKET
 * looked up among the loop's handles, on POSIX Node the descriptor (reading `_handle.fd` is a
 * native accessor call; a WeakMap hit is cheaper). Keyed by the object, so an entry lives exactly
 * as long as the handle and never answers for another one: Node never reuses a handle object, a
 * handle's descriptor never changes once it has one, and Node drops a socket's handle in the same
 * synchronous step that closes it, so a destroyed socket is refused before this is consulted and
 * a new connection that gets a closed one's descriptor or SOCKET value back has a new handle
 * object. Only on Node, whose handle objects are known to behave so.
 */
const rememberedHandles = new WeakMap<object, number | bigint>();
const remember = currentRuntime().name === 'node';

/**
 * The OS handle behind a target. A Node socket's is read through its current handle object on
 * every call (and remembered for that object, above). A socket with no handle is a typed error,
 * never a no-op.
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
  const handle = streamHandle(target);
  if (handle !== null && !target.destroyed) {
    const known = rememberedHandles.get(handle);
    if (known !== undefined) return known;
  }
  const fd = handle?.fd;
  if (typeof fd === 'number' && fd >= 0) {
    if (remember) rememberedHandles.set(handle!, fd);
    return fd;
  }
  if (target.destroyed || !handle) {
    throw new NetLingerError(
      'ERR_SOCKET_NO_HANDLE',
      target.destroyed ? 'The socket is destroyed: it has no OS handle any more' : 'The socket is not connected yet: it has no OS handle',
    );
  }
  if (process.platform === 'win32') {
    const found = windowsSocket(target);
    if (remember) rememberedHandles.set(handle, found);
    return found;
  }
  if (typeof fd !== 'number') {
    throw new NetLingerError(
      'ERR_NET_LINGER_UNSUPPORTED',
      `${runtimeName()} does not expose the OS descriptor of a net.Socket; pass the descriptor as a number`,
    );
  }
  throw new NetLingerError('ERR_SOCKET_NO_HANDLE', `The socket's handle has no usable descriptor (fd ${String(fd)})`);
}

const findOut = new BigUint64Array(2);

/** The handle from a find result: a number where it is exact, else a bigint. */
function handleValue(raw: bigint): number | bigint {
  return raw <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(raw) : raw;
}

/**
 * The SOCKET behind a Windows Node socket, where Node reports `_handle.fd === -1`: the one TCP
 * handle on this thread's libuv loop whose local and remote address and port are the socket's
 * (both ends of a loopback connection may live in this process; a listener shares the local
 * address but has no peer). Zero or several matches are an error, never a guess. The addon
 * answers from its last walk of the loop's handles when that SOCKET still has the pair, so N
 * lookups on N connections cost one walk, not N.
 */
function windowsSocket(socket: net.Socket): number | bigint {
  const localAddress = socket.localAddress;
  const localPort = socket.localPort;
  if (!localAddress || localPort === undefined) {
    throw new NetLingerError('ERR_SOCKET_NO_HANDLE', 'The socket has no local address: it has no OS handle to act on');
  }
  const remoteAddress = socket.remoteAddress ?? null;
  const remotePort = remoteAddress === null ? 0 : socket.remotePort ?? 0;
  return findWindowsSocket(false, localAddress, localPort, remoteAddress, remotePort, 'net.Socket');
}

/** Looks up a TCP or UDP SOCKET by its addresses on this thread's libuv loop (Windows only). */
export function findWindowsSocket(
  datagram: boolean, localAddress: string, localPort: number, remoteAddress: string | null, remotePort: number,
  what: string,
): number | bigint {
  const status = binding().findSocket(datagram, localAddress, localPort, remoteAddress, remotePort, findOut);
  const where = `${localAddress}:${localPort}${remoteAddress === null ? '' : ` <-> ${remoteAddress}:${remotePort}`}`;
  switch (status) {
    case FindStatus.found:
      return handleValue(findOut[0]);
    case FindStatus.noMatch:
      throw new NetLingerError('ERR_SOCKET_NO_HANDLE', `No open ${datagram ? 'UDP' : 'TCP'} socket on this thread's event loop is ${where}: the ${what} has no OS handle to act on`);
    case FindStatus.several:
      throw new NetLingerError('ERR_NET_LINGER_AMBIGUOUS_SOCKET', `${String(findOut[1])} sockets on this thread's event loop are ${where}; refusing to guess which one is the ${what}`);
    case FindStatus.noLibuv:
      throw new NetLingerError('ERR_NET_LINGER_UNSUPPORTED', `This host process does not export libuv (uv_walk, uv_fileno, uv_handle_get_type, uv_is_closing), so the SOCKET of a ${what} cannot be found on Windows; pass the SOCKET as a number`);
    case FindStatus.badAddress:
      throw new NetLingerError('ERR_SOCKET_NO_HANDLE', `The ${what} reports an address that is not numeric (${where})`);
    default:
      throw new NetLingerError('ERR_NET_LINGER_UNSUPPORTED', `Looking up a ${what}'s SOCKET is only needed and supported on Windows`);
  }
}
