// nginx from the system's packages as the reference server of the 413 storm: started by the bench
// in the foreground (daemon off) with its own config and prefix in a temp folder, listening on
// 127.0.0.1 only, one worker, `lingering_close on` and `client_max_body_size 1m`; stopped at the end.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { root } from '../lib/build.mjs';
import { childrenOf } from '../lib/proc.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function findNginx() {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

/** The nginx binary, installing Debian's nginx-light when it is missing and we may; null if none. */
export function ensureNginx(log = () => {}) {
  let binary = findNginx();
  if (binary) return binary;
  if (process.platform !== 'linux') return null;
  try {
    log('  nginx missing: scripts/ensure-apt.sh nginx-light');
    execFileSync('bash', [path.join(root, 'scripts', 'ensure-apt.sh'), 'nginx-light'], { stdio: 'inherit' });
  } catch { return null; }
  binary = findNginx();
  return binary;
}

function versionOf(binary) {
  const out = execFileSync('sh', ['-c', `${binary} -v 2>&1`], { encoding: 'utf8' });
  return out.trim().replace(/^nginx version:\s*/, '');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host: '127.0.0.1' }, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function config(prefix, port, built) {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .filter((name) => name === 'client_body' || !built.includes(`--without-http_${name}_module`))
    .map((name) => `  ${name}_temp_path ${path.join(prefix, `${name}_temp`)};`);
  return [
    'worker_processes 1;',
    'daemon off;',
    'master_process on;',
    `pid ${path.join(prefix, 'nginx.pid')};`,
    `error_log ${path.join(prefix, 'error.log')} crit;`,
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    ...temp,
    '  client_max_body_size 1m;',
    '  lingering_close on;',
    '  keepalive_timeout 65;',
    '  server {',
    `    listen 127.0.0.1:${port} backlog=4096;`,
    '    location / { return 200 "ok\\n"; }',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Starts nginx; resolves { port, pids(), stop(), version } once it accepts connections. */
export async function startNginx(binary) {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'net-linger-nginx-'));
  const built = execFileSync('sh', ['-c', `${binary} -V 2>&1`], { encoding: 'utf8' });
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = path.join(prefix, 'nginx.conf');
    fs.writeFileSync(conf, config(prefix, port, built));
    const child = spawn(binary, ['-p', prefix, '-e', path.join(prefix, 'error.log'), '-c', conf],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let exitedEarly = null;
    exited.then((how) => { exitedEarly = how; });
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !exitedEarly) {
      const accepted = await new Promise((resolve) => {
        const probe = net.connect(port, '127.0.0.1');
        probe.once('connect', () => { probe.destroy(); resolve(true); });
        probe.once('error', () => resolve(false));
      });
      if (accepted && childrenOf(child.pid).length > 0) break;
      await sleep(20);
    }
    if (exitedEarly) {
      if (/Address already in use/.test(stderr)) continue;
      throw new Error(`nginx exited ${JSON.stringify(exitedEarly)}: ${stderr.trim()}`);
    }
    // If the bench dies first, nginx (no IPC channel to notice) must not outlive it.
    const killOnExit = () => {
      for (const pid of [...childrenOf(child.pid), child.pid]) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
      }
      fs.rmSync(prefix, { recursive: true, force: true });
    };
    process.once('exit', killOnExit);
    return {
      port,
      version: versionOf(binary),
      pids: () => [child.pid, ...childrenOf(child.pid)],
      workers: () => childrenOf(child.pid),
      async stop() {
        process.off('exit', killOnExit);
        if (!exitedEarly) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        fs.rmSync(prefix, { recursive: true, force: true });
      },
    };
  }
  throw new Error('nginx: no free port after 5 attempts');
}
