// net-linger/lab: the scenario table that drives the lab, the tests and the docs, its runner and
// its report. The CLI's `net-linger lab` is this module with a table printer.
export { SCENARIOS, claimFor, currentRuntime, type Expectation, type Platform, type WireExpectation, type RuntimeCondition, type RuntimeInfo, type Scenario, type Variant } from './scenarios.js';
export { describeClaim, describeCloser, describeExpectation, describePeer, describeStep, describeWireClaim } from './describe.js';
export { runScenario } from './runner.js';
export { type Family, type Observation, type ScenarioResult } from './observation.js';
export {
  LAB_SCHEMA_VERSION, runLab, type LabOptions, type LabReport, type LabRow, type RowStatus,
} from './report.js';
export { semanticsTable } from './semantics-table.js';
export { CONDITION_SCENARIOS } from './condition-scenarios.js';
export { ADDRESSES, CONDITIONS, type LabNetwork } from './netns.js';
export type { Condition } from './scenarios.js';
export {
  CaptureUnavailableError, captureSupport, startCapture,
  type Capture, type CaptureOptions, type Connection, type WireSegment, type WireSide,
} from './capture.js';
export { formatHtml } from './html.js';
// The harness the lab plays its rows on, for tests of your own close handling: one loopback
// connection with its accepted end paused, and the kernel's TCP state of a connection (Linux).
export { listenLoopback, loopbackHost, loopbackPair, type LoopbackOptions, type LoopbackPair } from './loopback.js';
export { tcpState, tcpStateCounts } from './tcp-state.js';
