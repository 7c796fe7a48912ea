// The real receivers live in @berth/harness, shared with the destination fault scenario.
export {
  makeCertificates,
  repeats,
  startNats,
  startReceiver,
  startRsyslog,
  tcpProxy,
} from "@berth/harness";
