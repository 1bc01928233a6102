// The scenario table in words: each step, side, condition and claim as the lab report, the docs'
// semantics table and the test names print them.
import { formatBytes } from '../core/text.js';
import { invalidArgType } from '../core/validate.js';
import {
  HTTP2_REQUEST_WAIT_MS, assertScenario, isNetworkStep, isStep,
  type CallScenario, type CallSubject, type Expectation, type Platform, type ReportExpectation, type RuntimeCondition,
  type Scenario, type Step, type WireExpectation,
} from './scenarios.js';

/** One line saying what a step does, for the lab and the README. */
export function describeStep(step: Step): string {
  if (!isStep(step)) throw invalidArgType('step', 'a step of the scenario table', step);
  switch (step.do) {
    case 'send':
      return `send ${formatBytes(step.bytes)}`;
    case 'fill-send-queue':
      return 'fill the send queue';
    case 'wait-unread':
      return `wait until ${formatBytes(step.bytes)} unread`;
    case 'wait-received':
      return `wait until ${formatBytes(step.bytes)} read`;
    case 'set-linger':
      return `setLinger(${step.onoff ? 'on' : 'off'}, ${step.seconds})`;
    case 'shutdown':
      return `shutdown(${step.how})`;
    case 'read':
      return `read ${formatBytes(step.bytes)}`;
    case 'read-until-fin':
      return 'read until FIN';
    case 'wait-eof':
      return 'wait for EOF';
    case 'write-until-error':
      return 'write until an error';
    case 'end':
      return step.actor === 'closer' ? 'end()' : 'end';
    case 'reset-close':
      return 'resetClose()';
    case 'graceful-close': {
      const options = [
        step.lingeringTimeout === undefined ? '' : `lingeringTimeout ${step.lingeringTimeout} ms`,
        step.onTimeout ? `onTimeout ${step.onTimeout}` : '',
      ].filter(Boolean);
      return `gracefulClose(${options.join(', ')})`;
    }
    case 'linger-close':
      return `lingerClose(${step.seconds} s${step.onTimeout ? `, onTimeout ${step.onTimeout}` : ''})`;
    case 'await-close':
      return 'wait for it to finish';
    case 'http-post':
      return `POST head (Content-Length ${formatBytes(step.contentLength)})`;
    case 'http-413':
      return `node:http answers 413 + Connection: close${step.lingering ? ', enableLingeringClose()' : ''}`;
    case 'http-get':
      return step.awaitResponse ? 'GET, read the whole response' : 'GET on the idle connection';
    case 'http2-post':
      return `HTTP/2 POST (${formatBytes(step.contentLength)}), read the response (up to ${HTTP2_REQUEST_WAIT_MS / 1000} s)`;
    case 'http-keep-alive':
      return 'node:http answers 200, keep-alive';
    case 'http-idle-timeout':
      return 'keepAliveTimeout fires (Node closes the idle connection)';
    case 'http2-413':
      return `node:http2 (h2c) answers 413, then session.destroy()${step.lingering ? ', enableLingeringClose()' : ''}`;
    case 'pause':
      return step.actor === 'closer' ? 'stop reading (pause)' : 'pause';
    case 'vanish':
      return 'the peer vanishes (every segment dropped, both ways)';
    case 'restore':
      return 'the network comes back';
    default:
      return step.do;
  }
}

export const CALL_TEXT: Readonly<Record<CallScenario['call'], string>> = {
  'shutdown-write': 'shutdown(write)',
  'set-linger': 'setLinger(on, 0)',
  'get-linger': 'getLinger()',
  'pending-bytes': 'pendingBytes()',
};

export const SUBJECT_TEXT: Readonly<Record<CallSubject, string>> = {
  'fd-not-open': 'a descriptor that is not open',
  'not-a-socket': `a descriptor that is not a socket (the null device)`,
  'tcp-after-reset': 'a TCP socket the peer has reset',
  'udp-unconnected': 'an unconnected UDP socket',
  'tcp-listening': 'a listening TCP socket',
};

/** What the closer does, as one line. */
export function describeCloser(scenario: Scenario): string {
  assertScenario(scenario);
  if (scenario.kind === 'call') return `${CALL_TEXT[scenario.call]} on ${SUBJECT_TEXT[scenario.subject]}`;
  return scenario.steps.filter((s) => s.actor === 'closer' || isNetworkStep(s))
    .map((s) => (isNetworkStep(s) ? `[${describeStep(s)}]` : describeStep(s))).join(' → ');
}

/** What the peer does, as one line. */
export function describePeer(scenario: Scenario): string {
  assertScenario(scenario);
  if (scenario.kind === 'call') return '';
  return scenario.steps.filter((s) => s.actor === 'peer').map(describeStep).join(' → ');
}

/** Which runtimes a variant is for, in words. */
export function describeCondition(when: RuntimeCondition): string {
  const name = when.runtime === 'bun' ? 'Bun' : when.runtime === 'deno' ? 'Deno' : 'Node';
  return when.libuvBefore ? `${name} with libuv before ${when.libuvBefore}` : name;
}

/** A wire claim as a few words. */
export function describeWireClaim(wire: WireExpectation): string {
  if (typeof wire !== 'object' || wire === null) throw invalidArgType('wire', 'a wire claim object', wire);
  const parts: string[] = [];
  if (wire.closerSends) parts.push(wire.closerSends === 'nothing' ? 'closer sends neither FIN nor RST' : `closer sends ${wire.closerSends}`);
  if (wire.rstAfterPeerData) parts.push("closer's RST answers the peer's data");
  if (wire.noRst) parts.push('no RST from anyone');
  if (wire.closerRstLost !== undefined) parts.push(wire.closerRstLost ? "the closer's RST is lost on the way" : "an RST from the closer reaches the peer");
  return `wire: ${parts.join(', ')}`;
}

/** A claim as one line; with `withWire`, its wire claim too (judged only on a captured run). */
export function describeClaim(expected: Expectation, withWire = false): string {
  if ('code' in expected) return expected.code === 'ok' ? 'succeeds' : `fails ${expected.code}`;
  const { peer: p, closer: c } = expected;
  const parts: string[] = [];
  const received = p.received === 'all' ? 'all data' : p.received === 'partial' ? 'part of the data' : p.received === 'none' ? 'no data' : '';
  if (p.outcome === 'eof') parts.push(`peer reads ${received ? `${received}, then ` : ''}EOF`);
  else if (p.outcome === 'open') parts.push('peer sees nothing (no FIN, no RST)');
  else if (p.outcome === 'stalled') parts.push(`${received ? `peer reads ${received}, but its` : "peer's"} request stalls: no end, no error`);
  else parts.push(`peer ${received ? `reads ${received}, then ` : ''}gets ${p.outcome}${p.syscall ? ` on ${p.syscall}` : ''}`);
  if (c?.received !== undefined) parts.push(`closer reads ${c.received} B`);
  if (c?.outcome && c.outcome !== 'open') {
    parts.push(c.outcome === 'eof' ? 'closer reads EOF' : `closer's ${c.syscall ?? 'send'} fails ${c.outcome}`);
  }
  if (c?.timeWait !== undefined) parts.push(c.timeWait ? 'closer keeps TIME_WAIT' : 'no TIME_WAIT');
  if (c?.blockedAtLeastMs !== undefined) parts.push(`close() blocks the thread ≥ ${c.blockedAtLeastMs / 1000} s`);
  if (c?.state !== undefined) parts.push(c.state === 'gone' ? 'closer keeps no connection state' : `closer left in ${c.state}`);
  if (c?.report) parts.push(describeReportClaim(c.report));
  if (withWire && expected.wire) parts.push(describeWireClaim(expected.wire));
  return parts.join('; ');
}

export function describeReportClaim(r: ReportExpectation): string {
  const seconds = (ms: number) => `${ms / 1000} s`;
  const within = r.elapsedAtLeastMs !== undefined && r.elapsedAtMostMs !== undefined
    ? ` after ${seconds(r.elapsedAtLeastMs)}–${seconds(r.elapsedAtMostMs)}`
    : r.elapsedAtLeastMs !== undefined ? ` after ≥ ${seconds(r.elapsedAtLeastMs)}`
      : r.elapsedAtMostMs !== undefined ? ` within ${seconds(r.elapsedAtMostMs)}` : '';
  const reset = r.reset === undefined ? '' : r.reset ? ', with an RST' : ', no RST';
  return `the report says ${r.outcome}${within}${reset}`;
}

/**
 * The row's own claim on a platform, as one line; undefined where it claims nothing.
 * The claim's note, if any, ends the line in parentheses unless `withNote` is false.
 */
export function describeExpectation(scenario: Scenario, platform: Platform, withNote = true): string | undefined {
  assertScenario(scenario);
  const expected = scenario.expect[platform];
  if (!expected) return undefined;
  const note = 'note' in expected ? expected.note : undefined;
  return describeClaim(expected) + (withNote && note ? ` (${note})` : '');
}
