-- Runs whose inputs may still hold `secret`-typed values in clear: those recorded before 0005
-- (which sealed them from then on). A server seals them once at start (an old run's secret values
-- go to `runs.secret_inputs`, encrypted, and `runs.inputs` shows them as `***`) and removes each
-- run from here in the same transaction; the CLI masks a local database's the same way.
--
-- Portable SQL, like 0001 and 0002 (same conventions). Runs recorded after 0005 without secret
-- inputs are listed too (nothing tells them apart here); going through them changes nothing.

CREATE TABLE unsealed_runs (
    run_id TEXT NOT NULL PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE
);

INSERT INTO unsealed_runs (run_id)
    SELECT id FROM runs WHERE secret_inputs IS NULL AND inputs <> '{}';
