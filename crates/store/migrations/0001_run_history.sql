-- Run history: runs, their steps, the attempts of each step, and the log lines.
--
-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL (see the crate docs, "Schema").
-- Ids are TEXT, JSON is TEXT, timestamps are TEXT in UTC RFC 3339 with milliseconds
-- (`2026-11-27T07:49:40.123Z`), so they sort chronologically as text on both databases.
-- Integers are BIGINT (SQLite: INTEGER affinity; PostgreSQL: int8 = Rust i64).

CREATE TABLE runs (
    id          TEXT   NOT NULL PRIMARY KEY,
    workflow    TEXT   NOT NULL,
    status      TEXT   NOT NULL,
    inputs      TEXT   NOT NULL DEFAULT '{}',
    outputs     TEXT   NOT NULL DEFAULT '{}',
    error       TEXT,
    created_at  TEXT   NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    source_path TEXT   NOT NULL DEFAULT '',
    source      TEXT   NOT NULL DEFAULT ''
);
-- `runs list`: newest first, optionally one workflow and/or one status.
CREATE INDEX runs_newest ON runs (created_at DESC, id DESC);
CREATE INDEX runs_by_workflow ON runs (workflow, created_at DESC, id DESC);
CREATE INDEX runs_by_status ON runs (status, created_at DESC, id DESC);

CREATE TABLE steps (
    run_id      TEXT   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_key    TEXT   NOT NULL,
    position    BIGINT NOT NULL,
    stage       TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    status      TEXT   NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    exit_code   BIGINT,
    outputs     TEXT   NOT NULL DEFAULT '{}',
    error       TEXT,
    started_at  TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, step_key)
);
-- `logs RUN ACTION`: an action label names every (matrix) copy of that action.
CREATE INDEX steps_by_action ON steps (run_id, action);

-- Attempts reference the run, not the step row, so an attempt may be recorded before its step.
CREATE TABLE attempts (
    run_id       TEXT   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_key     TEXT   NOT NULL,
    attempt      BIGINT NOT NULL,
    status       TEXT   NOT NULL,
    container_id TEXT,
    exit_code    BIGINT,
    error        TEXT,
    started_at   TEXT,
    finished_at  TEXT,
    PRIMARY KEY (run_id, step_key, attempt)
);

-- The primary key (run_id, seq) is the "logs of a run in order" index.
CREATE TABLE log_lines (
    run_id   TEXT   NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq      BIGINT NOT NULL,
    step_key TEXT   NOT NULL,
    attempt  BIGINT NOT NULL,
    stream   TEXT   NOT NULL,
    ts       TEXT   NOT NULL,
    text     TEXT   NOT NULL,
    PRIMARY KEY (run_id, seq)
);
-- Logs of one step of a run, in order.
CREATE INDEX log_lines_by_step ON log_lines (run_id, step_key, seq);
