// net-linger/relay: a relay between two sockets that passes a FIN on as a FIN and an RST as an RST.
export {
  relay,
  type RelayClose, type RelayDirection, type RelayEnd, type RelayOptions, type RelayReport, type RelaySideReport,
} from './relay.js';
