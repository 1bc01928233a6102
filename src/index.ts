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
  SCENARIOS, claimFor, currentRuntime, describeClaim, describeCloser, describeExpectation, describePeer, describeStep,
  type Expectation, type Platform, type RuntimeCondition, type RuntimeInfo, type Scenario, type Variant,
} from './scenarios';
export { runScenario, type Family, type Observation, type ScenarioResult } from './lab';
export {
  LAB_SCHEMA_VERSION, runLab, type LabOptions, type LabReport, type LabRow, type RowStatus,
} from './lab-report';
export { explainError, type ErrorExplanation } from './explain';
export {
  gracefulClose, lingerClose, resetClose,
  type GracefulCloseOptions, type GracefulCloseOutcome, type GracefulCloseReport,
  type LingerCloseOptions, type LingerCloseOutcome, type LingerCloseReport, type ResetCloseReport,
} from './close';
export {
  enableLingeringClose,
  type LingeringCloseCounts, type LingeringCloseHandle, type LingeringCloseMode, type LingeringCloseOptions,
} from './http';
