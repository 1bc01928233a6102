// net-linger/lab: the scenario table that drives the lab, the tests and the docs, its runner and
// its report. The CLI's `net-linger lab` is this module with a table printer.
export {
  SCENARIOS, claimFor, currentRuntime, describeClaim, describeCloser, describeExpectation, describePeer, describeStep,
  type Expectation, type Platform, type RuntimeCondition, type RuntimeInfo, type Scenario, type Variant,
} from './scenarios';
export { runScenario, type Family, type Observation, type ScenarioResult } from './runner';
export {
  LAB_SCHEMA_VERSION, runLab, type LabOptions, type LabReport, type LabRow, type RowStatus,
} from './report';
export { semanticsTable } from './semantics-table';
