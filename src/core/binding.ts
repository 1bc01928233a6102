// Finds and loads the addon. The rules are node-gyp-build's (build/Release first, then
// prebuilds/<platform>-<arch>/ by tags), applied only to files that are ours, because a bundle may
// sit beside another package's build/Release, and node-gyp-build itself cannot run inside an ES
// module bundle (it requires 'fs' at run time). Files load through process.dlopen, as Node's own
// require does for .node files, which no bundler rewrites.
import fs from 'node:fs';
import path from 'node:path';
import { NetLingerError } from './errors.js';
import { moduleFile } from './module-file.js';
import { invalidArgType } from './validate.js';

/** The raw addon: every call returns 0 or the OS error number; results go into the given arrays. */
export interface NativeBinding {
  /** ADDON_CONTRACT: marks the addon as ours and of this JavaScript's contract. */
  readonly netLinger: number;
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
  /**
   * Linux only (native/capture.cc), for the lab's capture: an AF_PACKET socket with a BPF filter.
   * out = [fd, rcvbuf granted, loopback, failed step]; returns 0 or -errno.
   */
  packetOpen?(ifname: string, filter: Uint8Array, rcvbuf: number, netns: string | null, out: Float64Array): number;
  /** Up to data.length / slot packets, each `slot` bytes, meta 5 numbers each; returns the count or -errno. */
  packetRead?(fd: number, data: Uint8Array, slot: number, meta: Float64Array): number;
  /** out = [packets, drops] since the last call; returns 0 or -errno. */
  packetStats?(fd: number, out: Float64Array): number;
  packetClose?(fd: number): number;
  readonly maxLingerSeconds: number;
  readonly syscalls: {
    readonly setLinger: string;
    readonly getLinger: string;
    readonly shutdown: string;
    readonly pendingUnread: string;
    readonly pendingUnsent: string;
  };
}

/** native/addon.cc kContract. */
export const ADDON_CONTRACT = 1;
/** The package's name: prebuildify names prebuilds after it. */
const PACKAGE = 'net-linger';
/** node-gyp's output name (binding.gyp target_name). */
const BUILT = 'net_linger.node';
/** The variable that names the addon's file (or a folder holding build/Release or prebuilds/). */
export const BINARY_VARIABLE = 'NET_LINGER_BINARY';

/** native/socket_ops.h FindStatus. */
export const FindStatus = { found: 0, noMatch: 1, several: 2, noLibuv: 3, unsupported: 4, badAddress: 5 } as const;

/** claimOnce() indexes (0-3): one per once-per-process warning. */
export const ONCE_BLOCKING_CLOSE_WARNING = 0;

let loaded: NativeBinding | undefined;
let loadedFrom: string | undefined;

/** Loads the addon on first use, so that the pure parts (error codes, explain) work without it. */
export function binding(): NativeBinding {
  if (loaded) return loaded;
  const named = process.env[BINARY_VARIABLE];
  if (named) {
    load(path.resolve(named), `${BINARY_VARIABLE}=${named}`);
  } else {
    const searched: string[] = [];
    const file = findAddon(searched);
    if (file === undefined) throw notFound(searched);
    load(file, undefined);
  }
  return loaded!;
}

/**
 * Names the addon before its first use, for packagers that put it where no search looks
 * (Electron's app.asar.unpacked, a single executable, a Lambda layer): a path to the .node file
 * (or to a folder holding build/Release or prebuilds/), or the addon already loaded. Loads and
 * checks it at once. Calling it again with the same file is harmless; with another, once an addon
 * is loaded, is an error.
 */
export function setNativeBinding(addon: string | object): void {
  if (typeof addon === 'string') {
    if (addon === '') throw invalidArgType('addon', 'a path to the addon or the loaded addon', addon);
    const file = path.resolve(addon);
    if (loaded) {
      if (loadedFrom !== undefined && (loadedFrom === file || loadedFrom === resolveInFolder(file))) return;
      throw alreadyLoaded();
    }
    load(file, 'setNativeBinding()');
    return;
  }
  if (addon === null || typeof addon !== 'object') {
    throw invalidArgType('addon', 'a path to the addon or the loaded addon', addon);
  }
  if (loaded) {
    if (loaded === addon) return;
    throw alreadyLoaded();
  }
  checkOurs(addon, 'the object given to setNativeBinding()');
  loaded = addon as NativeBinding;
  loadedFrom = undefined;
}

/** Where the addon was loaded from (undefined until it is, or when it was handed over loaded). */
export function bindingPath(): string | undefined {
  return loadedFrom;
}

/** Loads one file the user or the search named; every failure says which and why. */
function load(fileOrFolder: string, namedBy: string | undefined): void {
  const file = resolveInFolder(fileOrFolder);
  if (file === undefined) {
    throw binaryError(
      'ERR_NET_LINGER_NO_BINARY',
      `${namedBy} names ${fileOrFolder}, which holds no net-linger addon for ${target()} ` +
        `(looked for build/Release/${BUILT} and prebuilds/${process.platform}-${process.arch}/${PACKAGE}*.node)`,
      undefined,
    );
  }
  const where = namedBy ? `${file} (named by ${namedBy})` : file;
  if (!isOurFileName(path.basename(file))) {
    throw binaryError(
      'ERR_NET_LINGER_FOREIGN_BINARY',
      `${where} is not net-linger's addon: its file is named ${BUILT} (a build) or ${PACKAGE}*.node (a prebuild)`,
      undefined,
    );
  }
  const module = { exports: {} as unknown };
  try {
    process.dlopen(module, path.toNamespacedPath(file));
  } catch (cause) {
    throw binaryError('ERR_NET_LINGER_BAD_BINARY', `${where} cannot be loaded here: ${explainLoadFailure(cause)}`, cause);
  }
  checkOurs(module.exports, where);
  loaded = module.exports as NativeBinding;
  loadedFrom = file;
}

function checkOurs(addon: unknown, where: string): void {
  const contract = (addon as { netLinger?: unknown } | null)?.netLinger;
  if (contract === ADDON_CONTRACT) return;
  throw binaryError(
    'ERR_NET_LINGER_FOREIGN_BINARY',
    contract === undefined
      ? `${where} is not net-linger's addon (it does not identify itself as ours)`
      : `${where} is net-linger's addon from another version (contract ${String(contract)}, this code speaks ${ADDON_CONTRACT}): ` +
          'rebuild it ("npm rebuild net-linger") or copy the prebuilds/ of the version you bundled',
    undefined,
  );
}

/** The search: beside the running file (a bundle with prebuilds/ copied beside it), then the package's root. */
function findAddon(searched: string[]): string | undefined {
  const here = moduleFile();
  const folders: string[] = [];
  if (here !== undefined) {
    const dir = path.dirname(here);
    folders.push(dir);
    const root = packageRootFrom(dir);
    if (root !== undefined && root !== dir) folders.push(root);
  } else {
    searched.push('(the running code\'s own location: this bundle format hides it, with neither __filename nor import.meta.url)');
  }
  // node-gyp-build's last resort, for single executables that carry prebuilds/ beside themselves.
  folders.push(path.dirname(process.execPath));
  for (const folder of folders) {
    const file = resolveInFolder(folder, searched);
    if (file !== undefined) return file;
  }
  return undefined;
}

/** A .node file as is; in a folder: build/Release/net_linger.node, then the best prebuild for this platform. */
function resolveInFolder(fileOrFolder: string, searched?: string[]): string | undefined {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(fileOrFolder);
  } catch {
    searched?.push(`${fileOrFolder} (missing)`);
    return undefined;
  }
  if (!stat.isDirectory()) return fileOrFolder;
  const built = path.join(fileOrFolder, 'build', 'Release', BUILT);
  searched?.push(built);
  if (!process.env.PREBUILDS_ONLY && fs.existsSync(built)) return built;
  const prebuilds = path.join(fileOrFolder, 'prebuilds', `${process.platform}-${process.arch}`);
  searched?.push(path.join(prebuilds, `${PACKAGE}*.node`));
  return bestPrebuild(prebuilds);
}

/**
 * node-gyp-build's choice among prebuildify's files (`net-linger[.napi][.glibc|.musl].node`):
 * our files whose libc tag (if any) is this machine's, the most specific first.
 */
function bestPrebuild(folder: string): string | undefined {
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch {
    return undefined;
  }
  const libc = process.platform === 'linux' ? (isMusl() ? 'musl' : 'glibc') : undefined;
  let best: { name: string; specificity: number } | undefined;
  for (const name of names) {
    if (!isOurFileName(name) || name === BUILT) continue;
    const tags = name.slice(PACKAGE.length, -'.node'.length).split('.').filter(Boolean);
    const libcTag = tags.find((t) => t === 'glibc' || t === 'musl');
    if (libcTag !== undefined && libcTag !== libc) continue;
    if (tags.some((t) => /^abi\d+$/.test(t))) continue; // not a Node-API build
    if (!best || tags.length > best.specificity) best = { name, specificity: tags.length };
  }
  return best && path.join(folder, best.name);
}

function isOurFileName(name: string): boolean {
  return name === BUILT || (name.startsWith(PACKAGE) && (name.length === PACKAGE.length + 5 || name[PACKAGE.length] === '.') && name.endsWith('.node'));
}

/** The folder holding net-linger's package.json, at or above `dir`. */
function packageRootFrom(dir: string): string | undefined {
  for (let at = dir; ; at = path.dirname(at)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(at, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === PACKAGE) return at;
    } catch {
      // no package.json here, or not JSON: keep walking
    }
    if (path.dirname(at) === at) return undefined;
  }
}

/** The folder holding package.json, binding.gyp and dist/ (the lab starts its helpers from there). */
export function packageRoot(): string {
  const here = moduleFile();
  const root = here === undefined ? undefined : packageRootFrom(path.dirname(here));
  if (root === undefined) {
    throw new NetLingerError('ERR_NET_LINGER_NO_PACKAGE', 'The lab runs from the installed net-linger package, not from a bundle');
  }
  return root;
}

function target(): string {
  const libc = process.platform === 'linux' ? (isMusl() ? ' musl' : ' glibc') : '';
  return `${process.platform}-${process.arch}${libc} (Node-API, ${process.release.name} ${process.version})`;
}

function notFound(searched: string[]): NetLingerError {
  return binaryError(
    'ERR_NET_LINGER_NO_BINARY',
    `net-linger has no native binary for ${target()}. Looked in: ${searched.join('; ')}. ` +
      'Installed from npm: build it with "npm rebuild net-linger" (python3, make, a C++ compiler and Node\'s headers). ' +
      'Bundled: copy node_modules/net-linger/prebuilds/ beside the bundle, or keep net-linger external. ' +
      `Elsewhere: set ${BINARY_VARIABLE} to the .node file, or call setNativeBinding(path).`,
    undefined,
  );
}

/** Why dlopen refused a file of ours, in words that point at the fix. */
function explainLoadFailure(cause: unknown): string {
  const message = String((cause as Error | undefined)?.message ?? cause);
  if (/ELF class|invalid ELF header|wrong ELF|not a valid Win32|mach-o|incompatible architecture|exec format/i.test(message)) {
    return `built for another platform or architecture than ${process.platform}-${process.arch} (${message})`;
  }
  if (/undefined symbol: napi_|napi_\w+.*(not found|could not be located)|Procedure Could Not Be Located/i.test(message)) {
    return `this runtime lacks a Node-API function the addon needs (${message}); net-linger needs Node-API 8`;
  }
  if (/GLIBC_|GLIBCXX_|musl|ld-linux|libc\.so/i.test(message)) return `built for another C library (${message})`;
  return message;
}

function alreadyLoaded(): NetLingerError {
  return new NetLingerError(
    'ERR_NET_LINGER_BINARY_LOADED',
    `The addon is already loaded${loadedFrom ? ` from ${loadedFrom}` : ''}: setNativeBinding() must come before the first socket call`,
  );
}

function binaryError(code: string, message: string, cause: unknown): NetLingerError {
  const error = new NetLingerError(code, message);
  if (cause !== undefined) Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true });
  return error;
}

let musl: boolean | undefined;
/**
 * Whether this Linux runs on musl. First detect-libc's quick test, the ldd script naming its C
 * library (one small read); process.report.getReport() only where that says nothing, since the
 * report takes milliseconds (it gathers the whole process's state) and this runs on every load.
 */
function isMusl(): boolean {
  if (musl !== undefined) return musl;
  try {
    const ldd = fs.readFileSync('/usr/bin/ldd', 'latin1');
    if (ldd.includes('musl')) return (musl = true);
    if (ldd.includes('GNU C Library') || ldd.includes('GLIBC')) return (musl = false);
  } catch {
    // no ldd script: ask the report
  }
  const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return (musl = !report?.header?.glibcVersionRuntime);
}
