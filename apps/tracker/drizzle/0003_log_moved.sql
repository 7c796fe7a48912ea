-- Custom SQL migration file, put your code below! --
-- Fails the statement that calls it (and so its implicit transaction): an ingestion written
-- in one statement from a log state this process remembered finds the log grown by another
-- writer, or an event already stored, and must be placed again under the log's lock
-- (apps/tracker/src/store.ts). SQLSTATE 40001: a conflict that a retry resolves.
CREATE FUNCTION tracker.log_moved(detail text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'serialization_failure', MESSAGE = detail;
END
$$;
