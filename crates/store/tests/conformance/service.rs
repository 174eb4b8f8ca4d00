//! Conformance cases of the server's part of the store: workflows and revisions, components,
//! secrets, tokens, webhook deliveries, cron ticks and the run queue (claims, leases, cancel).
//!
//! Time is virtual: claims and leases take milliseconds as arguments, so nothing here sleeps or
//! depends on how fast anything runs. The concurrency cases race several `Store` instances (each
//! its own pool, like several servers) and many tasks, and check the invariants after every step.

use std::collections::{BTreeMap, BTreeSet};

use co_store::{normalize_timestamp, Claim, DeliveryKey, LeaseRenewal, TokenDeletion, TokenRecord};

use super::*;

const LEASE: i64 = 30_000;

/// A GitHub delivery of `workflow` (the kind matters only where a test says so).
fn hook<'a>(workflow: &'a str, id: &'a str) -> DeliveryKey<'a> {
    DeliveryKey {
        workflow,
        kind: "github",
        id,
    }
}

/// A queued run as the server would enqueue it.
pub fn queued(id: &str, workflow: &str, created_ms: i64, max: Option<i64>) -> RunRecord {
    let mut r = run(id, workflow, "queued", created_ms);
    r.trigger = json!({"event": "api"});
    r.revision = Some(1);
    r.max_concurrency = max;
    r
}

pub async fn enqueue(store: &Store, r: &RunRecord) {
    assert_eq!(store.enqueue_run(r, None).await.unwrap(), None, "{}", r.id);
}

async fn claim(store: &Store, owner: &str, now: i64, lease_until: i64) -> Option<Claim> {
    store
        .claim_run(owner, now, lease_until, None)
        .await
        .unwrap()
}

async fn claimed_id(store: &Store, owner: &str, now: i64, lease_until: i64) -> Option<String> {
    claim(store, owner, now, lease_until).await.map(|c| {
        assert!(
            !c.recovered,
            "{} was recovered, expected a fresh claim",
            c.run.id
        );
        c.run.id
    })
}

async fn status_of(store: &Store, id: &str) -> String {
    store.get_run(id).await.unwrap().run.status.to_string()
}

/// What the driver does when a run ends: final status first, then release.
async fn finish(store: &Store, id: &str, owner: &str) {
    let mut rec = store.get_run(id).await.unwrap().run;
    rec.status = RunStatus::Succeeded;
    rec.finished_at = Some(at(60_000));
    store.update_run(&rec).await.unwrap();
    store.release_run(id, owner).await.unwrap();
}

async fn running_of(store: &Store, workflow: &str) -> usize {
    let filter = RunFilter {
        workflow: Some(workflow.into()),
        status: Some(RunStatus::Running),
        ..RunFilter::default()
    };
    store.list_runs(&filter).await.unwrap().len()
}

/// `n` stores on the test's database: the test's own and `n - 1` independent ones.
pub async fn stores(db: &TestDb, n: usize) -> Vec<Store> {
    let mut all = vec![db.store.clone()];
    for _ in 1..n {
        all.push(db.open_another().await);
    }
    all
}

pub async fn join_all<T: Send + 'static>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

// ---- workflows -------------------------------------------------------------------------------

pub async fn workflow_revisions_count_up_per_workflow(db: &TestDb) {
    let s = &db.store;
    let r1 = s
        .put_workflow_revision("hello", "name: hello\n")
        .await
        .unwrap();
    assert_eq!((r1.name.as_str(), r1.revision), ("hello", 1));
    assert_eq!(r1.yaml, "name: hello\n");
    assert_eq!(normalize_timestamp(&r1.created_at).unwrap(), r1.created_at);
    let r2 = s
        .put_workflow_revision("hello", "name: hello\n# v2 \0\n")
        .await
        .unwrap();
    assert_eq!(r2.revision, 2);
    // NUL cannot be stored by PostgreSQL; both stores keep U+FFFD.
    assert_eq!(r2.yaml, "name: hello\n# v2 \u{FFFD}\n");
    for (name, n) in [("b", 1), ("ab", 1), ("a-b", 1), ("b", 2)] {
        let r = s.put_workflow_revision(name, name).await.unwrap();
        assert_eq!(r.revision, n, "{name}");
    }

    assert_eq!(s.get_workflow_revision("hello", None).await.unwrap(), r2);
    assert_eq!(s.get_workflow_revision("hello", Some(2)).await.unwrap(), r2);
    assert_eq!(s.get_workflow_revision("hello", Some(1)).await.unwrap(), r1);
    assert_eq!(
        s.list_workflow_revisions("hello").await.unwrap(),
        vec![r1.clone(), r2.clone()]
    );
    assert!(s.list_workflow_revisions("nope").await.unwrap().is_empty());

    let list = s.list_workflows().await.unwrap();
    let names: Vec<(&str, i64)> = list
        .iter()
        .map(|w| (w.name.as_str(), w.latest_revision))
        .collect();
    // Byte order whatever the database's collation.
    assert_eq!(names, [("a-b", 1), ("ab", 1), ("b", 2), ("hello", 2)]);
    let hello = &list[3];
    assert_eq!(hello.created_at, r1.created_at);
    assert_eq!(hello.updated_at, r2.created_at);

    for (name, rev, what) in [
        ("hello", Some(3), "revision 3 of workflow \"hello\""),
        ("hello", Some(0), "revision 0 of workflow \"hello\""),
        ("nope", None, "workflow \"nope\""),
        ("nope", Some(1), "workflow \"nope\""),
    ] {
        let err = s.get_workflow_revision(name, rev).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::NotFound(w) if w == what),
            "{name} {rev:?}: {err:?}"
        );
        assert_eq!(err.to_string(), format!("not found: {what}"));
    }
}

pub async fn concurrent_revisions_get_distinct_consecutive_numbers(db: &TestDb) {
    const TASKS_PER_STORE: usize = 5;
    const PUTS_PER_TASK: usize = 4;
    let mut tasks = Vec::new();
    for (si, store) in stores(db, 4).await.into_iter().enumerate() {
        for t in 0..TASKS_PER_STORE {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for p in 0..PUTS_PER_TASK {
                    let yaml = format!("name: shared # store {si} task {t} put {p}\n");
                    let rev = store.put_workflow_revision("shared", &yaml).await.unwrap();
                    got.push((rev.revision, yaml));
                }
                got
            }));
        }
    }
    let got: Vec<(i64, String)> = join_all(tasks).await.into_iter().flatten().collect();
    let total = (4 * TASKS_PER_STORE * PUTS_PER_TASK) as i64;
    let numbers: BTreeSet<i64> = got.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        numbers,
        (1..=total).collect::<BTreeSet<_>>(),
        "distinct, 1..={total}"
    );
    assert_eq!(got.len() as i64, total);
    // Each number holds the text its writer was told it holds.
    let stored = db.store.list_workflow_revisions("shared").await.unwrap();
    let stored: BTreeMap<i64, String> = stored.into_iter().map(|r| (r.revision, r.yaml)).collect();
    for (n, yaml) in &got {
        assert_eq!(stored.get(n), Some(yaml), "revision {n}");
    }
    let list = db.store.list_workflows().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].latest_revision, total);
}

// ---- components ------------------------------------------------------------------------------

pub async fn components_register_idempotently_and_refuse_changes(db: &TestDb) {
    let s = &db.store;
    let first = s
        .put_component("upper", "1.0.0", "name: upper\nversion: 1.0.0\n")
        .await
        .unwrap();
    assert_eq!(
        (first.name.as_str(), first.version.as_str()),
        ("upper", "1.0.0")
    );
    assert_eq!(
        normalize_timestamp(&first.created_at).unwrap(),
        first.created_at
    );
    // The same text again: fine, and the record stored first comes back.
    let again = s
        .put_component("upper", "1.0.0", "name: upper\nversion: 1.0.0\n")
        .await
        .unwrap();
    assert_eq!(again, first);
    // Different text for the same version: refused, nothing changes.
    let err = s
        .put_component("upper", "1.0.0", "name: upper\nversion: 1.0.0\n# changed\n")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("upper@1.0.0"), "{msg}");
    assert!(msg.contains("new version"), "{msg}");
    assert_eq!(s.get_component("upper", "1.0.0").await.unwrap(), first);

    let err = s.get_component("upper", "9.9.9").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(w) if w == "component upper@9.9.9"),
        "{err:?}"
    );

    for (name, version) in [
        ("upper", "1.10.0"),
        ("upper", "1.9.0"),
        ("upper", "1.0.0-rc.1"),
        ("upper", "dev"),
        ("aaa", "2.0.0"),
    ] {
        s.put_component(name, version, &format!("{name} {version}"))
            .await
            .unwrap();
    }
    let list: Vec<(String, String)> = s
        .list_components()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.version))
        .collect();
    let expected = [
        ("aaa", "2.0.0"),
        ("upper", "1.0.0-rc.1"),
        ("upper", "1.0.0"),
        ("upper", "1.9.0"),
        ("upper", "1.10.0"),
        ("upper", "dev"),
    ];
    assert_eq!(
        list,
        expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    );
}

pub async fn concurrent_component_registrations_agree(db: &TestDb) {
    let mut tasks = Vec::new();
    for (si, store) in stores(db, 2).await.into_iter().enumerate() {
        for t in 0..4 {
            let store = store.clone();
            // Two competing texts, each submitted by four tasks.
            let text = if (si + t) % 2 == 0 {
                "text A"
            } else {
                "text B"
            };
            tasks.push(tokio::spawn(async move {
                (text, store.put_component("race", "1.0.0", text).await)
            }));
        }
    }
    let results = join_all(tasks).await;
    let stored = db.store.get_component("race", "1.0.0").await.unwrap();
    for (text, result) in results {
        match result {
            Ok(record) => {
                assert_eq!(text, stored.yaml);
                assert_eq!(record, stored);
            }
            Err(StoreError::Conflict(_)) => assert_ne!(text, stored.yaml),
            Err(other) => panic!("{other:?}"),
        }
    }
}

// ---- secrets and tokens ----------------------------------------------------------------------

pub async fn secrets_are_set_replaced_listed_and_deleted(db: &TestDb) {
    let s = &db.store;
    assert!(s.list_secret_names().await.unwrap().is_empty());
    assert_eq!(s.get_secret("b").await.unwrap(), None);
    s.put_secret("b", "cipher-1").await.unwrap();
    s.put_secret("a", "cipher-2").await.unwrap();
    s.put_secret("a-b", "cipher-3").await.unwrap();
    s.put_secret("b", "cipher-4").await.unwrap();
    assert_eq!(
        s.get_secret("b").await.unwrap().as_deref(),
        Some("cipher-4")
    );
    assert_eq!(
        s.get_secret("a").await.unwrap().as_deref(),
        Some("cipher-2")
    );
    assert_eq!(s.list_secret_names().await.unwrap(), ["a", "a-b", "b"]);
    assert!(s.delete_secret("a").await.unwrap());
    assert!(!s.delete_secret("a").await.unwrap());
    assert!(!s.delete_secret("never").await.unwrap());
    assert_eq!(s.get_secret("a").await.unwrap(), None);
    assert_eq!(s.list_secret_names().await.unwrap(), ["a-b", "b"]);
}

pub async fn tokens_are_found_by_hash_and_unique(db: &TestDb) {
    let s = &db.store;
    let token = |id: &str, hash: &str, role: &str, created: &str| TokenRecord {
        id: id.into(),
        name: format!("token {id}"),
        hash: hash.into(),
        role: role.into(),
        created_at: created.into(),
    };
    let t1 = token("t1", "h1", "admin", "2026-03-01T13:00:05+01:00");
    let t2 = token("t2", "h2", "viewer", &at(1000));
    s.insert_token(&t1).await.unwrap();
    s.insert_token(&t2).await.unwrap();

    let mut stored_t1 = t1.clone();
    stored_t1.created_at = at(5000);
    assert_eq!(s.find_token("h1").await.unwrap(), Some(stored_t1.clone()));
    assert_eq!(s.find_token("h2").await.unwrap(), Some(t2.clone()));
    assert_eq!(s.find_token("nope").await.unwrap(), None);
    // Oldest first.
    assert_eq!(s.list_tokens().await.unwrap(), vec![t2.clone(), stored_t1]);
    // The hash never leaves through serialisation.
    let shown = serde_json::to_value(&t2).unwrap();
    assert!(shown.get("hash").is_none(), "{shown}");
    assert_eq!(shown["role"], "viewer");

    for dup in [
        token("t1", "h9", "admin", &at(0)),
        token("t9", "h1", "admin", &at(0)),
    ] {
        let err = s.insert_token(&dup).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }
    let err = s
        .insert_token(&token("t8", "h8", "admin", "today"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(s.list_tokens().await.unwrap().len(), 2);

    // The last admin token stays; a viewer token can go, then no token of a role is left.
    assert_eq!(
        s.delete_token_unless_last("t1", "admin").await.unwrap(),
        TokenDeletion::LastOfRole
    );
    assert!(s.has_token_with_role("admin").await.unwrap());
    s.insert_token(&token("t3", "h3", "admin", &at(2000)))
        .await
        .unwrap();
    assert_eq!(
        s.delete_token_unless_last("t1", "admin").await.unwrap(),
        TokenDeletion::Deleted
    );
    assert_eq!(
        s.delete_token_unless_last("t1", "admin").await.unwrap(),
        TokenDeletion::NotFound
    );
    assert_eq!(s.find_token("h1").await.unwrap(), None);
    assert_eq!(
        s.delete_token_unless_last("t2", "admin").await.unwrap(),
        TokenDeletion::Deleted
    );
    assert!(!s.has_token_with_role("viewer").await.unwrap());
    assert_eq!(s.list_tokens().await.unwrap().len(), 1);
}

/// Two admin tokens, and many deletions of both at once from several stores (like several
/// servers): exactly one deletion succeeds, so one admin token is always left. Each round uses
/// its own role name, so the rounds do not see each other's tokens.
pub async fn concurrent_deletions_never_remove_the_last_admin_token(db: &TestDb) {
    for round in 0..4 {
        let role = format!("admin-{round}");
        let ids = [format!("a{round}"), format!("b{round}")];
        for (i, id) in ids.iter().enumerate() {
            db.store
                .insert_token(&TokenRecord {
                    id: id.clone(),
                    name: id.clone(),
                    hash: format!("hash-{round}-{i}"),
                    role: role.clone(),
                    created_at: at(0),
                })
                .await
                .unwrap();
        }
        let mut tasks = Vec::new();
        for (si, store) in stores(db, 4).await.into_iter().enumerate() {
            for t in 0..2 {
                let store = store.clone();
                let id = ids[(si + t) % 2].clone();
                let role = role.clone();
                tasks.push(tokio::spawn(async move {
                    store.delete_token_unless_last(&id, &role).await.unwrap()
                }));
            }
        }
        let results = join_all(tasks).await;
        let deleted = results
            .iter()
            .filter(|r| **r == TokenDeletion::Deleted)
            .count();
        assert_eq!(deleted, 1, "round {round}: {results:?}");
        let left: Vec<_> = db
            .store
            .list_tokens()
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.role == role)
            .collect();
        assert_eq!(left.len(), 1, "round {round}: {left:?}");
    }
}

// ---- triggers --------------------------------------------------------------------------------

pub async fn deliveries_start_at_most_one_run(db: &TestDb) {
    let s = &db.store;
    assert_eq!(
        s.record_delivery(hook("hello", "d1"), "r1").await.unwrap(),
        None
    );
    assert_eq!(
        s.record_delivery(hook("hello", "d1"), "r2")
            .await
            .unwrap()
            .as_deref(),
        Some("r1")
    );
    // Same again with the same run: still the existing record.
    assert_eq!(
        s.record_delivery(hook("hello", "d1"), "r1")
            .await
            .unwrap()
            .as_deref(),
        Some("r1")
    );
    // Delivery ids are per workflow.
    assert_eq!(
        s.record_delivery(hook("other", "d1"), "r3").await.unwrap(),
        None
    );
    assert_eq!(
        s.record_delivery(hook("hello", "d2"), "r4").await.unwrap(),
        None
    );
    // ... and per trigger kind: the same id from another kind of sender is another delivery.
    for kind in ["gitlab", "webhook"] {
        let key = DeliveryKey {
            workflow: "hello",
            kind,
            id: "d1",
        };
        assert_eq!(s.record_delivery(key, kind).await.unwrap(), None);
        assert_eq!(
            s.record_delivery(key, "again").await.unwrap().as_deref(),
            Some(kind)
        );
    }
    assert_eq!(
        s.record_delivery(hook("hello", "d1"), "r5")
            .await
            .unwrap()
            .as_deref(),
        Some("r1")
    );
}

/// Runs recorded before secret inputs were sealed (migration 0005) are listed as unsealed by
/// migration 0007 until [`Store::seal_run_inputs`] rewrites them, once: a second call (another
/// server that read the same list) writes nothing. Runs recorded later are not listed.
pub async fn runs_recorded_before_sealing_are_listed_until_sealed_once(db: &TestDb) {
    let url = db.fresh_url().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut migrator = sqlx::migrate::Migrator::new(dir).await.unwrap();
    let before: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version < 5)
        .cloned()
        .collect();
    migrator.migrations = before.into();
    let connect_url = match url.strip_prefix("sqlite://") {
        Some(path) => {
            std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
            format!("{url}?mode=rwc")
        }
        None => url.clone(),
    };
    let mut conn = sqlx::AnyConnection::connect(&connect_url).await.unwrap();
    migrator.run_direct(&mut conn).await.unwrap();
    // As a server before 0005 recorded them: every input as given.
    for (id, inputs) in [("old", r#"{"token":"clear"}"#), ("none", "{}")] {
        sqlx::query(
            "INSERT INTO runs (id, workflow, status, inputs, created_at, revision) \
             VALUES ($1, 'deploy', 'succeeded', $2, '2026-01-01T00:00:00.000Z', 1)",
        )
        .bind(id)
        .bind(inputs)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.close().await.unwrap();

    let store = Store::open(&url).await.unwrap();
    store
        .insert_run(&run("new", "deploy", "queued", 1))
        .await
        .unwrap();
    let listed = store.unsealed_runs(10).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["old"]
    );
    assert_eq!(listed[0].inputs, json!({"token": "clear"}));
    assert_eq!(listed[0].secret_inputs, None);

    let masked = json!({"token": "***"});
    assert!(store
        .seal_run_inputs("old", &masked, Some("v1:sealed"))
        .await
        .unwrap());
    assert!(!store
        .seal_run_inputs("old", &json!({"token": "other"}), Some("v1:again"))
        .await
        .unwrap());
    assert!(!store.seal_run_inputs("new", &masked, None).await.unwrap());
    let old = store.get_run("old").await.unwrap().run;
    assert_eq!(old.inputs, masked);
    assert_eq!(old.secret_inputs.as_deref(), Some("v1:sealed"));
    assert_eq!(
        store.get_run("new").await.unwrap().run.inputs,
        json!({"who": "world"})
    );
    assert!(store.unsealed_runs(10).await.unwrap().is_empty());
    store.close().await;
}

/// A delivery recorded before delivery ids were scoped by kind (migration 0004) still counts, for
/// every kind, so its redelivery starts no second run.
pub async fn deliveries_recorded_before_kind_scoping_count_for_every_kind(db: &TestDb) {
    let url = db.fresh_url().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut migrator = sqlx::migrate::Migrator::new(dir).await.unwrap();
    let before: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version < 4)
        .cloned()
        .collect();
    // Every migration before the kind scoping (0003, the web UI's, included).
    assert_eq!(
        before.iter().map(|m| m.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    migrator.migrations = before.into();
    let connect_url = match url.strip_prefix("sqlite://") {
        Some(path) => {
            std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
            format!("{url}?mode=rwc")
        }
        None => url.clone(),
    };
    let mut conn = sqlx::AnyConnection::connect(&connect_url).await.unwrap();
    migrator.run_direct(&mut conn).await.unwrap();
    sqlx::query(
        "INSERT INTO deliveries (workflow, delivery, run_id, recorded_at) \
         VALUES ('hello', 'old', 'r0', '2026-01-01T00:00:00.000Z')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = Store::open(&url).await.unwrap();
    for kind in ["github", "gitlab", "webhook"] {
        let key = DeliveryKey {
            workflow: "hello",
            kind,
            id: "old",
        };
        assert_eq!(
            store.record_delivery(key, "r1").await.unwrap().as_deref(),
            Some("r0"),
            "{kind}"
        );
    }
    store.close().await;
}

/// Racers that each tried to record their run id for one delivery: `(run id, the id already
/// recorded)`. Exactly one found none (it won; its id is returned), and every other one was told
/// the winner's.
fn assert_one_winner(results: &[(String, Option<String>)]) -> &str {
    let winners: Vec<&String> = results
        .iter()
        .filter(|(_, got)| got.is_none())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (_, got) in results {
        if let Some(existing) = got {
            assert_eq!(existing, winners[0]);
        }
    }
    winners[0]
}

pub async fn concurrent_deliveries_record_once(db: &TestDb) {
    let mut tasks = Vec::new();
    for (si, store) in stores(db, 4).await.into_iter().enumerate() {
        for t in 0..4 {
            let store = store.clone();
            let run_id = format!("run-{si}-{t}");
            tasks.push(tokio::spawn(async move {
                let got = store
                    .record_delivery(hook("hello", "same"), &run_id)
                    .await
                    .unwrap();
                (run_id, got)
            }));
        }
    }
    let results = join_all(tasks).await;
    assert_one_winner(&results);
}

pub async fn cron_ticks_fire_once(db: &TestDb) {
    let s = &db.store;
    let tick = "2026-03-01T12:00:00Z";
    assert!(s.claim_cron_tick("hello", 0, tick).await.unwrap());
    assert!(!s.claim_cron_tick("hello", 0, tick).await.unwrap());
    // The same instant written differently is the same tick.
    assert!(!s
        .claim_cron_tick("hello", 0, "2026-03-01T13:00:00.000+01:00")
        .await
        .unwrap());
    // Another trigger, workflow or instant is another tick.
    assert!(s.claim_cron_tick("hello", 1, tick).await.unwrap());
    assert!(s.claim_cron_tick("other", 0, tick).await.unwrap());
    assert!(s
        .claim_cron_tick("hello", 0, "2026-03-01T12:01:00Z")
        .await
        .unwrap());
    let err = s.claim_cron_tick("hello", 0, "noon").await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

pub async fn concurrent_cron_tick_claims_fire_once(db: &TestDb) {
    const TICKS: i64 = 5;
    let mut tasks = Vec::new();
    for store in stores(db, 4).await {
        for _ in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut won = Vec::new();
                for m in 0..TICKS {
                    if store
                        .claim_cron_tick("nightly", 0, &at(m * 60_000))
                        .await
                        .unwrap()
                    {
                        won.push(m);
                    }
                }
                won
            }));
        }
    }
    let mut won: Vec<i64> = join_all(tasks).await.into_iter().flatten().collect();
    won.sort();
    assert_eq!(
        won,
        (0..TICKS).collect::<Vec<_>>(),
        "each tick exactly once"
    );
}

// ---- the run queue ---------------------------------------------------------------------------

pub async fn enqueue_run_queues_and_deduplicates_deliveries(db: &TestDb) {
    let s = &db.store;
    assert_eq!(s.count_queued().await.unwrap(), 0);
    let mut q1 = queued("q1", "hooked", 0, Some(3));
    // Whatever the record says, a new run is queued.
    q1.status = RunStatus::Running;
    q1.trigger = json!({"event": "push", "delivery": "d1", "payload": {"ref": "main"}});
    q1.parent = Some("p0".into());
    assert_eq!(
        s.enqueue_run(&q1, Some(hook("hooked", "d1")))
            .await
            .unwrap(),
        None
    );
    let stored = s.get_run("q1").await.unwrap().run;
    let mut expected = q1.clone();
    expected.status = RunStatus::Queued;
    assert_eq!(stored, expected);
    assert_eq!(s.count_queued().await.unwrap(), 1);

    // The same delivery again: the run it started, and nothing new.
    let q2 = queued("q2", "hooked", 1, Some(3));
    assert_eq!(
        s.enqueue_run(&q2, Some(hook("hooked", "d1")))
            .await
            .unwrap()
            .as_deref(),
        Some("q1")
    );
    assert!(matches!(
        s.get_run("q2").await,
        Err(StoreError::NotFound(_))
    ));
    // The delivery table is the one record_delivery uses.
    assert_eq!(
        s.record_delivery(hook("hooked", "d1"), "x")
            .await
            .unwrap()
            .as_deref(),
        Some("q1")
    );

    enqueue(s, &queued("q3", "hooked", 2, None)).await;
    assert_eq!(s.count_queued().await.unwrap(), 2);

    // A taken run id: Conflict, and the delivery is not recorded either.
    let err = s
        .enqueue_run(&queued("q1", "hooked", 3, None), Some(hook("hooked", "d2")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        s.record_delivery(hook("hooked", "d2"), "q4").await.unwrap(),
        None
    );

    // A limit below 1 would never run.
    let err = s
        .enqueue_run(&queued("q5", "hooked", 4, Some(0)), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("max_concurrency"), "{err}");
    assert_eq!(s.count_queued().await.unwrap(), 2);
}

pub async fn concurrent_enqueues_of_one_delivery_start_one_run(db: &TestDb) {
    let mut tasks = Vec::new();
    for (si, store) in stores(db, 4).await.into_iter().enumerate() {
        for t in 0..4 {
            let store = store.clone();
            let r = queued(&format!("dr-{si}-{t}"), "hooked", (si * 4 + t) as i64, None);
            tasks.push(tokio::spawn(async move {
                let got = store
                    .enqueue_run(&r, Some(hook("hooked", "abc")))
                    .await
                    .unwrap();
                (r.id, got)
            }));
        }
    }
    let results = join_all(tasks).await;
    let winner = assert_one_winner(&results);
    let runs = db.store.list_runs(&RunFilter::default()).await.unwrap();
    assert_eq!(ids(&runs), [winner]);
    assert_eq!(db.store.count_queued().await.unwrap(), 1);
}

pub async fn claim_takes_the_oldest_queued_run(db: &TestDb) {
    let s = &db.store;
    assert_eq!(claim(s, "A", 0, LEASE).await, None);
    // A local run (no lease) is never claimed, not even as "expired".
    s.insert_run(&run("local", "hello", "running", 0))
        .await
        .unwrap();
    let qb = queued("q-b", "hello", 2000, None);
    let qa = queued("q-a", "hello", 1000, None);
    let qc = queued("q-c", "other", 1000, None);
    for r in [&qb, &qc, &qa] {
        enqueue(s, r).await;
    }
    assert_eq!(s.count_queued().await.unwrap(), 3);

    let first = claim(s, "A", 0, LEASE).await.unwrap();
    assert!(!first.recovered);
    let mut expected = qa.clone();
    expected.status = RunStatus::Running;
    // Everything else as enqueued; started_at is the driver's to set.
    assert_eq!(first.run, expected);
    assert_eq!(status_of(s, "q-a").await, "running");
    assert_eq!(s.count_queued().await.unwrap(), 2);
    // Same created_at: by id.
    assert_eq!(claimed_id(s, "B", 0, LEASE).await.as_deref(), Some("q-c"));
    assert_eq!(claimed_id(s, "A", 0, LEASE).await.as_deref(), Some("q-b"));
    assert_eq!(claim(s, "A", 0, LEASE).await, None);
    assert_eq!(s.count_queued().await.unwrap(), 0);
    // Far in the future every lease has expired: the three are recovered, the local run never.
    let mut recovered = BTreeSet::new();
    while let Some(c) = claim(s, "C", i64::MAX, i64::MAX).await {
        assert!(c.recovered, "{}", c.run.id);
        recovered.insert(c.run.id);
    }
    assert_eq!(
        recovered,
        BTreeSet::from(["q-a".into(), "q-b".into(), "q-c".into()])
    );
    assert_eq!(status_of(s, "local").await, "running");
}

pub async fn claim_respects_per_workflow_limits_without_blocking_others(db: &TestDb) {
    let s = &db.store;
    // A local run of the same workflow (no lease) does not count against the limit.
    s.insert_run(&run("local", "limited", "running", 0))
        .await
        .unwrap();
    for (i, id) in ["l1", "l2", "l3"].iter().enumerate() {
        enqueue(s, &queued(id, "limited", i as i64, Some(2))).await;
    }
    enqueue(s, &queued("f1", "free", 10, None)).await;
    enqueue(s, &queued("o1", "one", 11, Some(1))).await;
    enqueue(s, &queued("o2", "one", 12, Some(1))).await;

    assert_eq!(claimed_id(s, "A", 0, LEASE).await.as_deref(), Some("l1"));
    assert_eq!(claimed_id(s, "B", 0, LEASE).await.as_deref(), Some("l2"));
    // l3 waits (2 running); later runs of other workflows go ahead.
    assert_eq!(claimed_id(s, "A", 0, LEASE).await.as_deref(), Some("f1"));
    assert_eq!(claimed_id(s, "A", 0, LEASE).await.as_deref(), Some("o1"));
    assert_eq!(claim(s, "A", 0, LEASE).await, None);
    assert_eq!(status_of(s, "l3").await, "queued");
    assert_eq!(running_of(s, "limited").await, 3); // l1, l2 and the local run

    // One ends: the next may start.
    finish(s, "l1", "A").await;
    assert_eq!(claimed_id(s, "B", 0, LEASE).await.as_deref(), Some("l3"));
    finish(s, "o1", "A").await;
    assert_eq!(claimed_id(s, "B", 0, LEASE).await.as_deref(), Some("o2"));
    assert_eq!(claim(s, "B", 0, LEASE).await, None);
}

pub async fn claim_respects_max_owned(db: &TestDb) {
    let s = &db.store;
    for i in 0..6 {
        enqueue(s, &queued(&format!("m{i}"), "hello", i, None)).await;
    }
    let take = |owner: &'static str, now: i64, lease: i64, max: Option<i64>| {
        let s = s.clone();
        async move { s.claim_run(owner, now, lease, max).await.unwrap() }
    };
    assert!(take("A", 0, 1000, Some(2)).await.is_some());
    assert!(take("A", 0, 1000, Some(2)).await.is_some());
    assert_eq!(take("A", 0, 1000, Some(2)).await, None);
    assert_eq!(take("A", 0, 1000, Some(0)).await, None);
    // Other owners are not affected.
    assert_eq!(take("B", 0, 100_000, Some(1)).await.unwrap().run.id, "m2");
    assert_eq!(take("B", 0, 100_000, Some(1)).await, None);
    // When one of A's runs is over, A has room again.
    finish(s, "m0", "A").await;
    assert_eq!(take("A", 0, 1000, Some(2)).await.unwrap().run.id, "m3");
    // A full owner recovers nothing either: A's leases (1000) expire, B is full...
    assert_eq!(take("B", 2000, 100_000, Some(1)).await, None);
    // ...and C, with room, recovers one.
    let c = take("C", 2000, 100_000, Some(1)).await.unwrap();
    assert!(c.recovered);
    assert_eq!(take("C", 2000, 100_000, Some(1)).await, None);
}

pub async fn expired_leases_are_recovered_by_another_owner(db: &TestDb) {
    let s = &db.store;
    enqueue(s, &queued("r1", "hello", 0, None)).await;
    enqueue(s, &queued("r2", "hello", 1, None)).await;
    let a = claim(s, "A", 0, 1000).await.unwrap();
    assert_eq!(a.run.id, "r1");
    // The driver starts it.
    let mut started = a.run.clone();
    started.started_at = Some(at(1));
    s.update_run(&started).await.unwrap();

    // Before the lease ends, r1 stays A's: B gets the queued r2.
    assert_eq!(
        claimed_id(s, "B", 999, 100_000).await.as_deref(),
        Some("r2")
    );
    // At the instant it ends, still A's.
    assert_eq!(claim(s, "C", 1000, 5000).await, None);
    // After: recovered by C, still running, with what the driver wrote.
    let c = claim(s, "C", 1001, 5000).await.unwrap();
    assert!(c.recovered);
    assert_eq!(c.run, started);
    assert_eq!(status_of(s, "r1").await, "running");

    // A no longer holds r1: its renewal does not extend it, its release does not drop C's claim.
    assert!(s.renew_leases("A", 1_000_000).await.unwrap().is_empty());
    s.release_run("r1", "A").await.unwrap();
    assert_eq!(claim(s, "D", 4999, 6000).await, None);
    // C's lease (5000) ends: D recovers it; B's r2 (100000) is not touched.
    let d = claim(s, "D", 5001, 6000).await.unwrap();
    assert_eq!((d.run.id.as_str(), d.recovered), ("r1", true));
    assert_eq!(claim(s, "D", 5001, 6000).await, None);

    // Recovery comes before queued runs.
    enqueue(s, &queued("r3", "hello", 2, None)).await;
    let e = claim(s, "E", 6001, 120_000).await.unwrap();
    assert_eq!((e.run.id.as_str(), e.recovered), ("r1", true));
    assert_eq!(
        claimed_id(s, "E", 6001, 110_000).await.as_deref(),
        Some("r3")
    );
    // The oldest lease first: r2 (100000), r3 (110000), r1 (120000).
    for expected in ["r2", "r3", "r1"] {
        let f = claim(s, "F", 200_000, 300_000).await.unwrap();
        assert_eq!((f.run.id.as_str(), f.recovered), (expected, true));
    }
    assert_eq!(claim(s, "F", 200_000, 300_000).await, None);
}

/// A server that lost a run (frozen or cut off past its lease while another recovered it)
/// cannot record anything for it any more: the owner check is in the same transaction.
pub async fn writes_as_an_owner_are_refused_once_another_holds_the_run(db: &TestDb) {
    let s = &db.store;
    enqueue(s, &queued("r1", "hello", 0, None)).await;
    let a = claim(s, "A", 0, 1000).await.unwrap();
    let mut started = a.run.clone();
    started.started_at = Some(at(1));
    s.update_run_as(Some("A"), &started).await.unwrap();
    let first = step("r1", 0, "say", "say");
    s.record_progress_as(
        Some("A"),
        std::slice::from_ref(&first),
        &[attempt("r1", "say", 1)],
    )
    .await
    .unwrap();

    // B recovers it after A's lease; A's late writes change nothing.
    let b = claim(s, "B", 1001, 5000).await.unwrap();
    assert!(b.recovered);
    let before = s.get_run("r1").await.unwrap();
    let mut late = first.clone();
    late.status = StepStatus::Failed;
    late.error = Some("from a server that no longer holds the run".into());
    let err = s
        .record_progress_as(Some("A"), &[late], &[attempt("r1", "say", 2)])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotHeld { run, holder } if run == "r1" && holder.as_deref() == Some("B")),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "run r1 is now held by B");
    let mut finished = started.clone();
    finished.status = RunStatus::Failed;
    let err = s.update_run_as(Some("A"), &finished).await.unwrap_err();
    assert!(matches!(err, StoreError::NotHeld { .. }), "{err:?}");
    assert_eq!(s.get_run("r1").await.unwrap(), before);

    // The holder writes; a missing run is not found either way.
    s.update_run_as(Some("B"), &finished).await.unwrap();
    assert_eq!(status_of(s, "r1").await, "failed");
    let err = s
        .update_run_as(Some("B"), &queued("nope", "hello", 0, None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

pub async fn renew_leases_extends_and_reports_cancel_requests(db: &TestDb) {
    let s = &db.store;
    for i in 1..=3 {
        enqueue(s, &queued(&format!("r{i}"), "hello", i, None)).await;
    }
    assert_eq!(claimed_id(s, "A", 0, 1000).await.as_deref(), Some("r1"));
    assert_eq!(claimed_id(s, "A", 0, 1000).await.as_deref(), Some("r2"));
    assert_eq!(claimed_id(s, "B", 0, 1000).await.as_deref(), Some("r3"));
    assert!(s.renew_leases("nobody", 5000).await.unwrap().is_empty());

    assert!(!s.request_cancel("r2").await.unwrap());
    assert_eq!(s.renew_leases("A", 5000).await.unwrap(), ["r2"]);
    assert!(!s.request_cancel("r1").await.unwrap());
    assert_eq!(s.renew_leases("A", 5000).await.unwrap(), ["r1", "r2"]);
    assert!(s.renew_leases("B", 5000).await.unwrap().is_empty());
    // Renewed: nothing to recover at 2000.
    assert_eq!(claim(s, "C", 2000, 10_000).await, None);

    // r1 ends; A renews what is left; B stops renewing.
    finish(s, "r1", "A").await;
    assert_eq!(s.renew_leases("A", 9000).await.unwrap(), ["r2"]);
    let c = claim(s, "C", 6000, 10_000).await.unwrap();
    assert_eq!((c.run.id.as_str(), c.recovered), ("r3", true));
    assert_eq!(claim(s, "C", 6000, 10_000).await, None);
    // The cancel flag travels with the run to its new owner.
    let d = claim(s, "D", 9001, 20_000).await.unwrap();
    assert_eq!((d.run.id.as_str(), d.recovered), ("r2", true));
    assert_eq!(s.renew_leases("D", 30_000).await.unwrap(), ["r2"]);
    // A learns that it lost r2 (and holds nothing now); C still holds r3.
    let a = s.renew_leases_report("A", 30_000).await.unwrap();
    assert_eq!(a, LeaseRenewal::default());
    let c = s.renew_leases_report("C", 30_000).await.unwrap();
    assert_eq!(
        (c.held.as_slice(), c.cancel_requested.len()),
        (&["r3".to_string()][..], 0)
    );
    let d = s.renew_leases_report("D", 30_000).await.unwrap();
    assert_eq!(
        (d.held, d.cancel_requested),
        (vec!["r2".to_string()], vec!["r2".to_string()])
    );
}

pub async fn release_run_drops_the_claim(db: &TestDb) {
    let s = &db.store;
    enqueue(s, &queued("r1", "hello", 0, Some(1))).await;
    enqueue(s, &queued("r2", "other", 1, Some(1))).await;
    enqueue(s, &queued("r3", "other", 2, Some(1))).await;
    assert_eq!(claimed_id(s, "A", 0, 1000).await.as_deref(), Some("r1"));
    finish(s, "r1", "A").await;
    // Over and released: never recovered.
    assert_eq!(
        claimed_id(s, "B", i64::MAX - 1, i64::MAX).await.as_deref(),
        Some("r2")
    );
    assert_eq!(status_of(s, "r1").await, "succeeded");
    // Releasing again, or by someone else, changes nothing.
    s.release_run("r1", "A").await.unwrap();
    s.release_run("r2", "A").await.unwrap();
    assert!(s.renew_leases("B", 5000).await.unwrap().is_empty());
    assert_eq!(claim(s, "C", 4999, 10_000).await, None);
    let err = s.release_run("ghost", "A").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(id) if id == "ghost"),
        "{err:?}"
    );

    // Released while still running: handed back, recovered by the next claim at once, and it
    // still counts against its workflow's limit meanwhile (r3 waits).
    s.release_run("r2", "B").await.unwrap();
    let c = claim(s, "C", 1, 10_000).await.unwrap();
    assert_eq!((c.run.id.as_str(), c.recovered), ("r2", true));
    assert_eq!(claim(s, "C", 1, 10_000).await, None);
    assert_eq!(status_of(s, "r3").await, "queued");
}

pub async fn request_cancel_cancels_queued_at_once_and_flags_running(db: &TestDb) {
    let s = &db.store;
    enqueue(s, &queued("q", "hello", 0, None)).await;
    enqueue(s, &queued("r", "hello", 1, None)).await;
    s.insert_run(&run("done", "hello", "succeeded", 2))
        .await
        .unwrap();

    assert!(s.request_cancel("q").await.unwrap());
    let q = s.get_run("q").await.unwrap().run;
    assert_eq!(q.status, RunStatus::Cancelled);
    let finished = q.finished_at.clone().unwrap();
    assert_eq!(normalize_timestamp(&finished).unwrap(), finished);
    assert_eq!(s.count_queued().await.unwrap(), 1);
    // Never claimed.
    assert_eq!(claimed_id(s, "A", 0, 1000).await.as_deref(), Some("r"));
    assert_eq!(claim(s, "A", 0, 1000).await, None);

    // Running: flagged for the owner, status unchanged; asking twice is the same.
    assert!(!s.request_cancel("r").await.unwrap());
    assert!(!s.request_cancel("r").await.unwrap());
    assert_eq!(status_of(s, "r").await, "running");
    assert_eq!(s.renew_leases("A", 2000).await.unwrap(), ["r"]);

    // Over: nothing changes.
    assert!(!s.request_cancel("q").await.unwrap());
    assert_eq!(
        s.get_run("q").await.unwrap().run.finished_at,
        Some(finished)
    );
    assert!(!s.request_cancel("done").await.unwrap());
    assert_eq!(
        s.get_run("done").await.unwrap().run,
        run("done", "hello", "succeeded", 2)
    );

    let err = s.request_cancel("ghost").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(id) if id == "ghost"),
        "{err:?}"
    );
}

pub async fn update_run_keeps_the_queue_columns_and_what_the_run_is(db: &TestDb) {
    let s = &db.store;
    let mut r1 = queued("r1", "solo", 0, Some(1));
    r1.revision = Some(2);
    r1.parent = Some("r0".into());
    r1.trigger = json!({"event": "cron", "tick": "2026-03-01T12:00:00.000Z"});
    r1.secret_inputs = Some("v1:c2VhbGVk".into());
    enqueue(s, &r1).await;
    enqueue(s, &queued("r2", "solo", 1, Some(1))).await;
    assert_eq!(claimed_id(s, "A", 0, 1000).await.as_deref(), Some("r1"));
    assert!(!s.request_cancel("r1").await.unwrap());

    // The driver writes what it knows; fields that describe the run are not its to change.
    let mut update = r1.clone();
    update.status = RunStatus::Running;
    update.started_at = Some(at(5));
    update.revision = None;
    update.parent = None;
    update.trigger = json!(null);
    update.max_concurrency = None;
    update.inputs = json!({"changed": true});
    update.secret_inputs = None;
    s.update_run(&update).await.unwrap();
    let mut expected = r1.clone();
    expected.status = RunStatus::Running;
    expected.started_at = Some(at(5));
    assert_eq!(s.get_run("r1").await.unwrap().run, expected);

    // Owner, lease and cancel flag survive the update...
    assert_eq!(s.renew_leases("A", 2000).await.unwrap(), ["r1"]);
    assert_eq!(claim(s, "B", 1500, 10_000).await, None);
    // ...and so does the limit (r2 waits behind the running r1).
    assert_eq!(status_of(s, "r2").await, "queued");
}

pub async fn list_runs_after_pages_newest_first_with_filters(db: &TestDb) {
    let s = &db.store;
    let specs = [
        ("a", "build", "succeeded", 1000),
        ("b", "deploy", "failed", 2000),
        ("c", "build", "failed", 3000),
        ("d", "build", "running", 3000),
        ("e", "deploy", "succeeded", 3000),
        ("f", "build", "succeeded", 4000),
        ("g", "build", "queued", 5000),
    ];
    for (id, wf, st, ms) in specs {
        s.insert_run(&run(id, wf, st, ms)).await.unwrap();
    }
    let page_through = |workflow: Option<&'static str>, status: Option<&'static str>, size| {
        let s = s.clone();
        async move {
            let filter = RunFilter {
                workflow: workflow.map(String::from),
                status: status.map(|s| s.parse().unwrap()),
                limit: Some(size),
                ..RunFilter::default()
            };
            let mut all = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = s.list_runs_after(&filter, after.as_deref()).await.unwrap();
                assert!(page.len() as i64 <= size);
                let Some(last) = page.last() else { break };
                after = Some(last.id.clone());
                all.extend(page);
            }
            let unpaged = s
                .list_runs(&RunFilter {
                    limit: None,
                    ..filter
                })
                .await
                .unwrap();
            assert_eq!(all, unpaged, "{workflow:?} {status:?} pages of {size}");
            all.into_iter().map(|r| r.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        page_through(None, None, 2).await,
        ["g", "f", "e", "d", "c", "b", "a"]
    );
    assert_eq!(page_through(None, None, 1).await.len(), 7);
    assert_eq!(
        page_through(Some("build"), None, 2).await,
        ["g", "f", "d", "c", "a"]
    );
    assert_eq!(page_through(None, Some("failed"), 1).await, ["c", "b"]);
    assert_eq!(
        page_through(Some("deploy"), Some("succeeded"), 5).await,
        ["e"]
    );

    let all = RunFilter::default();
    // No limit: everything after the anchor.
    assert_eq!(
        ids(&s.list_runs_after(&all, Some("d")).await.unwrap()),
        ["c", "b", "a"]
    );
    assert!(s.list_runs_after(&all, Some("a")).await.unwrap().is_empty());
    // The anchor need not match the filters.
    let build = RunFilter {
        workflow: Some("build".into()),
        ..RunFilter::default()
    };
    assert_eq!(
        ids(&s.list_runs_after(&build, Some("e")).await.unwrap()),
        ["d", "c", "a"]
    );
    // Newer runs do not shift later pages.
    s.insert_run(&run("h", "build", "queued", 9000))
        .await
        .unwrap();
    assert_eq!(
        ids(&s.list_runs_after(&all, Some("e")).await.unwrap()),
        ["d", "c", "b", "a"]
    );
    let err = s.list_runs_after(&all, Some("nope")).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(id) if id == "nope"),
        "{err:?}"
    );
    // A prefix is not an anchor.
    assert!(matches!(
        s.list_runs_after(&all, Some("")).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn count_attempt_logs_counts_one_attempt(db: &TestDb) {
    let s = &db.store;
    s.insert_run(&run("cnt", "hello", "running", 0))
        .await
        .unwrap();
    s.insert_run(&run("cnt2", "hello", "running", 0))
        .await
        .unwrap();
    let mut lines = Vec::new();
    for (seq, key, attempt) in [
        (1, "s", 1),
        (2, "s", 1),
        (3, "t", 1),
        (4, "s", 1),
        (5, "s", 2),
        (6, "s", 2),
    ] {
        let mut l = line("cnt", seq, key, "x");
        l.attempt = attempt;
        lines.push(l);
    }
    s.append_logs(&lines).await.unwrap();
    s.append_logs(&[line("cnt2", 1, "s", "other run")])
        .await
        .unwrap();
    assert_eq!(s.count_attempt_logs("cnt", "s", 1).await.unwrap(), 3);
    assert_eq!(s.count_attempt_logs("cnt", "s", 2).await.unwrap(), 2);
    assert_eq!(s.count_attempt_logs("cnt", "t", 1).await.unwrap(), 1);
    assert_eq!(s.count_attempt_logs("cnt", "s", 3).await.unwrap(), 0);
    assert_eq!(s.count_attempt_logs("nope", "s", 1).await.unwrap(), 0);
}

// ---- the run queue under concurrency ----------------------------------------------------------

pub async fn concurrent_claims_take_each_queued_run_exactly_once(db: &TestDb) {
    const RUNS: usize = 50;
    let mut expected = BTreeSet::new();
    for i in 0..RUNS {
        let id = format!("run-{i:02}");
        enqueue(
            &db.store,
            &queued(&id, &format!("wf{}", i % 3), i as i64, None),
        )
        .await;
        expected.insert(id);
    }
    let mut tasks = Vec::new();
    for (si, store) in stores(db, 4).await.into_iter().enumerate() {
        for t in 0..4 {
            let store = store.clone();
            let owner = format!("server-{si}");
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(c) = store.claim_run(&owner, 0, LEASE, None).await.unwrap() {
                    assert!(!c.recovered);
                    assert_eq!(c.run.status, RunStatus::Running);
                    mine.push(c.run.id);
                    if t % 2 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                mine
            }));
        }
    }
    let claimed: Vec<String> = join_all(tasks).await.into_iter().flatten().collect();
    assert_eq!(claimed.len(), RUNS, "each run claimed exactly once");
    assert_eq!(claimed.into_iter().collect::<BTreeSet<_>>(), expected);
    assert_eq!(db.store.count_queued().await.unwrap(), 0);
    let running = RunFilter {
        status: Some(RunStatus::Running),
        ..RunFilter::default()
    };
    assert_eq!(db.store.list_runs(&running).await.unwrap().len(), RUNS);
}

pub async fn concurrent_claims_never_exceed_a_workflow_limit(db: &TestDb) {
    let limits: [(&str, Option<i64>, usize); 3] = [
        ("limited", Some(2), 20),
        ("one", Some(1), 8),
        ("free", None, 12),
    ];
    let mut total = 0;
    for (wf, max, n) in limits {
        for i in 0..n {
            let created = (i * 3 + total) as i64;
            enqueue(
                &db.store,
                &queued(&format!("{wf}-{i:02}"), wf, created, max),
            )
            .await;
        }
        total += n;
    }
    let mut tasks = Vec::new();
    for (si, store) in stores(db, 4).await.into_iter().enumerate() {
        for t in 0..3 {
            let store = store.clone();
            let owner = format!("server-{si}-{t}");
            tasks.push(tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    match store.claim_run(&owner, 0, LEASE, None).await.unwrap() {
                        Some(c) => {
                            let wf = c.run.workflow.clone();
                            // Checked while the run is held: other claimers race meanwhile.
                            let running = running_of(&store, &wf).await as i64;
                            if let Some(max) = c.run.max_concurrency {
                                assert!(running <= max, "{wf}: {running} running, limit {max}");
                            }
                            tokio::task::yield_now().await;
                            finish(&store, &c.run.id, &owner).await;
                            done.push(c.run.id);
                        }
                        // Nothing claimable now: finished, or the rest waits for a limit.
                        None if store.count_queued().await.unwrap() == 0 => break,
                        None => tokio::task::yield_now().await,
                    }
                }
                done
            }));
        }
    }
    let done: Vec<String> = join_all(tasks).await.into_iter().flatten().collect();
    assert_eq!(done.len(), total);
    assert_eq!(done.iter().collect::<BTreeSet<_>>().len(), total);
    let succeeded = RunFilter {
        status: Some(RunStatus::Succeeded),
        ..RunFilter::default()
    };
    assert_eq!(db.store.list_runs(&succeeded).await.unwrap().len(), total);
}

pub async fn concurrent_recovery_claims_recover_each_run_once(db: &TestDb) {
    const RUNS: usize = 12;
    for i in 0..RUNS {
        enqueue(
            &db.store,
            &queued(&format!("run-{i:02}"), "hello", i as i64, None),
        )
        .await;
    }
    // One server claims everything, then dies (stops renewing at lease 1000).
    for _ in 0..RUNS {
        assert!(claim(&db.store, "dead", 0, 1000).await.is_some());
    }
    let mut tasks = Vec::new();
    for (si, store) in stores(db, 4).await.into_iter().enumerate() {
        for t in 0..4 {
            let store = store.clone();
            let owner = format!("heir-{si}-{t}");
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(c) = store.claim_run(&owner, 2000, 60_000, None).await.unwrap() {
                    assert!(c.recovered, "{}", c.run.id);
                    mine.push(c.run.id);
                }
                mine
            }));
        }
    }
    let recovered: Vec<String> = join_all(tasks).await.into_iter().flatten().collect();
    assert_eq!(recovered.len(), RUNS, "{recovered:?}");
    assert_eq!(recovered.iter().collect::<BTreeSet<_>>().len(), RUNS);
    assert!(db
        .store
        .renew_leases("dead", 1_000_000)
        .await
        .unwrap()
        .is_empty());
}

pub async fn concurrent_claims_respect_max_owned(db: &TestDb) {
    for i in 0..20 {
        enqueue(&db.store, &queued(&format!("run-{i:02}"), "hello", i, None)).await;
    }
    let mut tasks = Vec::new();
    for store in stores(db, 2).await {
        for _ in 0..6 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = 0;
                for _ in 0..3 {
                    if store
                        .claim_run("solo", 0, LEASE, Some(3))
                        .await
                        .unwrap()
                        .is_some()
                    {
                        got += 1;
                    }
                }
                got
            }));
        }
    }
    let got: usize = join_all(tasks).await.into_iter().sum();
    assert_eq!(got, 3, "one owner, at most 3 runs");
    assert_eq!(db.store.count_queued().await.unwrap(), 17);
}

/// Every future of the server's API is `Send` (a compile-time property), and the queue works on
/// an in-memory store (one connection).
#[tokio::test]
async fn every_service_call_can_run_on_a_spawned_task() {
    let task = tokio::spawn(async move {
        let s = Store::open("sqlite::memory:").await.unwrap();
        s.put_workflow_revision("hello", "name: hello")
            .await
            .unwrap();
        s.list_workflows().await.unwrap();
        s.get_workflow_revision("hello", None).await.unwrap();
        s.list_workflow_revisions("hello").await.unwrap();
        s.put_component("c", "1.0.0", "x").await.unwrap();
        s.list_components().await.unwrap();
        s.get_component("c", "1.0.0").await.unwrap();
        s.put_secret("k", "v").await.unwrap();
        s.get_secret("k").await.unwrap();
        s.list_secret_names().await.unwrap();
        s.delete_secret("k").await.unwrap();
        let token = TokenRecord {
            id: "t".into(),
            name: "t".into(),
            hash: "h".into(),
            role: "admin".into(),
            created_at: at(0),
        };
        s.insert_token(&token).await.unwrap();
        s.find_token("h").await.unwrap();
        s.list_tokens().await.unwrap();
        s.has_token_with_role("admin").await.unwrap();
        s.delete_token_unless_last("t", "admin").await.unwrap();
        s.record_delivery(hook("hello", "d"), "x").await.unwrap();
        s.claim_cron_tick("hello", 0, &at(0)).await.unwrap();
        s.enqueue_run(&queued("q", "hello", 0, Some(1)), Some(hook("hello", "e")))
            .await
            .unwrap();
        s.count_queued().await.unwrap();
        let c = s.claim_run("me", 0, 100, Some(1)).await.unwrap().unwrap();
        s.request_cancel(&c.run.id).await.unwrap();
        let cancel = s.renew_leases("me", 200).await.unwrap();
        s.renew_leases_report("me", 200).await.unwrap();
        s.release_run(&c.run.id, "me").await.unwrap();
        s.list_runs_after(&RunFilter::default(), Some("q"))
            .await
            .unwrap();
        s.count_attempt_logs("q", "s", 1).await.unwrap();
        s.close().await;
        cancel
    });
    assert_eq!(task.await.unwrap(), ["q"]);
}
