// The probe's verdict from what it saw, one sentence on what happened, and what to change.
import { formatSize } from '../core/text.js';
import type { ParsedTarget } from './options.js';
import type { ProbeResponse, ProbeVerdict } from './types.js';

const ADVICE_RESET = 'The server closed while the upload was still arriving, so its kernel answered the unread bytes with an RST: ' +
  'clients that read the response only after sending (Python http.client, many SDKs, proxies) see ECONNRESET instead of the answer. ' +
  'Fix: before closing, shut down writing and keep reading and discarding the upload for a while. ' +
  'Node http/https servers: enableLingeringClose(server) from net-linger; a raw Node socket: gracefulClose(socket); ' +
  'nginx: lingering_close on (the default), with lingering_time/lingering_timeout long enough; elsewhere, read the rest of the body before closing.';
const ADVICE_CUT_OFF = 'The server closed before its response could be read whole. ' +
  'Fix: finish writing the response and let it drain (end(), not destroy()), then close with a lingering close ' +
  '(Node: enableLingeringClose(server) from net-linger; nginx: lingering_close on).';
const ADVICE_BAD_RESPONSE = 'What the server sent is not an HTTP/1.x response this probe can read: ' +
  'check that the URL points at a plain-HTTP port (not TLS, SSH or another protocol) and that the response head is well-formed and under 64 KiB.';
const ADVICE_TIMEOUT = 'The server neither answered in full nor closed within the time allowed; raise --timeout if it is just slow.';
const ADVICE_STALLED = 'The server answered, then stopped reading the upload without closing: a client that sends the whole body before it reads ' +
  '(Python http.client, many SDKs) waits until it gives up. Fix: after answering, keep reading and discarding the body for a while (a lingering close) ' +
  'or close the connection; Node: enableLingeringClose(server) from net-linger; nginx: lingering_close on.';

export type Failure = { code: string | null; message: string; syscall?: string };
export type EndReason = 'timeout' | 'error' | 'unreachable' | 'closed' | 'kept-open';

/** What the server did, as the probe saw it. */
export interface ServerSide {
  receivedBytes: number;
  fin: boolean;
  reset: boolean;
  closedAtMs: number | null;
  failure: Failure | null;
}

/** What the verdict is judged from. */
export interface Facts {
  why: EndReason;
  http: boolean;
  server: ServerSide;
  finSent: boolean;
  complete: boolean;
  responseError: string | null;
  response: ProbeResponse | null;
  size: number;
  acknowledgedBytes: number | null;
  sentBytes: number;
  timeout: number;
  elapsedMs: number;
  target: ParsedTarget;
}

const amount = formatSize;

/** The verdict, one sentence on what happened, and what to change. */
export function judge(f: Facts): { verdict: ProbeVerdict; summary: string; advice: string | null } {
  const { server } = f;
  let verdict: ProbeVerdict;
  if (f.why === 'unreachable') verdict = 'unreachable';
  else if (f.responseError) verdict = 'bad-response';
  else if (server.reset) verdict = 'reset';
  else if (f.http && !f.complete) verdict = f.why === 'timeout' && !server.fin ? 'timeout' : 'cut-off';
  else if (f.why === 'timeout' && !f.finSent) verdict = 'timeout';
  else if (f.why === 'error') verdict = 'cut-off';
  else verdict = 'clean';
  const accepted = f.acknowledgedBytes === null ? `${amount(f.sentBytes)} sent` : `${amount(f.acknowledgedBytes)} of ${amount(f.size)} acknowledged`;
  const answer = f.response ? `${f.response.status}${f.complete ? ' read whole' : ' cut short'}` : 'no response';
  // How the connection ended, in the words serverClose and error use.
  const ending = server.reset ? `it reset the connection (${server.failure?.code ?? 'RST'})`
    : server.fin ? 'it closed (FIN)'
      : server.failure ? `the connection failed (${server.failure.code ?? server.failure.message})`
        : 'it did not close';
  const at = server.closedAtMs ?? f.elapsedMs;
  let summary: string;
  switch (verdict) {
    case 'unreachable':
      summary = `could not connect to ${f.target.host}:${f.target.port}: ${server.failure?.code ?? server.failure?.message}`;
      break;
    case 'bad-response':
      summary = `the server's answer is not a readable HTTP response (${f.responseError}); then ${ending}; ${accepted}`;
      break;
    case 'reset':
      summary = f.http
        ? `the server reset the connection (${server.failure?.code ?? 'RST'}) ${at} ms in, after ${accepted}; ${answer}${f.response && f.complete ? ' (only because this probe reads while it sends)' : ''}`
        : `the server reset the connection (${server.failure?.code ?? 'RST'}) ${at} ms in, after ${accepted}`;
      break;
    case 'cut-off':
      summary = `the response could not be read whole: ${answer}; ${ending}, after ${accepted}`;
      break;
    case 'timeout':
      summary = f.http && f.response && f.complete
        ? `${answer}, then the upload stalled: the server neither took the rest nor closed within ${f.timeout} ms (${accepted})`
        : `no ${f.http ? 'complete response' : 'close'} within ${f.timeout} ms (${answer}, after ${accepted})`;
      break;
    default:
      summary = f.http
        ? `${answer}, then ${server.fin ? 'a FIN' : 'the connection left open for reuse'}, no reset; ${accepted}`
        : `${server.fin ? 'the server closed with a FIN' : 'the server kept the connection open after our FIN'}, no reset; ${accepted}`;
  }
  const advice = verdict === 'reset' ? ADVICE_RESET
    : verdict === 'cut-off' ? ADVICE_CUT_OFF
      : verdict === 'bad-response' ? ADVICE_BAD_RESPONSE
        : verdict === 'timeout' ? (f.http && f.response && f.complete ? ADVICE_STALLED : ADVICE_TIMEOUT) : null;
  return { verdict, summary, advice };
}
