import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loopbackPair } from '../../src/lab/loopback';

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

/** Polls `condition` every 2 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

let copyForOthers: { cli: string; env: Record<string, string> } | undefined;

/**
 * The CLI's path, and the environment to add, with which another user (e.g. nobody, for the tests
 * that run without root) can run it: this checkout's when every folder above it lets others
 * through, else a world-readable copy of what the CLI needs at run time (a clone in a private
 * temporary folder shuts others out). A binary named by NET_LINGER_BINARY (the ASan leg's)
 * is copied too, and the copy named instead.
 */
export function cliForOtherUsers(): { cli: string; env: Record<string, string> } {
  const root = path.resolve(__dirname, '..', '..');
  const cli = (base: string) => path.join(base, 'dist', 'cjs', 'cli', 'main.js');
  const open = (dir: string): boolean => (fs.statSync(dir).mode & 0o005) === 0o005 && (dir === path.dirname(dir) || open(path.dirname(dir)));
  const prebuild = process.env.NET_LINGER_BINARY;
  if (open(root) && (!prebuild || open(prebuild))) return { cli: cli(root), env: {} };
  if (!copyForOthers) {
    const copy = fs.mkdtempSync(path.join(process.env.NET_LINGER_TEST_TMP ?? os.tmpdir(), 'cli-'));
    fs.chmodSync(copy, 0o755);
    for (const part of ['package.json', 'binding.gyp', 'dist', path.join('build', 'Release'), path.join('node_modules', 'node-gyp-build')]) {
      if (fs.existsSync(path.join(root, part))) fs.cpSync(path.join(root, part), path.join(copy, part), { recursive: true });
    }
    const env: Record<string, string> = {};
    if (prebuild) {
      fs.cpSync(prebuild, path.join(copy, 'prebuild'), { recursive: true });
      env.NET_LINGER_BINARY = path.join(copy, 'prebuild');
    }
    copyForOthers = { cli: cli(copy), env };
  }
  return copyForOthers;
}

/** Listens on an ephemeral port of `host` (default 127.0.0.1) and returns the port. */
export async function listenPort(server: net.Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as net.AddressInfo).port;
}

/**
 * What tsc says of a fixture under test/fixtures, compiled strictly as a CommonJS consumer would
 * ('' when it type-checks: its @ts-expect-error lines are errors that must occur).
 */
export function typeCheckFixture(name: string): string {
  const root = path.resolve(__dirname, '..', '..');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [tsc, '--noEmit', '--strict', '--target', 'es2022', '--lib', 'es2022', '--module', 'commonjs',
    '--moduleResolution', 'node10', '--types', 'node', '--esModuleInterop', '--skipLibCheck', `test/fixtures/${name}`];
  try {
    execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    return '';
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}
