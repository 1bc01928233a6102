// net-linger/http: nginx's lingering close for node:http / https servers and the frameworks on them.
export {
  enableLingeringClose,
  type LingeringCloseCounts, type LingeringCloseHandle, type LingeringCloseMode, type LingeringCloseOptions,
} from './lingering-close.js';
