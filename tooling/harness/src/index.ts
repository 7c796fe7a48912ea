/**
 * @berth/harness: Berth's services as real processes, the loads, fault scenarios and checks
 * that the `bench:*` and `fault:*` scripts run at full size and the server tests run shortened.
 */
export * from "./accounting";
export * from "./cpu";
export * from "./fault-report";
export * from "./figures";
export * from "./graphile-peer";
export * from "./invariants";
export * from "./ledger";
export * from "./oci";
export * from "./pg-proxy";
export * from "./processes";
export * from "./prometheus";
export * from "./reference-registry";
export * from "./retries";
export * from "./run-entry";
export * from "./scenarios/destination-http-receivers";
export * from "./scenarios/destination-outage";
export * from "./scenarios/destination-receivers";
export * from "./scenarios/disk-faults";
export * from "./scenarios/kill-server";
export * from "./scenarios/postgres-outage";
export * from "./scenarios/setup";
export * from "./scenarios/tracker-outage";
export * from "./script";
export * from "./script-options";
export * from "./workload";
