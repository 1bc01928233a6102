// net-linger, the library: the socket calls, the close helpers for live sockets, and the errors.
// Each integration is an entry of its own, so this one weighs only what every consumer needs:
// net-linger/http (enableLingeringClose), net-linger/relay (relay), net-linger/testing (the fault
// proxy and the probe), net-linger/lab (the scenario table and its runner).
export {
  ERROR_CODES, NetLingerError, SocketError, isConnectionReset, normalizeErrorCode,
  type ConnectionResetInput, type ErrnoPlatform, type ErrorCode, type ErrorCodeEntry, type KnownErrorCode,
} from './core/errors.js';
export { CONNECTION_ERROR_PRECEDENCE, classifyConnectionError, type ConnectionErrorKind } from './core/classify.js';
export { explainError, type ErrorExplanation } from './core/explain.js';
export {
  SHUT_RD, SHUT_RDWR, SHUT_WR, getLinger, maxLingerSeconds, pendingBytes, setLinger, shutdown,
  type LingerSetting, type PendingBytes, type ShutdownHow,
} from './core/socket-ops.js';
export type { SocketTarget } from './core/handle.js';
export { gracefulClose, lingerClose, type GracefulCloseOptions, type GracefulCloseOutcome, type GracefulCloseReport, type LingerCloseOptions, type LingerCloseOutcome, type LingerCloseReport } from './close/close.js';
export { resetClose, type ResetCloseReport } from './close/reset-close.js';
export { bindingPath, setNativeBinding } from './core/binding.js';
