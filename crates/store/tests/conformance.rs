//! The store's conformance suite: every case in `cases` is an `async fn(&TestDb)` and runs twice,
//! as `sqlite::NAME` (a fresh temp file) and `postgres::NAME` (a fresh schema in the database named
//! by `CONTAINEROPS_TEST_POSTGRES_URL`; without that variable the PostgreSQL tests fail and say how
//! to get one: `sudo scripts/setup-postgres.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use co_store::{
    format_timestamp, AttemptRecord, Backend, LogRecord, RunFilter, RunRecord, RunStatus,
    StepRecord, StepStatus, Store, StoreError, LOG_QUEUE,
};
use serde_json::json;
use sqlx::{Connection, Executor};

const PG_ENV: &str = "CONTAINEROPS_TEST_POSTGRES_URL";
/// Set by `concurrent_processes_write_everything` for the child processes it starts.
const CHILD_URL_ENV: &str = "CO_STORE_TEST_CHILD_URL";
const CHILD_NAME_ENV: &str = "CO_STORE_TEST_CHILD_NAME";
/// The test that doubles as the child process's body.
const CHILD_TEST: &str = "writer_process_workload_round_trips";

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// `f`'s output if it is ready at its first poll, else `None` (and `f` is dropped).
async fn now_or_never<F: std::future::Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match f.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{}_{nanos}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

fn postgres_base_url() -> String {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{PG_ENV} is not set, so the PostgreSQL half of the store's conformance suite cannot run. \
             Run `sudo scripts/setup-postgres.sh` (installs and starts PostgreSQL, creates a test role \
             and database, prints the URL) and then `export {PG_ENV}=<that URL>`, e.g. \
             `export {PG_ENV}=$(sudo scripts/setup-postgres.sh)`."
        ),
    }
}

fn with_search_path(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// One fresh database per test: a temp SQLite file, or a new PostgreSQL schema.
struct TestDb {
    backend: Backend,
    url: String,
    store: Store,
    dir: tempfile::TempDir,
    schemas: Mutex<Vec<String>>,
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("db/store.db").display());
        let store = Store::open(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        TestDb {
            backend: Backend::Sqlite,
            url,
            store,
            dir,
            schemas: Mutex::new(Vec::new()),
        }
    }

    async fn postgres() -> TestDb {
        let schema = create_schema().await;
        let url = with_search_path(&postgres_base_url(), &schema);
        let store = Store::open(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        TestDb {
            backend: Backend::Postgres,
            url,
            store,
            dir: tempfile::tempdir().unwrap(),
            schemas: Mutex::new(vec![schema]),
        }
    }

    /// The URL of another fresh database that nobody has opened (or migrated) yet.
    async fn fresh_url(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!(
                "sqlite://{}",
                self.dir.path().join(unique()).join("store.db").display()
            ),
            Backend::Postgres => {
                let schema = create_schema().await;
                self.schemas.lock().unwrap().push(schema.clone());
                with_search_path(&postgres_base_url(), &schema)
            }
        }
    }

    /// A second, independent store (its own pool and connections) on the same database.
    async fn open_another(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }

    /// Takes the lock that `append_logs` needs, from a connection outside the store, until
    /// `release`. SQLite: the database's write lock; PostgreSQL: a SHARE lock on `log_lines`.
    async fn block_log_writes(&self) -> Blocker {
        let mut conn = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        match self.backend {
            Backend::Sqlite => {
                conn.execute("BEGIN IMMEDIATE").await.unwrap();
            }
            Backend::Postgres => {
                conn.execute("BEGIN").await.unwrap();
                conn.execute("LOCK TABLE log_lines IN SHARE MODE")
                    .await
                    .unwrap();
            }
        }
        Blocker(conn)
    }

    /// SQLite: `PRAGMA integrity_check` of the file behind `url` says ok. PostgreSQL: nothing to do.
    async fn assert_integrity(&self, url: &str) {
        if self.backend == Backend::Sqlite {
            let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
            let rows = sqlx::query("PRAGMA integrity_check")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            let report: Vec<String> = rows
                .iter()
                .map(|r| sqlx::Row::get::<String, _>(r, 0))
                .collect();
            assert_eq!(report, vec!["ok".to_string()], "integrity_check of {url}");
            conn.close().await.unwrap();
        }
    }

    async fn finish(self) {
        self.store.close().await;
        let schemas = self.schemas.into_inner().unwrap();
        if !schemas.is_empty() {
            let mut admin = sqlx::postgres::PgConnection::connect(&postgres_base_url())
                .await
                .unwrap();
            for schema in schemas {
                admin
                    .execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
                    .await
                    .unwrap();
            }
            admin.close().await.unwrap();
        }
    }
}

async fn create_schema() -> String {
    let base = postgres_base_url();
    let schema = format!("co_test_{}", unique());
    let mut admin = sqlx::postgres::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to {PG_ENV}: {e}. Is PostgreSQL running? `sudo scripts/setup-postgres.sh` starts it"
            )
        });
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .unwrap();
    admin.close().await.unwrap();
    schema
}

struct Blocker(sqlx::AnyConnection);

impl Blocker {
    async fn release(mut self) {
        self.0.execute("ROLLBACK").await.unwrap();
        self.0.close().await.unwrap();
    }
}

// ---- record builders -------------------------------------------------------------------------

/// `2026-03-01T12:00:00.000Z` plus `ms` milliseconds, in the store's format.
fn at(ms: i64) -> String {
    let base = time::macros::datetime!(2026-03-01 12:00:00 UTC);
    format_timestamp(base + time::Duration::milliseconds(ms))
}

fn run(id: &str, workflow: &str, status: &str, created_ms: i64) -> RunRecord {
    RunRecord {
        id: id.into(),
        workflow: workflow.into(),
        status: status.parse().unwrap(),
        inputs: json!({"who": "world"}),
        secret_inputs: None,
        outputs: json!({}),
        error: None,
        created_at: at(created_ms),
        started_at: None,
        finished_at: None,
        source_path: format!("./{workflow}.yaml"),
        source: format!("name: {workflow}\n"),
        revision: None,
        trigger: serde_json::Value::Null,
        parent: None,
        max_concurrency: None,
    }
}

fn step(run_id: &str, position: i64, key: &str, action: &str) -> StepRecord {
    StepRecord {
        run_id: run_id.into(),
        position,
        key: key.into(),
        stage: "main".into(),
        action: action.into(),
        status: StepStatus::Pending,
        attempts: 0,
        exit_code: None,
        outputs: json!({}),
        inputs: json!({}),
        error: None,
        started_at: None,
        finished_at: None,
        reused_from: None,
    }
}

fn attempt(run_id: &str, step_key: &str, n: i64) -> AttemptRecord {
    AttemptRecord {
        run_id: run_id.into(),
        step_key: step_key.into(),
        attempt: n,
        status: StepStatus::Running,
        container_id: Some(format!("c-{step_key}-{n}")),
        exit_code: None,
        error: None,
        started_at: Some(at(n * 1000)),
        finished_at: None,
    }
}

fn line(run_id: &str, seq: i64, step_key: &str, text: &str) -> LogRecord {
    LogRecord {
        run_id: run_id.into(),
        seq,
        step_key: step_key.into(),
        attempt: 1,
        stream: if seq % 2 == 0 { "stderr" } else { "stdout" }.into(),
        ts: at(seq),
        text: text.into(),
    }
}

fn seqs(lines: &[LogRecord]) -> Vec<i64> {
    lines.iter().map(|l| l.seq).collect()
}

fn ids(runs: &[RunRecord]) -> Vec<&str> {
    runs.iter().map(|r| r.id.as_str()).collect()
}

// ---- a workload written by tasks and by child processes --------------------------------------

const WORKLOAD_RUNS: usize = 12;
const WORKLOAD_STEPS: usize = 3;
/// Lines 1..=5 through `append_logs`, the rest through a `LogWriter`.
const WORKLOAD_LINES: i64 = 25;

/// Writes WORKLOAD_RUNS runs of workflow `wf-{name}` the way the runner does: run row, steps,
/// attempts, logs (direct and batched), status updates.
async fn write_workload(store: &Store, name: &str) {
    let writer = store.log_writer();
    for r in 0..WORKLOAD_RUNS {
        let id = format!("{name}-run-{r}");
        let mut rec = run(&id, &format!("wf-{name}"), "running", r as i64);
        rec.started_at = Some(at(r as i64));
        store.insert_run(&rec).await.unwrap();
        let mut steps: Vec<StepRecord> = (0..WORKLOAD_STEPS)
            .map(|s| step(&id, s as i64, &format!("s{s}"), &format!("a{s}")))
            .collect();
        store.upsert_steps(&steps).await.unwrap();
        for s in &mut steps {
            store
                .upsert_attempt(&attempt(&id, &s.key, 1))
                .await
                .unwrap();
            s.status = StepStatus::Succeeded;
            s.attempts = 1;
            s.exit_code = Some(0);
            s.outputs = json!({"step": s.key});
        }
        let direct: Vec<LogRecord> = (1..=5).map(|q| line(&id, q, "s0", "direct")).collect();
        store.append_logs(&direct).await.unwrap();
        for q in 6..=WORKLOAD_LINES {
            writer
                .push(line(&id, q, &format!("s{}", q % 3), "batched"))
                .await
                .unwrap();
        }
        store.upsert_steps(&steps).await.unwrap();
        writer.flush().await.unwrap();
        rec.status = RunStatus::Succeeded;
        rec.finished_at = Some(at(r as i64 + 500));
        rec.outputs = json!({"runs": r});
        store.update_run(&rec).await.unwrap();
    }
    writer.close().await.unwrap();
}

async fn verify_workload(store: &Store, name: &str) {
    let filter = RunFilter {
        workflow: Some(format!("wf-{name}")),
        ..RunFilter::default()
    };
    let runs = store.list_runs(&filter).await.unwrap();
    assert_eq!(runs.len(), WORKLOAD_RUNS, "runs of {name}");
    for r in &runs {
        assert_eq!(r.status, RunStatus::Succeeded, "{}", r.id);
        let detail = store.get_run(&r.id).await.unwrap();
        assert_eq!(detail.steps.len(), WORKLOAD_STEPS, "{}", r.id);
        assert!(detail
            .steps
            .iter()
            .all(|s| s.status == StepStatus::Succeeded));
        assert_eq!(detail.attempts.len(), WORKLOAD_STEPS, "{}", r.id);
        let lines = store.logs(&r.id, None, 0, -1).await.unwrap();
        assert_eq!(
            seqs(&lines),
            (1..=WORKLOAD_LINES).collect::<Vec<_>>(),
            "{}",
            r.id
        );
    }
}

/// Runs as an ordinary test (one writer on its own SQLite file) and, when started by
/// `concurrent_processes_write_everything` with CHILD_URL_ENV set, as one of its writer processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_process_workload_round_trips() {
    match std::env::var(CHILD_URL_ENV) {
        Ok(url) => {
            let name = std::env::var(CHILD_NAME_ENV).unwrap();
            let store = Store::open(&url).await.unwrap();
            write_workload(&store, &name).await;
            verify_workload(&store, &name).await;
            store.close().await;
        }
        Err(_) => {
            let db = TestDb::sqlite().await;
            write_workload(&db.store, "solo").await;
            verify_workload(&db.store, "solo").await;
            db.assert_integrity(&db.url).await;
            db.finish().await;
        }
    }
}

/// Every future of the public API is `Send`, so the runner and the server can call the store from
/// spawned tasks (this is a compile-time property; the body also checks the calls did their work).
#[tokio::test]
async fn every_store_call_can_run_on_a_spawned_task() {
    let task = tokio::spawn(async move {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let mut rec = run("send", "hello", "queued", 0);
        store.insert_run(&rec).await.unwrap();
        rec.status = RunStatus::Running;
        store.update_run(&rec).await.unwrap();
        store
            .upsert_steps(&[step("send", 0, "s", "a")])
            .await
            .unwrap();
        store
            .upsert_attempt(&attempt("send", "s", 1))
            .await
            .unwrap();
        store
            .append_logs(&[line("send", 1, "s", "x")])
            .await
            .unwrap();
        let writer = store.log_writer();
        writer.push(line("send", 2, "s", "y")).await.unwrap();
        writer.flush().await.unwrap();
        writer.close().await.unwrap();
        let listed = store.list_runs(&RunFilter::default()).await.unwrap();
        let detail = store.get_run("se").await.unwrap();
        let lines = store.logs("send", Some("a"), 0, -1).await.unwrap();
        let last = store.last_log_seq("send").await.unwrap();
        store.close().await;
        (
            listed[0].status.to_string(),
            detail.steps.len(),
            detail.attempts.len(),
            lines.len(),
            last,
        )
    });
    assert_eq!(task.await.unwrap(), ("running".to_string(), 1, 1, 2, 2));
}

// ---- the cases -------------------------------------------------------------------------------

mod cases {
    use super::*;

    pub async fn run_round_trips_every_field_and_json_exactly(db: &TestDb) {
        let mut rec = run("01HRT0000000000000000000RT", "hello", "running", 0);
        rec.inputs = json!({
            "zeta": 1, "alpha": [1, 2.5, -7, "x", null, true, false],
            "nested": {"deep": {"s": "quote \" backslash \\ newline \n tab \t ✓ 🚀 \u{0}"}},
            "big": u64::MAX, "empty": {}, "list": []
        });
        rec.outputs = json!({"b": "2", "a": 1});
        rec.error = Some("not yet".into());
        // Any RFC 3339 offset and precision is stored as UTC with milliseconds.
        rec.created_at = "2026-11-27T08:49:40.123456+01:00".into();
        rec.started_at = Some("2026-11-27T07:49:41Z".into());
        rec.source = "name: hello\nstages: []\n".into();
        rec.revision = Some(3);
        rec.trigger = json!({"event": "push", "delivery": "d-1",
            "payload": {"ref": "refs/heads/main", "z": 1, "a": [1.50, "x"]}});
        rec.parent = Some("01HRTPARENT".into());
        rec.max_concurrency = Some(2);
        rec.secret_inputs = Some("v1:c2VhbGVk".into());
        db.store.insert_run(&rec).await.unwrap();

        let got = db.store.get_run(&rec.id).await.unwrap();
        let mut expected = rec.clone();
        expected.created_at = "2026-11-27T07:49:40.123Z".into();
        expected.started_at = Some("2026-11-27T07:49:41.000Z".into());
        assert_eq!(got.run, expected);
        // Key order and number forms survive too (the text is identical).
        assert_eq!(
            serde_json::to_string(&got.run.inputs).unwrap(),
            serde_json::to_string(&rec.inputs).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&got.run.outputs).unwrap(),
            r#"{"b":"2","a":1}"#
        );
        assert_eq!(
            serde_json::to_string(&got.run.trigger).unwrap(),
            serde_json::to_string(&rec.trigger).unwrap()
        );
        assert!(got.steps.is_empty());
        assert!(got.attempts.is_empty());
    }

    pub async fn insert_run_twice_is_a_conflict(db: &TestDb) {
        let rec = run("dup", "hello", "running", 0);
        db.store.insert_run(&rec).await.unwrap();
        let err = db.store.insert_run(&rec).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict(msg) if msg.contains("\"dup\"")),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "a run with id \"dup\" already exists");
    }

    pub async fn invalid_timestamps_are_refused_and_nothing_is_stored(db: &TestDb) {
        let mut rec = run("badtime", "hello", "running", 0);
        rec.created_at = "yesterday".into();
        let err = db.store.insert_run(&rec).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        assert!(err.to_string().contains("RFC 3339"), "{err}");
        assert!(matches!(
            db.store.get_run("badtime").await.unwrap_err(),
            StoreError::NotFound(_)
        ));

        db.store
            .insert_run(&run("goodtime", "hello", "running", 0))
            .await
            .unwrap();
        let mut bad_line = line("goodtime", 1, "s", "x");
        bad_line.ts = "12:00".into();
        let err = db
            .store
            .append_logs(&[line("goodtime", 2, "s", "ok"), bad_line])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        assert!(db
            .store
            .logs("goodtime", None, 0, -1)
            .await
            .unwrap()
            .is_empty());
    }

    pub async fn update_run_sets_status_outputs_error_and_times(db: &TestDb) {
        let rec = run("upd", "hello", "queued", 0);
        db.store.insert_run(&rec).await.unwrap();
        let mut changed = rec.clone();
        changed.status = RunStatus::Failed;
        changed.outputs = json!({"result": {"n": 3}});
        changed.error = Some("step say failed: exit code 3".into());
        changed.started_at = Some(at(10));
        changed.finished_at = Some(at(20));
        // Fields that update_run does not touch keep their stored values.
        changed.inputs = json!({"ignored": true});
        changed.source = "ignored".into();
        db.store.update_run(&changed).await.unwrap();

        let got = db.store.get_run("upd").await.unwrap().run;
        assert_eq!(got.status, RunStatus::Failed);
        assert_eq!(got.outputs, json!({"result": {"n": 3}}));
        assert_eq!(got.error.as_deref(), Some("step say failed: exit code 3"));
        assert_eq!(got.started_at, Some(at(10)));
        assert_eq!(got.finished_at, Some(at(20)));
        assert_eq!(got.inputs, rec.inputs);
        assert_eq!(got.source, rec.source);

        // And back to no error.
        changed.error = None;
        db.store.update_run(&changed).await.unwrap();
        assert_eq!(db.store.get_run("upd").await.unwrap().run.error, None);

        let err = db
            .store
            .update_run(&run("missing", "hello", "failed", 0))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::NotFound(id) if id == "missing"),
            "{err:?}"
        );
    }

    pub async fn upsert_steps_inserts_replaces_and_lists_in_plan_order(db: &TestDb) {
        db.store
            .insert_run(&run("steps", "hello", "running", 0))
            .await
            .unwrap();
        let a = step("steps", 2, "greet/b", "b");
        let b = step("steps", 0, "greet/a", "a");
        let c = step("steps", 1, "shout/c[n=1]", "c");
        db.store
            .upsert_steps(&[a.clone(), b.clone(), c.clone()])
            .await
            .unwrap();
        let got = db.store.get_run("steps").await.unwrap().steps;
        assert_eq!(got, vec![b.clone(), c.clone(), a.clone()]);

        let mut c2 = c.clone();
        c2.status = StepStatus::Succeeded;
        c2.attempts = 2;
        c2.exit_code = Some(0);
        c2.outputs = json!({"greeting": "hello world", "n": 3, "ok": true});
        c2.inputs = json!({"text": "hi", "times": 2, "token": "***"});
        c2.error = None;
        c2.started_at = Some(at(1));
        c2.finished_at = Some(at(2));
        let mut a2 = a.clone();
        a2.status = StepStatus::Failed;
        a2.exit_code = Some(3);
        a2.error = Some("exit code 3".into());
        db.store
            .upsert_steps(&[c2.clone(), a2.clone()])
            .await
            .unwrap();
        let got = db.store.get_run("steps").await.unwrap().steps;
        assert_eq!(got, vec![b.clone(), c2.clone(), a2]);

        // A reused step keeps the run it ran in (migration 0006).
        let mut b2 = b;
        b2.status = StepStatus::Reused;
        b2.reused_from = Some("01earlier".into());
        db.store.upsert_steps(&[b2.clone()]).await.unwrap();
        let got = db.store.get_run("steps").await.unwrap().steps;
        assert_eq!(got.first(), Some(&b2));
        assert_eq!(got.get(1), Some(&c2));

        db.store.upsert_steps(&[]).await.unwrap();
    }

    pub async fn upsert_steps_is_all_or_nothing(db: &TestDb) {
        db.store
            .insert_run(&run("atomic", "hello", "running", 0))
            .await
            .unwrap();
        let err = db
            .store
            .upsert_steps(&[step("atomic", 0, "ok", "ok"), step("ghost", 0, "x", "x")])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::NotFound(id) if id == "ghost"),
            "{err:?}"
        );
        assert!(db.store.get_run("atomic").await.unwrap().steps.is_empty());
    }

    pub async fn upsert_attempt_inserts_replaces_and_lists_in_plan_order(db: &TestDb) {
        db.store
            .insert_run(&run("att", "hello", "running", 0))
            .await
            .unwrap();
        db.store
            .upsert_steps(&[
                step("att", 1, "late", "late"),
                step("att", 0, "early", "early"),
            ])
            .await
            .unwrap();
        let late1 = attempt("att", "late", 1);
        let early2 = attempt("att", "early", 2);
        let early1 = attempt("att", "early", 1);
        let orphan = attempt("att", "no-step-row-yet", 1);
        for a in [&late1, &early2, &early1, &orphan] {
            db.store.upsert_attempt(a).await.unwrap();
        }
        let mut early1_done = early1.clone();
        early1_done.status = StepStatus::Failed;
        early1_done.exit_code = Some(1);
        early1_done.error = Some("exit code 1".into());
        early1_done.container_id = None;
        early1_done.finished_at = Some(at(1500));
        db.store.upsert_attempt(&early1_done).await.unwrap();

        let got = db.store.get_run("att").await.unwrap().attempts;
        assert_eq!(got, vec![orphan, early1_done, early2, late1]);

        let err = db
            .store
            .upsert_attempt(&attempt("ghost", "s", 1))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    }

    pub async fn get_run_by_full_id_or_unique_prefix(db: &TestDb) {
        for id in ["01J0AAAA1", "01J0AAAB2", "01J0B", "run-1", "run-10"] {
            db.store
                .insert_run(&run(id, "hello", "succeeded", 0))
                .await
                .unwrap();
        }
        let found = |p: &'static str| {
            let store = db.store.clone();
            async move { store.get_run(p).await.map(|d| d.run.id) }
        };
        assert_eq!(found("01J0AAAA1").await.unwrap(), "01J0AAAA1");
        assert_eq!(found("01J0AAAA").await.unwrap(), "01J0AAAA1");
        assert_eq!(found("01J0AAAB").await.unwrap(), "01J0AAAB2");
        assert_eq!(found("01J0B").await.unwrap(), "01J0B");
        // A full id wins over being the prefix of a longer one.
        assert_eq!(found("run-1").await.unwrap(), "run-1");
        assert_eq!(found("run-10").await.unwrap(), "run-10");
        for ambiguous in ["01J0AAA", "01J0", "0", "run-"] {
            let err = found(ambiguous).await.unwrap_err();
            assert!(
                matches!(&err, StoreError::Ambiguous(p) if p == ambiguous),
                "{ambiguous}: {err:?}"
            );
        }
        // No wildcards, no case folding, no empty prefix.
        for missing in ["01J0%", "01J0_AAA", "01j0aaaa", "zzz", ""] {
            let err = found(missing).await.unwrap_err();
            assert!(
                matches!(&err, StoreError::NotFound(p) if p == missing),
                "{missing}: {err:?}"
            );
        }
    }

    pub async fn list_runs_newest_first_with_filters_and_limit(db: &TestDb) {
        let runs = [
            run("r1", "build", "succeeded", 1000),
            run("r2", "deploy", "failed", 2000),
            run("r3", "build", "failed", 3000),
            run("r4", "build", "running", 4000),
            // Same instant as r4: the larger id first.
            run("r5", "deploy", "succeeded", 4000),
        ];
        for r in runs.iter().rev() {
            db.store.insert_run(r).await.unwrap();
        }
        // Offsets are normalised, so order is by instant: 13:00+05:00 is 08:00Z, before r1.
        let mut early = run("r0", "build", "succeeded", 0);
        early.created_at = "2026-03-01T13:00:00+05:00".into();
        db.store.insert_run(&early).await.unwrap();

        let list = |workflow: Option<&str>, status: Option<&str>, limit: Option<i64>| {
            let store = db.store.clone();
            let filter = RunFilter {
                workflow: workflow.map(String::from),
                status: status.map(|s| s.parse().unwrap()),
                limit,
                ..RunFilter::default()
            };
            async move { store.list_runs(&filter).await.unwrap() }
        };
        assert_eq!(
            ids(&list(None, None, None).await),
            ["r5", "r4", "r3", "r2", "r1", "r0"]
        );
        assert_eq!(
            ids(&list(Some("build"), None, None).await),
            ["r4", "r3", "r1", "r0"]
        );
        assert_eq!(ids(&list(None, Some("failed"), None).await), ["r3", "r2"]);
        assert_eq!(
            ids(&list(Some("build"), Some("failed"), None).await),
            ["r3"]
        );
        assert_eq!(
            ids(&list(Some("nope"), None, None).await),
            Vec::<&str>::new()
        );
        assert_eq!(ids(&list(None, None, Some(2)).await), ["r5", "r4"]);
        assert_eq!(
            ids(&list(Some("build"), Some("succeeded"), Some(1)).await),
            ["r1"]
        );
        assert!(list(None, None, Some(0)).await.is_empty());
        assert_eq!(list(None, None, Some(-1)).await.len(), 6);
        // Whole records come back.
        assert_eq!(list(None, None, Some(1)).await[0], runs[4]);
    }

    pub async fn logs_come_in_seq_order_and_page_with_after_and_limit(db: &TestDb) {
        for id in ["logs", "other"] {
            db.store
                .insert_run(&run(id, "hello", "running", 0))
                .await
                .unwrap();
        }
        let batch = |r: std::ops::RangeInclusive<i64>| -> Vec<LogRecord> {
            r.map(|q| line("logs", q, "s", &format!("line {q}")))
                .collect()
        };
        // Stored out of order, in three transactions.
        db.store.append_logs(&batch(30..=50)).await.unwrap();
        db.store.append_logs(&batch(1..=10)).await.unwrap();
        db.store
            .append_logs(&[line("other", 1, "s", "not mine")])
            .await
            .unwrap();
        db.store.append_logs(&batch(11..=29)).await.unwrap();

        let all = db.store.logs("logs", None, 0, -1).await.unwrap();
        assert_eq!(seqs(&all), (1..=50).collect::<Vec<_>>());
        assert_eq!(all[41], line("logs", 42, "s", "line 42"));

        // Paging: after the last seen seq, at most `limit` each.
        let mut paged = Vec::new();
        let mut after = 0;
        loop {
            let page = db.store.logs("logs", None, after, 7).await.unwrap();
            assert!(page.len() <= 7);
            let Some(last) = page.last() else { break };
            after = last.seq;
            paged.extend(page);
        }
        assert_eq!(paged, all);

        assert_eq!(
            seqs(&db.store.logs("logs", None, 45, 3).await.unwrap()),
            [46, 47, 48]
        );
        assert!(db
            .store
            .logs("logs", None, 50, 10)
            .await
            .unwrap()
            .is_empty());
        assert!(db.store.logs("logs", None, 0, 0).await.unwrap().is_empty());
        assert!(db.store.logs("nope", None, 0, -1).await.unwrap().is_empty());
        assert_eq!(db.store.logs("other", None, 0, -1).await.unwrap().len(), 1);
    }

    pub async fn logs_filter_by_step_key_or_action_label(db: &TestDb) {
        db.store
            .insert_run(&run("lbl", "hello", "running", 0))
            .await
            .unwrap();
        db.store
            .insert_run(&run("lbl2", "hello", "running", 0))
            .await
            .unwrap();
        db.store
            .upsert_steps(&[
                step("lbl", 0, "build[os=linux]", "build"),
                step("lbl", 1, "build[os=mac]", "build"),
                step("lbl", 2, "builder", "builder"),
                step("lbl", 3, "check/test", "test"),
                step("lbl2", 0, "build[os=linux]", "build"),
            ])
            .await
            .unwrap();
        let keys = [
            "build[os=linux]",
            "build[os=mac]",
            "builder",
            "check/test",
            "build[os=mac]",
            "orphan[x=1]", // a line whose step row is not written (yet)
            "build[os=linux]",
            "check/test",
        ];
        let lines: Vec<LogRecord> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| line("lbl", i as i64 + 1, k, k))
            .collect();
        db.store.append_logs(&lines).await.unwrap();
        db.store
            .append_logs(&[line("lbl2", 1, "build[os=linux]", "other run")])
            .await
            .unwrap();

        let pick = |step: &'static str, after: i64, limit: i64| {
            let store = db.store.clone();
            async move { seqs(&store.logs("lbl", Some(step), after, limit).await.unwrap()) }
        };
        // The action label selects every matrix copy, not "builder".
        assert_eq!(pick("build", 0, -1).await, [1, 2, 5, 7]);
        // A step key selects exactly that copy.
        assert_eq!(pick("build[os=mac]", 0, -1).await, [2, 5]);
        assert_eq!(pick("builder", 0, -1).await, [3]);
        // Label ("test") and key ("check/test") of the same step.
        assert_eq!(pick("test", 0, -1).await, [4, 8]);
        assert_eq!(pick("check/test", 0, -1).await, [4, 8]);
        assert_eq!(pick("orphan", 0, -1).await, [6]);
        assert_eq!(pick("orphan[x=1]", 0, -1).await, [6]);
        assert!(pick("nope", 0, -1).await.is_empty());
        assert!(pick("buil", 0, -1).await.is_empty());
        // Filtering pages like the unfiltered query.
        assert_eq!(pick("build", 1, 2).await, [2, 5]);
        assert_eq!(pick("build", 5, -1).await, [7]);
        // Whole records.
        let got = db.store.logs("lbl", Some("builder"), 0, -1).await.unwrap();
        assert_eq!(got, vec![lines[2].clone()]);
    }

    pub async fn append_logs_is_all_or_nothing(db: &TestDb) {
        db.store
            .insert_run(&run("app", "hello", "running", 0))
            .await
            .unwrap();
        db.store.append_logs(&[]).await.unwrap();
        db.store
            .append_logs(&[line("app", 1, "s", "a"), line("app", 2, "s", "b")])
            .await
            .unwrap();
        // seq 2 is taken: the whole call fails, 3 and 4 are not stored either.
        let err = db
            .store
            .append_logs(&[
                line("app", 3, "s", "c"),
                line("app", 4, "s", "d"),
                line("app", 2, "s", "again"),
            ])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
        let got = db.store.logs("app", None, 0, -1).await.unwrap();
        assert_eq!(seqs(&got), [1, 2]);
        assert_eq!(got[1].text, "b");

        let err = db
            .store
            .append_logs(&[line("ghost", 1, "s", "x")])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::NotFound(id) if id == "ghost"),
            "{err:?}"
        );

        // Large batches (several INSERT statements) are one transaction too.
        let mut big: Vec<LogRecord> = (3..=1202).map(|q| line("app", q, "s", "bulk")).collect();
        big.push(line("app", 1, "s", "dup"));
        assert!(db.store.append_logs(&big).await.is_err());
        assert_eq!(db.store.logs("app", None, 0, -1).await.unwrap().len(), 2);
        big.pop();
        db.store.append_logs(&big).await.unwrap();
        assert_eq!(
            seqs(&db.store.logs("app", None, 0, -1).await.unwrap()),
            (1..=1202).collect::<Vec<_>>()
        );
        assert_eq!(db.store.last_log_seq("app").await.unwrap(), 1202);
    }

    pub async fn text_round_trips_unicode_long_lines_and_nul(db: &TestDb) {
        let mut rec = run("txt", "hello", "failed", 0);
        rec.error = Some("bad\0byte".into());
        rec.source = "é ✓ 🚀\n\ttabs and \"quotes\" and \\ backslashes\n".into();
        db.store.insert_run(&rec).await.unwrap();
        let long = "x".repeat(200_000);
        let texts = [
            "",
            "  leading and trailing spaces  ",
            "[COUT] greeting = hello ✓ 🚀",
            "nul \0 inside",
            long.as_str(),
        ];
        let lines: Vec<LogRecord> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| line("txt", i as i64 + 1, "s", t))
            .collect();
        db.store.append_logs(&lines).await.unwrap();
        let got = db.store.logs("txt", None, 0, -1).await.unwrap();
        let got_texts: Vec<&str> = got.iter().map(|l| l.text.as_str()).collect();
        // NUL cannot be stored by PostgreSQL; both stores keep U+FFFD in its place.
        assert_eq!(
            got_texts,
            [
                texts[0],
                texts[1],
                texts[2],
                "nul \u{FFFD} inside",
                texts[4]
            ]
        );
        assert_eq!(got[1].stream, "stderr");
        let stored = db.store.get_run("txt").await.unwrap().run;
        assert_eq!(stored.error.as_deref(), Some("bad\u{FFFD}byte"));
        assert_eq!(stored.source, rec.source);
    }

    pub async fn last_log_seq_is_where_a_writer_resumes(db: &TestDb) {
        db.store
            .insert_run(&run("seq", "hello", "running", 0))
            .await
            .unwrap();
        assert_eq!(db.store.last_log_seq("seq").await.unwrap(), 0);
        assert_eq!(db.store.last_log_seq("no-such-run").await.unwrap(), 0);
        db.store
            .append_logs(&[line("seq", 1, "s", "a"), line("seq", 7, "s", "b")])
            .await
            .unwrap();
        assert_eq!(db.store.last_log_seq("seq").await.unwrap(), 7);
    }

    pub async fn log_writer_flush_returns_after_everything_pushed_before_is_stored(db: &TestDb) {
        let writer = db.store.log_writer();
        writer.flush().await.unwrap(); // nothing pending
        let mut tasks = Vec::new();
        for t in 0..3 {
            let id = format!("lw{t}");
            db.store
                .insert_run(&run(&id, "hello", "running", 0))
                .await
                .unwrap();
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                for q in 1..=300 {
                    writer.push(line(&id, q, "s", "from a task")).await.unwrap();
                    if q % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        writer.flush().await.unwrap();
        for t in 0..3 {
            let got = db.store.logs(&format!("lw{t}"), None, 0, -1).await.unwrap();
            assert_eq!(seqs(&got), (1..=300).collect::<Vec<_>>(), "lw{t}");
        }
        let stats = writer.stats();
        assert_eq!(stats.lines_written, 900);
        assert_eq!(stats.lines_failed, 0);
        assert!((1..=900).contains(&stats.batches_written), "{stats:?}");
        writer.close().await.unwrap();
    }

    pub async fn log_writer_queue_is_bounded_and_commits_in_groups(db: &TestDb) {
        db.store
            .insert_run(&run("grp", "hello", "running", 0))
            .await
            .unwrap();
        let writer = db.store.log_writer();
        // With the database's write path blocked, pushes return at once while the queue has
        // room, then wait (the backpressure of a flood)...
        let blocker = db.block_log_writes().await;
        let mut accepted = 0;
        for q in 1..=(4 * LOG_QUEUE) {
            // Let the writer take what it can (it then blocks on the database).
            tokio::task::yield_now().await;
            match now_or_never(writer.push(line("grp", q as i64, "s", "queued"))).await {
                Some(pushed) => {
                    pushed.unwrap();
                    accepted = q;
                }
                None => break,
            }
        }
        assert!(
            (LOG_QUEUE..3 * LOG_QUEUE).contains(&accepted),
            "the queue holds {LOG_QUEUE} lines (and the writer a batch): {accepted} accepted"
        );
        // ...and nothing is visible yet (the writer is waiting for the lock).
        assert!(db.store.logs("grp", None, 0, -1).await.unwrap().is_empty());
        blocker.release().await;
        writer.flush().await.unwrap();
        assert_eq!(
            seqs(&db.store.logs("grp", None, 0, -1).await.unwrap()),
            (1..=accepted as i64).collect::<Vec<_>>()
        );
        // Whatever the writer took before it blocked is one transaction; everything that queued
        // meanwhile is the next one.
        let stats = writer.stats();
        assert_eq!(stats.lines_written, accepted as u64);
        assert!(stats.batches_written <= 2, "{stats:?}");
        writer.close().await.unwrap();
    }

    pub async fn log_writer_reports_failures_on_flush_and_keeps_other_runs_lines(db: &TestDb) {
        db.store
            .insert_run(&run("good", "hello", "running", 0))
            .await
            .unwrap();
        let writer = db.store.log_writer();
        writer.push(line("good", 1, "s", "a")).await.unwrap();
        writer
            .push(line("ghost", 1, "s", "nobody's"))
            .await
            .unwrap();
        writer.push(line("good", 2, "s", "b")).await.unwrap();
        let err = writer.flush().await.unwrap_err();
        assert!(
            matches!(&err, StoreError::NotFound(id) if id == "ghost"),
            "{err:?}"
        );
        assert_eq!(
            seqs(&db.store.logs("good", None, 0, -1).await.unwrap()),
            [1, 2]
        );
        let stats = writer.stats();
        assert_eq!((stats.lines_written, stats.lines_failed), (2, 1));
        // Reported once; the writer keeps working.
        writer.flush().await.unwrap();
        writer.push(line("good", 3, "s", "c")).await.unwrap();
        writer.flush().await.unwrap();
        assert_eq!(db.store.last_log_seq("good").await.unwrap(), 3);
        // A failure is also reported by close.
        writer
            .push(line("ghost", 2, "s", "still nobody's"))
            .await
            .unwrap();
        assert!(matches!(
            writer.close().await.unwrap_err(),
            StoreError::NotFound(_)
        ));
    }

    pub async fn log_writer_close_commits_everything_and_refuses_later_lines(db: &TestDb) {
        db.store
            .insert_run(&run("cls", "hello", "running", 0))
            .await
            .unwrap();
        let writer = db.store.log_writer();
        let other_handle = writer.clone();
        for q in 1..=100 {
            writer.push(line("cls", q, "s", "x")).await.unwrap();
        }
        writer.close().await.unwrap();
        assert_eq!(db.store.last_log_seq("cls").await.unwrap(), 100);
        for w in [&writer, &other_handle] {
            assert!(matches!(
                w.push(line("cls", 101, "s", "late")).await,
                Err(StoreError::WriterClosed)
            ));
            assert!(matches!(w.flush().await, Err(StoreError::WriterClosed)));
            w.close().await.unwrap();
        }
        assert_eq!(db.store.last_log_seq("cls").await.unwrap(), 100);
    }

    pub async fn concurrent_tasks_and_stores_write_everything(db: &TestDb) {
        let mut tasks = Vec::new();
        for t in 0..6 {
            // Four tasks share the test's store; two have stores (pools) of their own.
            let store = if t < 4 {
                db.store.clone()
            } else {
                db.open_another().await
            };
            tasks.push(tokio::spawn(async move {
                write_workload(&store, &format!("task{t}")).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        for t in 0..6 {
            verify_workload(&db.store, &format!("task{t}")).await;
        }
        assert_eq!(
            db.store
                .list_runs(&RunFilter::default())
                .await
                .unwrap()
                .len(),
            6 * WORKLOAD_RUNS
        );
        db.assert_integrity(&db.url).await;
    }

    pub async fn concurrent_opens_of_a_fresh_database_migrate_once(db: &TestDb) {
        let url = db.fresh_url().await;
        let mut tasks = Vec::new();
        for t in 0..6 {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let store = Store::open(&url).await.unwrap();
                store
                    .insert_run(&run(&format!("open{t}"), "hello", "queued", t))
                    .await
                    .unwrap();
                store
            }));
        }
        let mut stores = Vec::new();
        for t in tasks {
            stores.push(t.await.unwrap());
        }
        for store in &stores {
            assert_eq!(
                store.list_runs(&RunFilter::default()).await.unwrap().len(),
                6
            );
        }
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        let applied: i64 = sqlx::Row::get(
            &sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations")
                .fetch_one(&mut conn)
                .await
                .unwrap(),
            "n",
        );
        assert_eq!(applied, migration_count());
        conn.close().await.unwrap();
        for store in stores {
            store.close().await;
        }
        db.assert_integrity(&url).await;
    }

    pub async fn concurrent_processes_write_everything(db: &TestDb) {
        // A database nobody has created yet: the processes also race to create and migrate it.
        let url = db.fresh_url().await;
        let exe = std::env::current_exe().unwrap();
        let mut children = Vec::new();
        for p in 0..4 {
            let child = tokio::process::Command::new(&exe)
                .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD_URL_ENV, &url)
                .env(CHILD_NAME_ENV, format!("proc{p}"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            children.push(child.wait_with_output());
        }
        for (p, child) in children.into_iter().enumerate() {
            let out = child.await.unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "writer process {p} failed: {}\n{stdout}\n{stderr}",
                out.status
            );
            assert!(
                stdout.contains("1 passed"),
                "writer process {p} did not run {CHILD_TEST}:\n{stdout}"
            );
        }
        let store = Store::open(&url).await.unwrap();
        for p in 0..4 {
            verify_workload(&store, &format!("proc{p}")).await;
        }
        assert_eq!(
            store.list_runs(&RunFilter::default()).await.unwrap().len(),
            4 * WORKLOAD_RUNS
        );
        store.close().await;
        db.assert_integrity(&url).await;
    }

    pub async fn reopening_keeps_data_and_both_stores_see_each_other(db: &TestDb) {
        db.store
            .insert_run(&run("first", "hello", "running", 0))
            .await
            .unwrap();
        let again = db.open_another().await;
        assert_eq!(again.get_run("first").await.unwrap().run.id, "first");
        again
            .insert_run(&run("second", "hello", "running", 1))
            .await
            .unwrap();
        assert_eq!(db.store.get_run("sec").await.unwrap().run.id, "second");
        again.close().await;
    }
}

/// Number of migration files shipped in `migrations/`.
fn migration_count() -> i64 {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count() as i64
}

macro_rules! conformance {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = super::TestDb::sqlite().await;
                    super::$module::$case(&db).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = super::TestDb::postgres().await;
                    super::$module::$case(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}

/// The server's part of the store (`service.rs`): workflows, components, secrets, tokens,
/// triggers and the run queue.
#[path = "conformance/service.rs"]
mod service;

/// What steps kept (`artifacts.rs`).
#[path = "conformance/artifacts.rs"]
mod artifacts;

/// What the web UI needs (`ui.rs`): sessions, conditional saves with bindings, summaries.
#[path = "conformance/ui.rs"]
mod ui;

conformance!(
    cases::run_round_trips_every_field_and_json_exactly,
    cases::insert_run_twice_is_a_conflict,
    cases::invalid_timestamps_are_refused_and_nothing_is_stored,
    cases::update_run_sets_status_outputs_error_and_times,
    cases::upsert_steps_inserts_replaces_and_lists_in_plan_order,
    cases::upsert_steps_is_all_or_nothing,
    cases::upsert_attempt_inserts_replaces_and_lists_in_plan_order,
    cases::get_run_by_full_id_or_unique_prefix,
    cases::list_runs_newest_first_with_filters_and_limit,
    cases::logs_come_in_seq_order_and_page_with_after_and_limit,
    cases::logs_filter_by_step_key_or_action_label,
    cases::append_logs_is_all_or_nothing,
    cases::text_round_trips_unicode_long_lines_and_nul,
    cases::last_log_seq_is_where_a_writer_resumes,
    cases::log_writer_flush_returns_after_everything_pushed_before_is_stored,
    cases::log_writer_queue_is_bounded_and_commits_in_groups,
    cases::log_writer_reports_failures_on_flush_and_keeps_other_runs_lines,
    cases::log_writer_close_commits_everything_and_refuses_later_lines,
    cases::concurrent_tasks_and_stores_write_everything,
    cases::concurrent_opens_of_a_fresh_database_migrate_once,
    cases::concurrent_processes_write_everything,
    cases::reopening_keeps_data_and_both_stores_see_each_other,
    service::workflow_revisions_count_up_per_workflow,
    service::concurrent_revisions_get_distinct_consecutive_numbers,
    service::components_register_idempotently_and_refuse_changes,
    service::concurrent_component_registrations_agree,
    service::secrets_are_set_replaced_listed_and_deleted,
    service::tokens_are_found_by_hash_and_unique,
    service::concurrent_deletions_never_remove_the_last_admin_token,
    service::deliveries_start_at_most_one_run,
    service::deliveries_recorded_before_kind_scoping_count_for_every_kind,
    service::runs_recorded_before_sealing_are_listed_until_sealed_once,
    service::concurrent_deliveries_record_once,
    service::cron_ticks_fire_once,
    service::concurrent_cron_tick_claims_fire_once,
    service::enqueue_run_queues_and_deduplicates_deliveries,
    service::concurrent_enqueues_of_one_delivery_start_one_run,
    service::claim_takes_the_oldest_queued_run,
    service::claim_respects_per_workflow_limits_without_blocking_others,
    service::claim_respects_max_owned,
    service::expired_leases_are_recovered_by_another_owner,
    service::writes_as_an_owner_are_refused_once_another_holds_the_run,
    service::renew_leases_extends_and_reports_cancel_requests,
    service::release_run_drops_the_claim,
    service::request_cancel_cancels_queued_at_once_and_flags_running,
    service::update_run_keeps_the_queue_columns_and_what_the_run_is,
    service::list_runs_after_pages_newest_first_with_filters,
    service::count_attempt_logs_counts_one_attempt,
    service::concurrent_claims_take_each_queued_run_exactly_once,
    service::concurrent_claims_never_exceed_a_workflow_limit,
    service::concurrent_recovery_claims_recover_each_run_once,
    service::concurrent_claims_respect_max_owned,
    ui::sessions_are_found_by_hash_until_they_expire,
    ui::a_token_keeps_at_most_its_cap_of_sessions_and_they_end_with_it,
    ui::revisions_keep_their_bindings_and_conditional_saves_detect_conflicts,
    ui::concurrent_saves_on_one_base_revision_store_exactly_one,
    ui::dashboard_summaries_and_the_trigger_filter,
    artifacts::artifacts_are_recorded_replaced_by_a_later_attempt_and_listed,
    artifacts::expiry_marks_old_artifacts_and_frees_only_unshared_blobs,
);

// ---- backend-specific behaviour ---------------------------------------------------------------

mod sqlite_only {
    use super::*;

    #[tokio::test]
    async fn open_accepts_every_url_form_and_creates_file_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let forms = [
            ("a/b/url.db", "sqlite://"),
            ("c/d/short.db", "sqlite:"),
            ("e/f g/plain path.db", ""),
            ("h/we%41ird #?&=name [1] é.db", ""),
        ];
        for (rel, prefix) in forms {
            let path = dir.path().join(rel);
            let url = format!("{prefix}{}", path.display());
            let store = Store::open(&url).await.unwrap();
            assert_eq!(store.backend(), Backend::Sqlite);
            store
                .insert_run(&run("x", "hello", "queued", 0))
                .await
                .unwrap();
            store.close().await;
            assert!(path.is_file(), "{url} created {}", path.display());
            // WAL is persistent: a fresh connection sees it.
            let mut conn = sqlx::ConnectOptions::connect(
                &sqlx::sqlite::SqliteConnectOptions::new().filename(&path),
            )
            .await
            .unwrap();
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(mode, "wal", "{url}");
            conn.close().await.unwrap();
            // And the data is there for the next opener.
            let again = Store::open(&url).await.unwrap();
            assert_eq!(again.get_run("x").await.unwrap().run.id, "x");
            again.close().await;
        }
    }

    /// The database holds ciphertext, token hashes and run history: whatever the umask, the
    /// directories it creates are 0700 and its files (`.db`, `-wal`, `-shm`) 0600; files an
    /// older version left readable by others are tightened when opened.
    #[cfg(unix)]
    #[tokio::test]
    async fn database_files_and_new_directories_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join("new/data/store.db");
        let store = Store::open(&path.display().to_string()).await.unwrap();
        store
            .insert_run(&run("x", "hello", "queued", 0))
            .await
            .unwrap();
        let companions = ["store.db", "store.db-wal", "store.db-shm"];
        for name in companions {
            let file = path.with_file_name(name);
            assert!(
                file.is_file(),
                "{} exists while the store is open",
                file.display()
            );
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
        assert_eq!(mode(&dir.path().join("new")), 0o700);
        assert_eq!(mode(&dir.path().join("new/data")), 0o700);
        // A directory that already existed is not changed.
        assert_eq!(mode(dir.path()), 0o755);
        store.close().await;

        // Files left world-readable (by an older version) are tightened on open.
        for name in companions {
            let file = path.with_file_name(name);
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            }
        }
        let again = Store::open(&path.display().to_string()).await.unwrap();
        assert_eq!(again.get_run("x").await.unwrap().run.id, "x");
        for name in companions {
            let file = path.with_file_name(name);
            if file.exists() {
                assert_eq!(mode(&file), 0o600, "{}", file.display());
            }
        }
        again.close().await;
    }

    #[tokio::test]
    async fn in_memory_stores_work_and_are_private() {
        let a = Store::open("sqlite::memory:").await.unwrap();
        let b = Store::open("sqlite::memory:").await.unwrap();
        a.insert_run(&run("mem", "hello", "queued", 0))
            .await
            .unwrap();
        let writer = a.log_writer();
        writer.push(line("mem", 1, "s", "in memory")).await.unwrap();
        writer.close().await.unwrap();
        assert_eq!(a.logs("mem", None, 0, -1).await.unwrap().len(), 1);
        assert!(matches!(
            b.get_run("mem").await.unwrap_err(),
            StoreError::NotFound(_)
        ));
    }

    #[tokio::test]
    async fn unusable_paths_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "not a directory").unwrap();
        let err = Store::open(&file.join("x.db").display().to_string())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("cannot create directory"), "{msg}");
        assert!(msg.contains("CONTAINEROPS_DB"), "{msg}");

        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x42u8; 8192]).unwrap();
        let msg = Store::open(&garbage.display().to_string())
            .await
            .unwrap_err()
            .to_string();
        assert!(msg.contains("is not a SQLite database"), "{msg}");

        let msg = Store::open("mysql://localhost/x")
            .await
            .unwrap_err()
            .to_string();
        assert!(msg.contains("unsupported database scheme"), "{msg}");
        assert!(msg.contains("postgres://"), "{msg}");
    }
}

mod postgres_only {
    use super::*;

    /// Replaces the `user:password@` or the database name of a postgres URL.
    fn edit_url(base: &str, password: Option<&str>, database: Option<&str>) -> String {
        let (scheme, rest) = base.split_once("://").unwrap();
        let (userinfo, hostpath) = rest.split_once('@').unwrap();
        let user = userinfo.split(':').next().unwrap();
        let (host, path) = hostpath.split_once('/').unwrap();
        let (db, query) = match path.split_once('?') {
            Some((db, q)) => (db, format!("?{q}")),
            None => (path, String::new()),
        };
        let pass = password.map_or_else(|| userinfo[user.len()..].to_string(), |p| format!(":{p}"));
        format!(
            "{scheme}://{user}{pass}@{host}/{}{query}",
            database.unwrap_or(db)
        )
    }

    #[tokio::test]
    async fn unreachable_server_says_what_to_do_without_leaking_the_password() {
        let err = Store::open("postgres://containerops:s3cret@127.0.0.1:1/containerops")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("connection refused"), "{msg}");
        assert!(msg.contains("scripts/setup-postgres.sh"), "{msg}");
        assert!(msg.contains("containerops:***@127.0.0.1:1"), "{msg}");
        assert!(!msg.contains("s3cret"), "{msg}");
    }

    #[tokio::test]
    async fn wrong_password_says_what_to_do() {
        let url = edit_url(&postgres_base_url(), Some("wrong-password"), None);
        let msg = Store::open(&url).await.unwrap_err().to_string();
        assert!(msg.contains("authentication failed"), "{msg}");
        assert!(msg.contains("user name and password"), "{msg}");
        assert!(!msg.contains("wrong-password"), "{msg}");
    }

    #[tokio::test]
    async fn missing_database_says_what_to_do() {
        let url = edit_url(&postgres_base_url(), None, Some("co_no_such_database"));
        let msg = Store::open(&url).await.unwrap_err().to_string();
        assert!(msg.contains("does not exist"), "{msg}");
        assert!(msg.contains("createdb"), "{msg}");
    }

    #[tokio::test]
    async fn invalid_url_says_what_to_do() {
        let msg = Store::open("postgres://user:pw@host:notaport/db")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("postgres://USER:PASSWORD@HOST:PORT/DATABASE"),
            "{msg}"
        );
    }
}
