export {
  ERROR_CODES, NetLingerError, SocketError, isConnectionReset, normalizeErrorCode,
  type ErrnoPlatform, type ErrorCodeEntry,
} from './errors';
export {
  SHUT_RD, SHUT_RDWR, SHUT_WR, getLinger, maxLingerSeconds, pendingBytes, setLinger, shutdown,
  type LingerSetting, type PendingBytes, type ShutdownHow,
} from './options';
export type { SocketTarget } from './target';
export {
  SCENARIOS, describeCloser, describeExpectation, describePeer, describeStep, type Platform, type Scenario,
} from './scenarios';
export { runScenario, type Family, type Observation, type ScenarioResult } from './lab';
export {
  gracefulClose, lingerClose, resetClose,
  type GracefulCloseOptions, type GracefulCloseOutcome, type GracefulCloseReport,
  type LingerCloseOptions, type LingerCloseOutcome, type LingerCloseReport, type ResetCloseReport,
} from './close';
