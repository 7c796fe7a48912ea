-- The outbox is a queue: every row is inserted, updated once per claim (the lease) and
-- deleted on delivery. Half-empty pages let the claim be a HOT update (no new index
-- entries, a small WAL record, and the old version pruned without vacuum), and vacuum runs
-- on a fixed count of dead rows rather than a fraction of a table whose live size is only
-- the backlog. Inserts alone never call for a vacuum here: every inserted row is deleted soon.
ALTER TABLE "outbox" SET (
  fillfactor = 50,
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 20000,
  autovacuum_vacuum_insert_threshold = -1,
  autovacuum_analyze_scale_factor = 0,
  autovacuum_analyze_threshold = 50000,
  autovacuum_vacuum_cost_delay = 0
);
