// Off loopback: closer and peer in network namespaces of their own, each joined by a veth pair
// to a third namespace that plays the network between them and is impaired on purpose
// (`net-linger lab --condition`). Linux only, as root.
//
// Each side is its own process, started inside its namespace by `ip netns exec` and driven over
// Node's IPC channel (src/lab/agent.ts): a socket belongs to the namespace it was created in, and
// Node offers no setns(), so the only way for one Node process to own sockets in two namespaces
// would be native code that switches the calling thread's namespace around libuv's socket calls.
// Two small processes need nothing new in the addon, and a side whose close() blocks its thread
// (SO_LINGER) freezes only that side, as it would on two machines.
//
// The impairments sit in the middle namespace, a router: nftables rules on its forward hook drop
// segments after one side sent them and before the other received them, so neither stack sees a
// local transmit failure (a drop on the sender's own OUTPUT hook fails its transmit with EPERM,
// which no real network does), and a capture on each side's veth shows exactly what that side
// sent and what reached it. Only TCP is dropped, so ARP and neighbour discovery keep working. The
// 'slow' link is a tbf qdisc on the router's two links (no netem on this kernel:
// CONFIG_NET_SCH_NETEM is off).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../core/binding.js';
import { NetLingerError } from '../core/errors.js';
import { scriptArgs } from '../core/node-internals.js';
import type { Family } from './observation.js';
import type { Condition } from './scenarios.js';

export const CONDITIONS: Readonly<Record<Condition, string>> = {
  blackhole: 'the peer vanishes mid-transfer: from the row\'s "vanish" step every TCP segment is dropped, both ways',
  slow: 'a 2 Mbit/s link each way (tbf, with a 200 ms queue)',
  lossy: '5 % of TCP segments dropped at random, each way (nftables numgen)',
};
export const CONDITION_NAMES = Object.keys(CONDITIONS) as Condition[];

type Role = 'closer' | 'peer';

/**
 * The addresses: private subnets that exist only inside the lab's namespaces, one per link
 * (closer–network, peer–network); the network namespace routes between them.
 */
export const ADDRESSES: Readonly<Record<Family, { closer: string; peer: string; gateway: Record<Role, string>; prefix: number }>> = {
  4: { closer: '10.203.1.1', peer: '10.203.2.1', gateway: { closer: '10.203.1.254', peer: '10.203.2.254' }, prefix: 24 },
  6: {
    closer: 'fd6e:6c00:203:1::1', peer: 'fd6e:6c00:203:2::1',
    gateway: { closer: 'fd6e:6c00:203:1::fe', peer: 'fd6e:6c00:203:2::fe' }, prefix: 64,
  },
};

// Namespace names carry the owning process's id, so a later run can tell a crashed run's leftovers.
const PREFIX = 'net-linger-';
const LOSS_PERCENT = 5;
const TBF = ['rate', '2mbit', 'burst', '8kb', 'latency', '200ms'];

export const UNAVAILABLE = 'ERR_NET_LINGER_CONDITION_UNAVAILABLE';

function onPath(tool: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat('/usr/sbin', '/sbin')) {
    try {
      fs.accessSync(path.join(dir, tool), fs.constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/** Why `--condition` cannot run here, in words; undefined when it can (as far as can be told before trying). */
export function conditionUnavailable(condition: Condition): string | undefined {
  if (process.platform !== 'linux') {
    return `off-loopback conditions are not available here (${process.platform}): they need Linux network namespaces`;
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'off-loopback conditions need root: the lab creates three network namespaces joined by veth pairs and ' +
      'sets nftables rules in them (CAP_SYS_ADMIN and CAP_NET_ADMIN). Run it as root, e.g. ' +
      `"sudo npx net-linger lab --condition ${condition}"`;
  }
  const tools: [string, string][] = [['ip', 'iproute2'], ['nft', 'nftables'], ['ss', 'iproute2']];
  if (condition === 'slow') tools.push(['tc', 'iproute2']);
  const missing = tools.filter(([tool]) => !onPath(tool));
  if (missing.length) {
    const packages = [...new Set(missing.map(([, pkg]) => pkg))].join(' ');
    return `off-loopback conditions need ${missing.map(([t]) => t).join(', ')}: install ${packages} (Debian: apt-get install ${packages})`;
  }
  return undefined;
}

function run(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new NetLingerError(UNAVAILABLE, `${command} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lab's namespaces that exist now: [name, owning pid]. */
export function labNamespaces(): { name: string; pid: number }[] {
  let names: string[];
  try {
    names = fs.readdirSync('/run/netns');
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const match = new RegExp(`^${PREFIX}(\\d+)-[0-9a-f]+-(closer|peer|network)$`).exec(name);
    return match ? [{ name, pid: Number(match[1]) }] : [];
  });
}

/** Deletes namespaces left by runs whose process is gone (a crash, SIGKILL). Never touches a live run's. */
async function sweepLeftovers(): Promise<void> {
  for (const { name, pid } of labNamespaces()) {
    if (pid !== process.pid && !alive(pid)) await run('ip', ['netns', 'del', name]).catch(() => undefined);
  }
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** One side's process inside its namespace, driven by request/reply messages. */
export class Agent {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private stderr = '';
  private exited: string | undefined;

  constructor(readonly role: Role, private readonly child: ChildProcess) {
    child.stderr?.on('data', (d) => { this.stderr = (this.stderr + d).slice(-4000); });
    child.on('message', (message: { id: number; value?: unknown; error?: string; code?: string }) => {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      clearTimeout(waiting.timer);
      if (message.error === undefined) waiting.resolve(message.value);
      else waiting.reject(Object.assign(new Error(message.error), message.code ? { code: message.code } : {}));
    });
    child.on('error', (err) => this.fail(`the ${role} process could not start: ${err.message}`));
    child.on('exit', (code, signal) => this.fail(`the ${role} process exited (${signal ?? code})${this.stderr ? `: ${this.stderr.trim()}` : ''}`));
  }

  private fail(why: string): void {
    this.exited ??= why;
    for (const [id, waiting] of this.pending) {
      this.pending.delete(id);
      clearTimeout(waiting.timer);
      waiting.reject(new Error(why));
    }
  }

  call<T>(op: string, args: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the ${this.role} did not answer "${op}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ id, op, ...args }, (err) => {
        if (err) this.fail(`the ${this.role} process cannot be reached: ${err.message}`);
      });
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
}

function startAgent(namespace: string, role: Role): Promise<Agent> {
  const entry = path.join(packageRoot(), 'dist', 'cjs', 'lab', 'agent.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run "npm run build:ts"`);
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, ...scriptArgs(), entry, role], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const agent = new Agent(role, child);
  return agent.call('ready', {}, 15_000).then(() => agent);
}

// Every network still up in this process, torn down synchronously on the way out.
const live = new Set<LabNetwork>();
let exitHooks: { signal: (signal: NodeJS.Signals) => void; exit: () => void } | undefined;

function installExitHooks(): void {
  if (exitHooks) return;
  const exit = () => {
    for (const network of live) network.teardownSync();
  };
  const signal = (name: NodeJS.Signals) => {
    exit();
    uninstallExitHooks();
    // Where nobody else listens, the signal does what it would have done without us (a program
    // that handles it itself has been called with it already).
    if (process.listenerCount(name) === 0) process.kill(process.pid, name);
  };
  exitHooks = { signal, exit };
  process.on('exit', exit);
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(name, signal);
}

function uninstallExitHooks(): void {
  if (!exitHooks || live.size) return;
  process.off('exit', exitHooks.exit);
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(name, exitHooks.signal);
  exitHooks = undefined;
}

/**
 * Three namespaces: closer and peer, each with one veth link to the network namespace in the
 * middle, which routes between them and holds the condition's rules (and qdiscs); one agent
 * process in each side's namespace.
 */
export class LabNetwork {
  readonly id = crypto.randomBytes(3).toString('hex');
  readonly namespaces: Readonly<Record<Role | 'network', string>>;
  /** Each side's end of its link (the name inside that side's namespace; the network's end is `nl-<side>`). */
  readonly devices: Readonly<Record<Role, string>>;
  agents: Partial<Record<Role, Agent>> = {};
  private torn = false;
  // Drops counted by rules already lifted in this row (restore flushes them with their counters).
  private droppedEarlier = 0;

  private constructor(readonly condition: Condition) {
    const name = (role: string) => `${PREFIX}${process.pid}-${this.id}-${role}`;
    this.namespaces = { closer: name('closer'), peer: name('peer'), network: name('network') };
    this.devices = { closer: 'nl-closer', peer: 'nl-peer' };
  }

  /** Sets everything up, or tears down what was made and throws (code ERR_NET_LINGER_CONDITION_UNAVAILABLE). */
  static async create(condition: Condition): Promise<LabNetwork> {
    const why = conditionUnavailable(condition);
    if (why) throw new NetLingerError(UNAVAILABLE, why);
    await sweepLeftovers();
    const network = new LabNetwork(condition);
    live.add(network);
    installExitHooks();
    try {
      await network.setUp();
      return network;
    } catch (err) {
      await network.close();
      throw err;
    }
  }

  /** A namespace's path, for code that enters it (a capture). */
  path(role: Role | 'network'): string {
    return `/run/netns/${this.namespaces[role]}`;
  }

  private ns(role: Role | 'network', command: string, args: readonly string[], input?: string): Promise<string> {
    return run('ip', ['netns', 'exec', this.namespaces[role], command, ...args], input);
  }

  /** Writes a namespace's own /proc/sys/net value from inside it (no procps needed). */
  private sysctl(role: Role | 'network', key: string, value: string): Promise<string> {
    return this.ns(role, 'sh', ['-c', 'printf %s "$1" > "/proc/sys/$2"', 'sh', value, key]);
  }

  private async setUp(): Promise<void> {
    const middle = this.namespaces.network;
    for (const ns of Object.values(this.namespaces)) {
      await run('ip', ['netns', 'add', ns]);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    for (const role of ['closer', 'peer'] as const) {
      const ns = this.namespaces[role];
      const dev = this.devices[role];
      // Both ends are created inside their namespaces: the host's own namespace never sees them.
      await run('ip', ['link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', dev, 'netns', middle]);
      for (const family of [4, 6] as const) {
        const a = ADDRESSES[family];
        const v6 = family === 6 ? ['-6'] : [];
        const nodad = family === 6 ? ['nodad'] : [];
        await run('ip', ['-n', ns, ...v6, 'addr', 'add', `${a[role]}/${a.prefix}`, 'dev', dev, ...nodad]);
        await run('ip', ['-n', middle, ...v6, 'addr', 'add', `${a.gateway[role]}/${a.prefix}`, 'dev', dev, ...nodad]);
      }
      // One MSS per packet, as on a real wire: a veth otherwise carries 64 KiB GSO packets, and
      // one lost "segment" would be dozens.
      await run('ip', ['-n', ns, 'link', 'set', 'dev', dev, 'gso_max_size', '1500', 'gso_max_segs', '1', 'up']);
      await run('ip', ['-n', middle, 'link', 'set', 'dev', dev, 'gso_max_size', '1500', 'gso_max_segs', '1', 'up']);
      for (const family of [4, 6] as const) {
        await run('ip', ['-n', ns, ...(family === 6 ? ['-6'] : []), 'route', 'add', 'default', 'via', ADDRESSES[family].gateway[role]]);
      }
      if (this.condition === 'slow') await run('tc', ['-n', middle, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', ...TBF]);
    }
    await this.sysctl('network', 'net/ipv4/ip_forward', '1');
    await this.sysctl('network', 'net/ipv6/conf/all/forwarding', '1');
    await this.ns('network', 'nft', ['-f', '-'],
      'table inet net_linger {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n  }\n}\n');
    const [closerAgent, peerAgent] = await Promise.all([startAgent(this.namespaces.closer, 'closer'), startAgent(this.namespaces.peer, 'peer')]);
    this.agents = { closer: closerAgent, peer: peerAgent };
  }

  agent(role: Role): Agent {
    const agent = this.agents[role];
    if (!agent) throw new Error('the lab network is not up');
    return agent;
  }

  private rule(rule: string): Promise<string> {
    return this.ns('network', 'nft', ['add', 'rule', 'inet', 'net_linger', 'forward', ...rule.split(' ')]);
  }

  private flush(): Promise<string> {
    return this.ns('network', 'nft', ['flush', 'chain', 'inet', 'net_linger', 'forward']);
  }

  /** The condition's standing impairment, once the row's connection is up (a lost SYN would only cost a 1 s retry). */
  async connected(): Promise<void> {
    if (this.condition === 'lossy') await this.rule(`meta l4proto tcp numgen random mod 100 < ${LOSS_PERCENT} counter drop`);
  }

  /** The peer vanishes: every TCP segment dropped, both ways. */
  async vanish(): Promise<void> {
    await this.rule('meta l4proto tcp counter drop');
  }

  /** Lifts every impairment (the counters go with the rules). */
  async restore(): Promise<void> {
    this.droppedEarlier = await this.dropped();
    await this.flush();
  }

  /** TCP segments dropped so far in this row, both ways. */
  async dropped(): Promise<number> {
    let total = this.droppedEarlier;
    const text = await this.ns('network', 'nft', ['list', 'chain', 'inet', 'net_linger', 'forward']);
    for (const match of text.matchAll(/counter packets (\d+)/g)) total += Number(match[1]);
    return total;
  }

  /**
   * Ends a row: both sides drop their sockets, the kernel's leftovers (an orphan still
   * retransmitting into a black hole would hold its namespace for minutes) are killed with
   * `ss -K`, and the network is whole again for the next row.
   */
  async endRow(): Promise<void> {
    // Never rejects: a row that failed is reported as such, and must not be hidden by its cleanup.
    const quietly = (p: Promise<unknown>) => p.catch(() => undefined);
    await Promise.all((['closer', 'peer'] as const).map((role) => quietly(this.agent(role).call('clear'))));
    for (const role of ['closer', 'peer'] as const) await quietly(this.ns(role, 'ss', ['-K', 'state', 'all']));
    await quietly(this.flush());
    this.droppedEarlier = 0;
  }

  /** Stops the agents and deletes the namespaces (their links, rules and qdiscs go with them). Never rejects. */
  async close(): Promise<void> {
    if (this.torn) return;
    this.torn = true;
    for (const agent of Object.values(this.agents)) agent?.kill();
    for (const role of ['closer', 'peer'] as const) await this.ns(role, 'ss', ['-K', 'state', 'all']).catch(() => undefined);
    for (const ns of Object.values(this.namespaces)) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    live.delete(this);
    uninstallExitHooks();
  }

  /** The same, synchronously, for a process on its way out (exit, a signal). */
  teardownSync(): void {
    if (this.torn) return;
    this.torn = true;
    for (const agent of Object.values(this.agents)) agent?.kill();
    for (const ns of Object.values(this.namespaces)) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 });
      } catch {
        // not made yet, or already gone
      }
    }
    live.delete(this);
  }
}
