/**
 * What crossed the wire: a packet capture for one TCP port, read from a Linux AF_PACKET socket in
 * the addon (native/capture.cc), parsed here. Policy lives in this file: the kernel filter program,
 * which packets count once, how a segment reads.
 *
 *   const capture = startCapture({ port: server.address().port });   // before connecting
 *   ... the connection runs ...
 *   capture.stop();
 *   capture.segments({ closerPort, peerPort })  // [{ from: 'closer', flags: ['SYN','ACK'], bytes: 0, tMs: 0.04 }, ...]
 *
 * It needs CAP_NET_RAW (root, or root of a private user namespace that owns the network
 * namespace). Elsewhere startCapture throws a CaptureUnavailableError saying why, never an empty
 * capture. The capture belongs to the network namespace of the process that opens it, or of the
 * one named by `netns` (a path such as /run/netns/NAME; entering one needs root).
 */
import os from 'node:os';
import { binding, type NativeBinding } from '../core/binding.js';
import { NetLingerError } from '../core/errors.js';
import { invalidArgType, invalidArgValue, validateInteger } from '../core/validate.js';

export type WireSide = 'closer' | 'peer';

/** One TCP segment as it crossed the wire. ACK-only segments are folded away unless asked for. */
export interface WireSegment {
  /** Who sent it: 'closer' (the side that closes in the scenario) or 'peer'. */
  from: WireSide;
  /** In this order where present: SYN, FIN, RST, PSH, ACK, URG. */
  flags: string[];
  /** TCP payload bytes (a loopback "segment" can be a 64 KiB offloaded one). */
  bytes: number;
  /** Milliseconds since the connection's first segment. */
  tMs: number;
}

/** A segment with what the parser read from its headers. */
export interface RawSegment {
  srcPort: number;
  dstPort: number;
  flags: string[];
  bytes: number;
  seq: number;
  ack: number;
  /** Kernel receive time, ms since the Unix epoch (fractional). */
  timeMs: number;
}

export interface CaptureOptions {
  /** The TCP port to capture (either end of the segment); normally the listener's port. */
  port: number;
  /** Interface name; default 'lo'. */
  interface?: string;
  /** A network namespace to open the capture in (a path such as /run/netns/NAME); default this process's. */
  netns?: string;
}

export interface Connection {
  /** The closer's TCP port. */
  closerPort: number;
  /** The peer's TCP port. */
  peerPort: number;
}

export interface Capture {
  /**
   * Resolves once the kernel stamps packets as they pass (at once, but for the process's first
   * capture); segments captured earlier may carry the time they were read instead. Await it
   * before starting the connection.
   */
  readonly ready: Promise<void>;
  /** The TCP port captured (CaptureOptions.port). */
  readonly port: number;
  /** The interface captured on ('lo' by default). */
  readonly interface: string;
  /** Every parsed segment on the port so far, in order (a running capture drains the kernel first). */
  raw(): RawSegment[];
  /** One connection's segments, labelled by side, times relative to its first segment. */
  segments(connection: Connection, options?: { acks?: boolean }): WireSegment[];
  /** Packets the kernel dropped because the capture's buffer was full; > 0 means the record is incomplete. */
  readonly drops: number;
  /** Drains what is left and closes the socket; idempotent. */
  stop(): void;
}

/** Thrown where no capture can be opened; `reason` is the platform's or kernel's word for why. */
export class CaptureUnavailableError extends NetLingerError {
  constructor(message: string, readonly reason: 'platform' | 'permission' | 'interface' | 'os', readonly errno?: number) {
    super('ERR_NET_LINGER_CAPTURE_UNAVAILABLE', message);
    this.name = 'CaptureUnavailableError';
  }
}

/** The addon's capture functions, which only a Linux build has. */
type PacketBinding = Required<Pick<NativeBinding, 'packetOpen' | 'packetRead' | 'packetStats' | 'packetClose'>>;

function packetBinding(): PacketBinding | undefined {
  const b = binding();
  return b.packetOpen && b.packetRead && b.packetStats && b.packetClose ? (b as PacketBinding) : undefined;
}

// ---- the kernel filter: TCP with this port at either end, IPv4 (unfragmented) or IPv6 --------
// Classic BPF over packets that start at their IP header (SOCK_DGRAM packet sockets).

type Insn = { code: number; jt?: string | number; jf?: string | number; k: number; label?: string };
const SNAP = 128; // IPv6 40 + the largest TCP header 60, with room to spare

function assemble(program: Insn[]): Uint8Array {
  const at = new Map(program.flatMap((insn, i) => (insn.label ? [[insn.label, i] as const] : [])));
  const bytes = new Uint8Array(program.length * 8);
  const view = new DataView(bytes.buffer);
  const little = os.endianness() === 'LE';
  program.forEach((insn, i) => {
    const jump = (target: string | number | undefined) => (typeof target === 'string' ? at.get(target)! - i - 1 : target ?? 0);
    view.setUint16(i * 8, insn.code, little);
    view.setUint8(i * 8 + 2, jump(insn.jt));
    view.setUint8(i * 8 + 3, jump(insn.jf));
    view.setUint32(i * 8 + 4, insn.k >>> 0, little);
  });
  return bytes;
}

const LDB = 0x30; const LDH = 0x28; const LDH_IND = 0x48; const LDX_MSH = 0xb1;
const AND = 0x54; const JEQ = 0x15; const JSET = 0x45; const RET = 0x06;

/** The filter program for `port` (exported for tests). */
export function portFilter(port: number): Uint8Array {
  return assemble([
    { code: LDB, k: 0 },
    { code: AND, k: 0xf0 },
    { code: JEQ, k: 0x40, jt: 0, jf: 'v6' },
    { code: LDB, k: 9 },
    { code: JEQ, k: 6, jt: 0, jf: 'drop' },
    { code: LDH, k: 6 },
    { code: JSET, k: 0x1fff, jt: 'drop', jf: 0 },
    { code: LDX_MSH, k: 0 },
    { code: LDH_IND, k: 0 },
    { code: JEQ, k: port, jt: 'accept', jf: 0 },
    { code: LDH_IND, k: 2 },
    { code: JEQ, k: port, jt: 'accept', jf: 'drop' },
    { code: JEQ, k: 0x60, jt: 0, jf: 'drop', label: 'v6' },
    { code: LDB, k: 6 },
    { code: JEQ, k: 6, jt: 0, jf: 'drop' },
    { code: LDH, k: 40 },
    { code: JEQ, k: port, jt: 'accept', jf: 0 },
    { code: LDH, k: 42 },
    { code: JEQ, k: port, jt: 'accept', jf: 'drop' },
    { code: RET, k: SNAP, label: 'accept' },
    { code: RET, k: 0, label: 'drop' },
  ]);
}

/** A drop-everything program: opening with it tells whether a capture can be opened at all. */
const NOTHING = assemble([{ code: RET, k: 0 }]);

const FLAG_BITS: readonly [number, string][] = [[0x02, 'SYN'], [0x01, 'FIN'], [0x04, 'RST'], [0x08, 'PSH'], [0x10, 'ACK'], [0x20, 'URG']];

/** Parses one packet that starts at its IP header; undefined for anything but a whole TCP header. */
export function parseTcp(packet: Uint8Array, timeMs: number): RawSegment | undefined {
  if (packet.length < 1) return undefined;
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const version = packet[0] >> 4;
  let tcp: number;
  let ipPayloadEnd: number;
  if (version === 4) {
    const ihl = (packet[0] & 0x0f) * 4;
    if (packet.length < 20 || ihl < 20 || packet[9] !== 6) return undefined;
    tcp = ihl;
    ipPayloadEnd = view.getUint16(2);
  } else if (version === 6) {
    if (packet.length < 40 || packet[6] !== 6) return undefined;
    tcp = 40;
    ipPayloadEnd = 40 + view.getUint16(4);
  } else {
    return undefined;
  }
  if (packet.length < tcp + 20) return undefined;
  const dataOffset = (packet[tcp + 12] >> 4) * 4;
  const bits = packet[tcp + 13];
  // The IP header's length is the truth: the kernel filter keeps only the headers, so the
  // captured (and the reported) length stops at the snap length.
  const end = ipPayloadEnd;
  return {
    srcPort: view.getUint16(tcp),
    dstPort: view.getUint16(tcp + 2),
    seq: view.getUint32(tcp + 4),
    ack: view.getUint32(tcp + 8),
    flags: FLAG_BITS.filter(([bit]) => bits & bit).map(([, name]) => name),
    bytes: Math.max(0, end - tcp - dataOffset),
    timeMs,
  };
}

const PACKET_OUTGOING = 4;

function unavailable(err: number, step: number, ifname: string, netns: string | undefined): CaptureUnavailableError {
  const errno = -err;
  const name = os.constants.errno ? Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}` : `errno ${errno}`;
  if ((errno === os.constants.errno.EPERM || errno === os.constants.errno.EACCES) && step !== 1) {
    return new CaptureUnavailableError(
      `capturing packets needs CAP_NET_RAW (socket(AF_PACKET) failed ${name}): run as root, or let the lab enter a private user and network namespace where the kernel allows unprivileged user namespaces`,
      'permission', errno,
    );
  }
  if (step === 1) return new CaptureUnavailableError(`cannot enter the network namespace ${netns} (${name}): entering one needs root`, 'permission', errno);
  if (step === 4) return new CaptureUnavailableError(`no interface named "${ifname}" here (${name})`, 'interface', errno);
  const what = ['', 'setns', 'socket(AF_PACKET)', 'SO_ATTACH_FILTER', 'if_nametoindex', 'bind', 'SO_TIMESTAMPNS'][step] ?? 'open';
  return new CaptureUnavailableError(`cannot open a packet capture: ${what} failed ${name}`, 'os', errno);
}

function open(filter: Uint8Array, ifname: string, netns: string | undefined): { fd: number; loopback: boolean; native: PacketBinding } {
  const native = process.platform === 'linux' ? packetBinding() : undefined;
  if (!native) {
    throw new CaptureUnavailableError(
      `packet capture is not available here (${process.platform}): the lab captures with Linux AF_PACKET sockets only`, 'platform',
    );
  }
  const out = new Float64Array(4);
  const err = native.packetOpen(ifname, filter, 16 * 1024 * 1024, netns ?? null, out);
  if (err !== 0) throw unavailable(err, out[3], ifname, netns);
  return { fd: out[0], loopback: out[2] === 1, native };
}

/** Whether a capture can be opened here, and if not, the error startCapture would throw. */
export function captureSupport(options: { interface?: string; netns?: string } = {}): { ok: true } | { ok: false; error: CaptureUnavailableError } {
  try {
    const { fd, native } = open(NOTHING, options.interface ?? 'lo', options.netns);
    native.packetClose(fd);
    return { ok: true };
  } catch (err) {
    if (err instanceof CaptureUnavailableError) return { ok: false, error: err };
    throw err;
  }
}

const BATCH = 256;

// The kernel stamps packets only while some socket in the system asks for timestamps, and it turns
// that on lazily (a deferred work item) when the count goes from zero to one: a packet queued
// before then is stamped when it is read. One socket that asks for timestamps and receives
// nothing keeps them on for the life of the process, so only the first capture has to wait.
let stamping: Promise<void> | undefined;

function keepStamping(ifname: string, netns: string | undefined): Promise<void> {
  if (!stamping) {
    open(NOTHING, ifname, netns);
    stamping = new Promise((resolve) => setTimeout(resolve, 25).unref());
  }
  return stamping;
}

/**
 * A packet stamped when read (see keepStamping) carries a later time than it left at; since the
 * queue is in the order packets passed, no packet left later than the one queued after it.
 */
function monotonic(times: number[]): number[] {
  const out = times.slice();
  for (let i = out.length - 2; i >= 0; i--) if (out[i] > out[i + 1]) out[i] = out[i + 1];
  return out;
}

/**
 * Starts capturing TCP segments to or from `port`. Open it before the connection starts, so its
 * SYN is seen. Drains the kernel's queue on a timer that never keeps the process alive.
 */
export function startCapture(options: CaptureOptions): Capture {
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
  const port = validateInteger(options.port, 'options.port', 1, 65535);
  const ifname = options.interface ?? 'lo';
  if (typeof ifname !== 'string') throw invalidArgType('options.interface', 'a string', ifname);
  if (ifname.length === 0 || Buffer.byteLength(ifname) > 15) throw invalidArgValue('options.interface', ifname, 'must be an interface name of 1 to 15 bytes');
  if (options.netns !== undefined && typeof options.netns !== 'string') throw invalidArgType('options.netns', 'a string', options.netns);
  const ready = keepStamping(ifname, options.netns);
  const { fd, loopback, native } = open(portFilter(port), ifname, options.netns);
  const data = new Uint8Array(BATCH * SNAP);
  const meta = new Float64Array(BATCH * 5);
  const stats = new Float64Array(2);
  const segments: RawSegment[] = [];
  let drops = 0;
  let open_ = true;
  let readError: number | undefined;

  const drain = () => {
    if (!open_) return;
    for (;;) {
      const n = native.packetRead(fd, data, SNAP, meta);
      if (n < 0) {
        readError = -n;
        return;
      }
      for (let i = 0; i < n; i++) {
        // On a loopback device every packet passes twice, leaving and arriving: count it leaving.
        if (loopback && meta[i * 5 + 2] !== PACKET_OUTGOING) continue;
        const packet = data.subarray(i * SNAP, i * SNAP + meta[i * 5]);
        const seg = parseTcp(packet, meta[i * 5 + 3] * 1000 + meta[i * 5 + 4] / 1e6);
        if (seg && (seg.srcPort === port || seg.dstPort === port)) segments.push(seg);
      }
      if (n < BATCH) break;
    }
    if (native.packetStats(fd, stats) === 0) drops += stats[1];
  };
  const timer = setInterval(drain, 5);
  timer.unref();

  const capture: Capture = {
    ready,
    port,
    interface: ifname,
    get drops() {
      return drops;
    },
    raw() {
      drain();
      if (readError !== undefined) throw new CaptureUnavailableError(`reading the packet capture failed (errno ${readError})`, 'os', readError);
      return segments.slice();
    },
    segments(connection, opts = {}) {
      if (typeof connection !== 'object' || connection === null) throw invalidArgType('connection', 'an object', connection);
      const closerPort = validateInteger(connection.closerPort, 'connection.closerPort', 1, 65535);
      const peerPort = validateInteger(connection.peerPort, 'connection.peerPort', 1, 65535);
      const mine = capture.raw().filter((s) =>
        (s.srcPort === closerPort && s.dstPort === peerPort) || (s.srcPort === peerPort && s.dstPort === closerPort));
      const times = monotonic(mine.map((s) => s.timeMs));
      const t0 = times[0] ?? 0;
      return mine
        .map((s, i) => ({
          from: (s.srcPort === closerPort ? 'closer' : 'peer') as WireSide,
          flags: s.flags,
          bytes: s.bytes,
          tMs: Math.round((times[i] - t0) * 1000) / 1000,
        }))
        .filter((s) => opts.acks || s.bytes > 0 || s.flags.some((f) => f === 'SYN' || f === 'FIN' || f === 'RST'));
    },
    stop() {
      if (!open_) return;
      drain();
      clearInterval(timer);
      open_ = false;
      native.packetClose(fd);
    },
  };
  return capture;
}
