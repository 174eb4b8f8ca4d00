-- Webhook delivery ids are unique per workflow *and trigger kind* (`github`, `gitlab`,
-- `webhook`), not per workflow only: a delivery id is chosen by the sender, so a sender of one
-- kind (for example anyone holding a generic webhook's token) must not be able to use up the ids
-- another kind's sender will send, which would make those deliveries start no run.
--
-- Portable SQL, like 0001 and 0002 (same conventions). A primary key cannot be changed in place
-- on SQLite, so the table is rebuilt. A delivery recorded before this migration counts for every
-- kind (it is copied once per kind), so a redelivery of it still starts no second run.

CREATE TABLE deliveries_scoped (
    workflow    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    delivery    TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (workflow, kind, delivery)
);

INSERT INTO deliveries_scoped (workflow, kind, delivery, run_id, recorded_at)
SELECT d.workflow, k.kind, d.delivery, d.run_id, d.recorded_at
FROM deliveries d
CROSS JOIN (SELECT 'github' AS kind UNION ALL SELECT 'gitlab' UNION ALL SELECT 'webhook') k;

DROP TABLE deliveries;
ALTER TABLE deliveries_scoped RENAME TO deliveries;
