import fs from 'node:fs';
import path from 'node:path';
import { NetLingerError } from './errors';

/** The raw addon: every call returns 0 or the OS error number; results go into the given arrays. */
export interface NativeBinding {
  setLinger(handle: number | bigint, onoff: boolean, seconds: number): number;
  /** out = [onoff, seconds] */
  getLinger(handle: number | bigint, out: Int32Array): number;
  shutdown(handle: number | bigint, how: number): number;
  /** out = [unread, unsent (negative: unknown), step that failed] */
  pendingBytes(handle: number | bigint, out: Float64Array): number;
  /**
   * Windows: the SOCKET of the one libuv TCP/UDP handle on this thread's loop with these addresses.
   * out = [handle, matches]; returns a FindStatus.
   */
  findSocket(
    datagram: boolean, localAddress: string, localPort: number, remoteAddress: string | null, remotePort: number,
    out: BigUint64Array,
  ): number;
  /** True for the first call with this index in the whole process (every worker thread), false after. */
  claimOnce(index: number): boolean;
  readonly maxLingerSeconds: number;
  readonly syscalls: {
    readonly setLinger: string;
    readonly getLinger: string;
    readonly shutdown: string;
    readonly pendingUnread: string;
    readonly pendingUnsent: string;
  };
}

/** The folder holding package.json, binding.gyp and prebuilds/ (this file lives in src/ or dist/cjs/). */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'binding.gyp'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(__dirname, '..', '..');
    dir = parent;
  }
}

/** native/socket_ops.h FindStatus. */
export const FindStatus = { found: 0, noMatch: 1, several: 2, noLibuv: 3, unsupported: 4, badAddress: 5 } as const;

/** claimOnce() indexes (0-3): one per once-per-process warning. */
export const ONCE_BLOCKING_CLOSE_WARNING = 0;

let loaded: NativeBinding | undefined;

/** Loads the addon on first use, so that the pure parts (error codes, explain) work without it. */
export function binding(): NativeBinding {
  if (loaded) return loaded;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (dir: string) => NativeBinding;
    loaded = load(packageRoot());
  } catch (cause) {
    const libc = process.platform === 'linux' ? (isMusl() ? ' musl' : ' glibc') : '';
    throw Object.assign(
      new NetLingerError(
        'ERR_NET_LINGER_NO_BINARY',
        `net-linger has no native binary for ${process.platform}-${process.arch}${libc} ` +
          `(Node-API, ${process.release.name} ${process.version}). Build it from source with ` +
          `"npm rebuild net-linger" (needs python3, make and a C++ compiler). Cause: ${(cause as Error).message}`,
      ),
      { cause },
    );
  }
  return loaded;
}

function isMusl(): boolean {
  const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return !report?.header?.glibcVersionRuntime;
}
