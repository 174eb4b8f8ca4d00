-- The server's tables: stored workflows and their revisions, registered components, secrets
-- (ciphertext only), API tokens (hashes only), webhook deliveries and cron ticks (each starts at
-- most one run), and the run queue (new `runs` columns: what a run is, and who holds it).
--
-- Portable SQL, like 0001: it runs unchanged on SQLite and PostgreSQL. Same conventions: ids,
-- JSON and RFC 3339 timestamps are TEXT; integers are BIGINT; flags are BIGINT 0/1; instants used
-- for arithmetic (leases) are BIGINT milliseconds since the Unix epoch.

-- What a run is (filled by the server; NULL / 'null' for runs of local files).
ALTER TABLE runs ADD COLUMN revision BIGINT;
ALTER TABLE runs ADD COLUMN trigger TEXT NOT NULL DEFAULT 'null';
ALTER TABLE runs ADD COLUMN parent TEXT;
ALTER TABLE runs ADD COLUMN max_concurrency BIGINT;
-- Who holds a run (the queue; internal to the store). `owner` is the server that claimed it,
-- `lease_until` the instant (ms) its claim expires unless renewed; both NULL when nobody holds it.
-- A `running` run with a NULL lease (a local CLI run) is never claimed by a server.
ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN lease_until BIGINT;
ALTER TABLE runs ADD COLUMN cancel_requested BIGINT NOT NULL DEFAULT 0;

-- Partial indexes: they hold only the few runs that are queued or held, not the whole history,
-- and the queries name the same literal conditions, so both planners use them.
-- The queue, oldest first.
CREATE INDEX runs_queued ON runs (created_at, id) WHERE status = 'queued';
-- Running runs per workflow (concurrency limits).
CREATE INDEX runs_running_by_workflow ON runs (workflow) WHERE status = 'running';
-- Runs a server holds (max_owned, lease renewal).
CREATE INDEX runs_by_owner ON runs (owner) WHERE owner IS NOT NULL;
-- Expired leases (recovery).
CREATE INDEX runs_by_lease ON runs (lease_until) WHERE status = 'running';

-- A stored workflow: its name and the number of its latest revision (the counter that makes
-- "latest + 1" atomic).
CREATE TABLE workflows (
    name            TEXT   NOT NULL PRIMARY KEY,
    latest_revision BIGINT NOT NULL,
    created_at      TEXT   NOT NULL,
    updated_at      TEXT   NOT NULL
);

-- Immutable revisions, 1, 2, 3, … per workflow.
CREATE TABLE workflow_revisions (
    name       TEXT   NOT NULL REFERENCES workflows (name) ON DELETE CASCADE,
    revision   BIGINT NOT NULL,
    yaml       TEXT   NOT NULL,
    created_at TEXT   NOT NULL,
    PRIMARY KEY (name, revision)
);

-- Registered component versions (immutable).
CREATE TABLE components (
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    yaml       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (name, version)
);

-- Secrets: the store only ever sees ciphertext.
CREATE TABLE secrets (
    name       TEXT NOT NULL PRIMARY KEY,
    ciphertext TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- API tokens: only a hash (SHA-256, hex) of each token.
CREATE TABLE tokens (
    id         TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Webhook deliveries: the primary key makes a redelivered id start no second run. No foreign key
-- to `runs`: a delivery may be recorded by itself (`record_delivery`) before its run row.
CREATE TABLE deliveries (
    workflow    TEXT NOT NULL,
    delivery    TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (workflow, delivery)
);

-- Cron ticks claimed (trigger_index: the trigger's position in the workflow's `triggers:`;
-- tick: the scheduled instant, RFC 3339): the primary key makes each tick fire once.
CREATE TABLE cron_ticks (
    workflow      TEXT   NOT NULL,
    trigger_index BIGINT NOT NULL,
    tick          TEXT   NOT NULL,
    claimed_at    TEXT   NOT NULL,
    PRIMARY KEY (workflow, trigger_index, tick)
);
