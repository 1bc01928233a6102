// net-linger/http: nginx's lingering close for node:http / https servers and the frameworks on them.
export {
  enableLingeringClose,
  type LingeringCloseCounts, type LingeringCloseHandle, type LingeringCloseMode, type LingeringCloseOptions,
} from './lingering-close.js';
export {
  enableHttp2LingeringClose,
  type AnyHttp2Server, type Http2LingeringCloseCounts, type Http2LingeringCloseHandle,
} from './http2.js';
