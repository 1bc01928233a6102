// net-linger/testing: tools for testing other software's close handling — a TCP fault proxy that
// injects resets, short bodies and blackholes, and the probe that asks a server how it refuses uploads.
export {
  createFaultProxy,
  type AddressInput, type EndpointReport, type FaultAction, type FaultDirection, type FaultName, type FaultProxy,
  type FaultProxyEvents, type FaultProxyOptions, type Faults, type HttpMatch, type ResolvedHttpMatch, type ProxyConnectionInfo, type KeepaliveRaceClose, type KeepaliveRaceOptions, type ProxyConnectionReport,
  type ResolvedFaults, type ResolvedKeepaliveRace, type ResolvedToxics, type SlicerOptions, type ToxicOptions,
} from '../relay/fault-proxy.js';
export {
  probeExitCode, probeServer,
  type ProbeMode, type ProbeOptions, type ProbeOrder, type ProbeProgress, type ProbeReport, type ProbeResponse, type ProbeServerClose, type ProbeVerdict,
} from '../probe/probe.js';
