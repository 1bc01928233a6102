// net-linger/lab: the scenario table that drives the lab, the tests and the docs, its runner and
// its report. The CLI's `net-linger lab` is this module with a table printer.
export {
  SCENARIOS, claimFor, currentRuntime, describeClaim, describeCloser, describeExpectation, describePeer, describeStep, describeWireClaim,
  type Expectation, type Platform, type WireExpectation, type RuntimeCondition, type RuntimeInfo, type Scenario, type Variant,
} from './scenarios';
export { runScenario, type Family, type Observation, type ScenarioResult } from './runner';
export {
  LAB_SCHEMA_VERSION, runLab, type LabOptions, type LabReport, type LabRow, type RowStatus,
} from './report';
export { semanticsTable } from './semantics-table';
export { CONDITION_SCENARIOS } from './condition-scenarios';
export { ADDRESSES, CONDITIONS, type LabNetwork } from './netns';
export type { Condition } from './scenarios';
export {
  CaptureUnavailableError, captureSupport, startCapture,
  type Capture, type CaptureOptions, type Connection, type WireSegment, type WireSide,
} from './capture';
export { formatHtml } from './html';
