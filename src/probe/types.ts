// The probe's public shapes: its options and its report.
import type { ProbeResponse } from './response.js';

export type { ProbeResponse } from './response.js';

/** What the probe concluded (see ProbeReport.verdict for each value). */
export type ProbeVerdict = 'clean' | 'reset' | 'cut-off' | 'bad-response' | 'timeout' | 'unreachable';
/** How the server ended the connection: FIN, RST, or not at all within the time allowed. */
export type ProbeServerClose = 'fin' | 'reset' | 'none';
/** How the body is sent: whole whatever the server answers ('send-all'), or stopped `settle` ms after its last word ('stop-early'). */
export type ProbeMode = 'send-all' | 'stop-early';
/** HTTP: the request head in one write with the first body bytes ('together'), or alone, `headPause` ms before the body ('head-first'). */
export type ProbeOrder = 'together' | 'head-first';

export interface ProbeOptions {
  /** Body bytes to send. Default 20 MiB. */
  size?: number;
  /** HTTP only: send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
  /** HTTP only: the request method. Default 'POST'. */
  method?: string;
  /** HTTP only: extra request headers; one named Host, User-Agent or Accept replaces the probe's own. */
  headers?: Record<string, string>;
  /** Upper bound for the whole probe, in ms. Default 30000. */
  timeout?: number;
  /** 'send-all' (default: as Python's http.client and most SDKs) or 'stop-early' (as curl). */
  mode?: ProbeMode;
  /** HTTP only: 'together' (default) or 'head-first'. */
  order?: ProbeOrder;
  /** HTTP only, order 'head-first': ms between the request head and the first body byte (default 10). */
  headPause?: number;
  /** Mode 'stop-early': how long to keep sending the body still owed after the server's last word, in ms. Default 500. */
  settle?: number;
  /**
   * Stops the probe: its socket is destroyed, its timers cleared, and the promise rejects with an
   * AbortError (`name` 'AbortError', `code` 'ABORT_ERR', `cause` the signal's reason). A signal
   * that has already aborted refuses the probe before it connects (the same rejection).
   */
  signal?: AbortSignal;
  /**
   * Called when the probe moves to another step, and every 100 ms or so (never sooner) within
   * one, with where it stands (for a progress display); first after probeServer() has returned. If it throws, the probe stops and the promise rejects with
   * that error.
   */
  onProgress?: (progress: ProbeProgress) => void;
}

/** What `onProgress` is told. */
export interface ProbeProgress {
  /**
   * 'connect': connecting; 'upload': sending the body; 'wait': the body is sent (or sending has
   * stopped), waiting for the server's answer and its close.
   */
  step: 'connect' | 'upload' | 'wait';
  /** Body bytes handed to the kernel so far (as the report's `sentBytes`). */
  sentBytes: number;
  /** Body bytes the server's TCP acknowledged so far; null where the OS cannot say (as the report's `acknowledgedBytes`). */
  acknowledgedBytes: number | null;
  /** Body bytes the probe means to send (as the report's `size`). */
  size: number;
  /** ms since the probe started. */
  elapsedMs: number;
  /** The probe's `timeout`, in ms: it ends by then at the latest. */
  timeout: number;
}

export interface ProbeReport {
  /** What was probed. */
  target: {
    /** 'http' for an http:// URL, 'tcp' for a raw HOST:PORT. */
    kind: 'http' | 'tcp';
    /** The server's address or name. */
    host: string;
    /** Its TCP port. */
    port: number;
    /** The URL as given (HTTP only). */
    url?: string;
  };
  /** How the body was sent. */
  mode: ProbeMode;
  /** HTTP: how the head was sent; null for a raw TCP target. */
  order: ProbeOrder | null;
  /** Body bytes the probe meant to send. */
  size: number;
  /** Body bytes handed to the kernel. */
  sentBytes: number;
  /** Body bytes the server's TCP acknowledged before it closed (the last reading before the end); null where the OS cannot say or the addon is missing. */
  acknowledgedBytes: number | null;
  /** The whole body was handed to the kernel. */
  uploadComplete: boolean;
  /** Bytes received from the server (the raw stream, head included). */
  receivedBytes: number;
  /** HTTP only: the final response, null when none was received. */
  response: ProbeResponse | null;
  /** HTTP only: why what the server sent could not be read as an HTTP/1.x response (not HTTP, a head over 64 KiB, bad chunk framing); null when it could. */
  responseError: string | null;
  /** How the server ended the connection: 'fin', 'reset' (RST), or 'none' (it had not closed when the probe ended). */
  serverClose: ProbeServerClose;
  /** ms from the start to the server's FIN, or to the reset being seen. */
  closedAtMs: number | null;
  /** The error that ended the connection, normalised (ECONNRESET, EPIPE, ECONNREFUSED, ...). */
  error: {
    /** The normalised code; null when the error had none. */
    code: string | null;
    /** The error's message. */
    message: string;
    /** The call that failed ('read', 'write', 'connect'), where the error says. */
    syscall?: string;
  } | null;
  /** Milliseconds from the start to the end of the probe. */
  elapsedMs: number;
  /**
   * What the probe concluded: 'clean' (no reset, no error, and the response, if any, read whole),
   * 'reset' (the server reset the connection), 'cut-off' (the response stopped short, or an error
   * other than a reset ended the connection), 'bad-response' (what the server sent cannot be read
   * as an HTTP/1.x response), 'timeout' (`timeout` ran out with the response unfinished and no FIN
   * from the server, or before the probe had sent its whole body), 'unreachable' (the connect failed).
   */
  verdict: ProbeVerdict;
  /** One sentence: what happened. */
  summary: string;
  /** What to change on the server, when something should change. */
  advice: string | null;
}
