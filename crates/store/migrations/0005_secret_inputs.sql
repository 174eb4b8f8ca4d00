-- Secret inputs and the inputs of each step.
--
-- Portable SQL, like 0001 and 0002 (same conventions).

-- The values of a run's `secret`-typed inputs, encrypted by the server (the store only ever
-- sees ciphertext; NULL: none, or nothing needs them again, as for a local run). `runs.inputs`
-- shows those inputs as `***`. Runs recorded before this migration keep their inputs as they
-- were stored.
ALTER TABLE runs ADD COLUMN secret_inputs TEXT;

-- The inputs of a step's last launch as shown (a JSON object): `secret`-typed values are `***`
-- and every known secret inside the other values is masked.
ALTER TABLE steps ADD COLUMN inputs TEXT NOT NULL DEFAULT '{}';
