// net-linger, the library: the socket calls, the close helpers for live sockets, and the errors.
// The lab (the scenario table and its runner) is a separate entry: `net-linger/lab`.
export {
  ERROR_CODES, NetLingerError, SocketError, isConnectionReset, normalizeErrorCode,
  type ErrnoPlatform, type ErrorCodeEntry,
} from './errors';
export { explainError, type ErrorExplanation } from './explain';
export {
  SHUT_RD, SHUT_RDWR, SHUT_WR, getLinger, maxLingerSeconds, pendingBytes, setLinger, shutdown,
  type LingerSetting, type PendingBytes, type ShutdownHow,
} from './socket-ops';
export type { SocketTarget } from './handle';
export {
  gracefulClose, lingerClose, resetClose,
  type GracefulCloseOptions, type GracefulCloseOutcome, type GracefulCloseReport,
  type LingerCloseOptions, type LingerCloseOutcome, type LingerCloseReport, type ResetCloseReport,
} from './close';
export {
  probeExitCode, probeServer,
  type ProbeMode, type ProbeOptions, type ProbeOrder, type ProbeReport, type ProbeResponse, type ProbeServerClose, type ProbeVerdict,
} from './probe';
export {
  relay,
  type RelayClose, type RelayDirection, type RelayEnd, type RelayOptions, type RelayReport, type RelaySideReport,
} from './relay';
export {
  createFaultProxy,
  type AddressInput, type EndpointReport, type FaultAction, type FaultDirection, type FaultName, type FaultProxy,
  type FaultProxyOptions, type Faults, type ProxyConnectionReport, type ResolvedFaults,
} from './faults';
export {
  enableLingeringClose,
  type LingeringCloseCounts, type LingeringCloseHandle, type LingeringCloseMode, type LingeringCloseOptions,
} from './http';
