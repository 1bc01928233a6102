// net-linger, the library: the socket calls, the close helpers for live sockets, and the errors.
// Each integration is an entry of its own, so this one weighs only what every consumer needs:
// net-linger/http (enableLingeringClose), net-linger/relay (relay), net-linger/testing (the fault
// proxy and the probe), net-linger/lab (the scenario table and its runner).
export {
  ERROR_CODES, NetLingerError, SocketError, isConnectionReset, normalizeErrorCode,
  type ErrnoPlatform, type ErrorCodeEntry,
} from './core/errors.js';
export { explainError, type ErrorExplanation } from './core/explain.js';
export {
  SHUT_RD, SHUT_RDWR, SHUT_WR, getLinger, maxLingerSeconds, pendingBytes, setLinger, shutdown,
  type LingerSetting, type PendingBytes, type ShutdownHow,
} from './core/socket-ops.js';
export type { SocketTarget } from './core/handle.js';
export {
  gracefulClose, lingerClose, resetClose,
  type GracefulCloseOptions, type GracefulCloseOutcome, type GracefulCloseReport,
  type LingerCloseOptions, type LingerCloseOutcome, type LingerCloseReport, type ResetCloseReport,
} from './close/close.js';
export { bindingPath, setNativeBinding } from './core/binding.js';
