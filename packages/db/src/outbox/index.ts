// The transactional outbox: use cases enqueue events with their change (enqueue), the worker
// leases and settles them (delivery; destinations for the ledgers of destinations beside the
// tracker), operators and tenants look at and redrive them (admin).
export * from "./admin";
export * from "./delivery";
export * from "./destinations";
export * from "./enqueue";
export * from "./wake";
