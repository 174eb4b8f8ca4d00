-- A resumed run's steps that were not run but taken from an earlier run (status `reused`) name
-- that run: the run the step actually ran in (a step reused twice names the first run).
--
-- Portable SQL, like 0001 and 0002 (same conventions).

ALTER TABLE steps ADD COLUMN reused_from TEXT;
