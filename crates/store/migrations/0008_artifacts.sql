-- Artifacts (issue 10): what a step kept, by run, step and name, naming a blob of the artifact
-- store by its SHA-256. A later attempt's artifact of the same name replaces an earlier one's.
-- `expired_at` is set by the retention sweeper (the blob may then be gone); the row stays, so
-- that the API can say the artifact expired rather than that it never existed.
--
-- Portable SQL, like 0001 and 0002 (same conventions).

CREATE TABLE artifacts (
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_key   TEXT NOT NULL,
    name       TEXT NOT NULL,
    attempt    BIGINT NOT NULL,
    path       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    expired_at TEXT,
    PRIMARY KEY (run_id, step_key, name)
);

CREATE INDEX artifacts_by_sha256 ON artifacts (sha256);
CREATE INDEX artifacts_live_by_age ON artifacts (created_at) WHERE expired_at IS NULL;
