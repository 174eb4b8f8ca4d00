//! Conformance cases of what the web UI needs (`ui.rs`, migration `0003_ui.sql`): sessions
//! (hashed, expiring, capped per token, gone with their token), revisions saved with component
//! bindings and conflict detection, and the dashboard's summaries. Time is virtual (sessions take
//! `now_ms` as an argument).

use std::collections::BTreeMap;

use co_store::{RevisionSave, SessionRecord, TokenRecord};

use super::service::{enqueue, join_all, queued, stores};
use super::*;

fn token(id: &str) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        name: format!("{id} (test)"),
        hash: format!("hash-of-{id}"),
        role: "viewer".into(),
        created_at: at(0),
    }
}

fn session(hash: &str, token_id: &str, expires_at_ms: i64) -> SessionRecord {
    SessionRecord {
        hash: hash.into(),
        token_id: token_id.into(),
        created_at: at(0),
        expires_at_ms,
    }
}

pub async fn sessions_are_found_by_hash_until_they_expire(db: &TestDb) {
    let s = &db.store;
    s.insert_token(&token("t1")).await.unwrap();
    s.insert_session(&session("h1", "t1", 1_000), 0, 5)
        .await
        .unwrap();
    let (found, tok) = s.find_session("h1", 999).await.unwrap().unwrap();
    assert_eq!(found, session("h1", "t1", 1_000));
    assert_eq!(tok.id, "t1");
    assert_eq!(tok.hash, "hash-of-t1");
    assert_eq!(tok.role, "viewer");
    // Expired at its expiry instant; unknown hashes find nothing.
    assert!(s.find_session("h1", 1_000).await.unwrap().is_none());
    assert!(s.find_session("nope", 0).await.unwrap().is_none());
    // Opening another session removes expired ones.
    s.insert_session(&session("h2", "t1", 5_000), 2_000, 5)
        .await
        .unwrap();
    assert_eq!(s.count_sessions("t1", 0).await.unwrap(), 1);
    // Ended sessions are gone; ending twice says so.
    assert!(s.delete_session("h2").await.unwrap());
    assert!(!s.delete_session("h2").await.unwrap());
    assert!(s.find_session("h2", 2_000).await.unwrap().is_none());
    // A session for a token that does not exist is refused, as is a taken hash.
    let missing = s.insert_session(&session("h3", "t9", 9_000), 0, 5).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    s.insert_session(&session("h4", "t1", 9_000), 0, 5)
        .await
        .unwrap();
    let taken = s.insert_session(&session("h4", "t1", 9_000), 0, 5).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    let zero = s.insert_session(&session("h5", "t1", 9_000), 0, 0).await;
    assert!(matches!(zero, Err(StoreError::Invalid(_))), "{zero:?}");
}

pub async fn a_token_keeps_at_most_its_cap_of_sessions_and_they_end_with_it(db: &TestDb) {
    let s = &db.store;
    s.insert_token(&token("t1")).await.unwrap();
    s.insert_token(&token("t2")).await.unwrap();
    for i in 0..5 {
        s.insert_session(&session(&format!("a{i}"), "t1", 10_000 + i), 0, 3)
            .await
            .unwrap();
    }
    s.insert_session(&session("b0", "t2", 10_000), 0, 3)
        .await
        .unwrap();
    // The three newest of t1 are left; t2's is untouched.
    assert_eq!(s.count_sessions("t1", 0).await.unwrap(), 3);
    for (hash, live) in [("a0", false), ("a1", false), ("a2", true), ("a4", true)] {
        assert_eq!(
            s.find_session(hash, 0).await.unwrap().is_some(),
            live,
            "{hash}"
        );
    }
    assert!(s.find_session("b0", 0).await.unwrap().is_some());
    // Deleting a token ends its sessions.
    assert_eq!(
        s.delete_token_unless_last("t1", "admin").await.unwrap(),
        co_store::TokenDeletion::Deleted
    );
    assert_eq!(s.count_sessions("t1", 0).await.unwrap(), 0);
    assert!(s.find_session("a4", 0).await.unwrap().is_none());
    assert!(s.find_session("b0", 0).await.unwrap().is_some());
}

pub async fn revisions_keep_their_bindings_and_conditional_saves_detect_conflicts(db: &TestDb) {
    let s = &db.store;
    let bindings = BTreeMap::from([("./c/up".to_string(), "up@1.0.0".to_string())]);
    // Create-only.
    let RevisionSave::Stored(one) = s
        .save_workflow_revision("w", "name: w # 1\n", &bindings, Some(0))
        .await
        .unwrap()
    else {
        panic!("a new workflow must be stored");
    };
    assert_eq!(
        (one.revision, one.components.clone()),
        (1, bindings.clone())
    );
    let again = s
        .save_workflow_revision("w", "name: w # other\n", &bindings, Some(0))
        .await
        .unwrap();
    match again {
        RevisionSave::Conflict(Some(current)) => assert_eq!(current, one),
        other => panic!("{other:?}"),
    }
    // Based on the latest: stored; based on an old one: a conflict naming the latest.
    let RevisionSave::Stored(two) = s
        .save_workflow_revision("w", "name: w # 2\n", &BTreeMap::new(), Some(1))
        .await
        .unwrap()
    else {
        panic!("a save based on the latest revision must be stored");
    };
    assert_eq!(two.revision, 2);
    assert!(two.components.is_empty());
    match s
        .save_workflow_revision("w", "name: w # stale\n", &bindings, Some(1))
        .await
        .unwrap()
    {
        RevisionSave::Conflict(Some(current)) => assert_eq!(current.revision, 2),
        other => panic!("{other:?}"),
    }
    match s
        .save_workflow_revision("nope", "name: nope\n", &bindings, Some(3))
        .await
        .unwrap()
    {
        RevisionSave::Conflict(None) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.get_workflow_revision("nope", None).await,
        Err(StoreError::NotFound(_))
    ));
    // Nothing of the refused saves was stored; the bindings read back per revision.
    let list = s.list_workflow_revisions("w").await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].components, bindings);
    assert_eq!(s.get_workflow_revision("w", Some(1)).await.unwrap(), one);
    // An unconditional save still counts up.
    let three = s.put_workflow_revision("w", "name: w # 3\n").await.unwrap();
    assert_eq!(three.revision, 3);
    assert_eq!(s.list_workflows().await.unwrap()[0].latest_revision, 3);
}

pub async fn concurrent_saves_on_one_base_revision_store_exactly_one(db: &TestDb) {
    db.store
        .put_workflow_revision("w", "name: w\n")
        .await
        .unwrap();
    let stores = stores(db, 4).await;
    let mut tasks = Vec::new();
    for (i, store) in stores.into_iter().enumerate() {
        for j in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let text = format!("name: w # {i}.{j}\n");
                store
                    .save_workflow_revision("w", &text, &BTreeMap::new(), Some(1))
                    .await
                    .unwrap()
            }));
        }
    }
    let outcomes = join_all(tasks).await;
    let stored: Vec<&RevisionSave> = outcomes
        .iter()
        .filter(|o| matches!(o, RevisionSave::Stored(_)))
        .collect();
    assert_eq!(stored.len(), 1, "{outcomes:?}");
    for o in &outcomes {
        if let RevisionSave::Conflict(current) = o {
            assert_eq!(current.as_ref().map(|c| c.revision), Some(2));
        }
    }
    assert_eq!(
        db.store.list_workflow_revisions("w").await.unwrap().len(),
        2
    );
}

pub async fn dashboard_summaries_and_the_trigger_filter(db: &TestDb) {
    let s = &db.store;
    for name in ["a", "b", "never"] {
        s.put_workflow_revision(name, &format!("name: {name}\n"))
            .await
            .unwrap();
    }
    let mut r1 = run("r1", "a", "succeeded", 10);
    r1.trigger = json!({"event": "cli"});
    let mut r2 = run("r2", "a", "failed", 20);
    r2.trigger = json!({"payload": {"event": "cron"}, "event": "cron"});
    let mut r3 = run("r3", "b", "running", 5);
    r3.trigger = json!({"event": "api"});
    let r4 = run("r4", "local-only", "succeeded", 30);
    for r in [&r1, &r2, &r3, &r4] {
        s.insert_run(r).await.unwrap();
    }
    enqueue(s, &queued("q1", "b", 40, None)).await;
    enqueue(s, &queued("q2", "b", 50, None)).await;
    let mut latest: Vec<(String, String)> = s
        .latest_runs_of_workflows()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.workflow, r.id))
        .collect();
    latest.sort();
    assert_eq!(
        latest,
        [("a".into(), "r2".into()), ("b".into(), "q2".into())]
    );
    let depth = s.queue_depth().await.unwrap();
    assert_eq!((depth.queued, depth.running), (2, 1));
    let by_trigger = |event: &str| {
        let filter = RunFilter {
            trigger: Some(event.to_string()),
            ..RunFilter::default()
        };
        async move {
            s.list_runs(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(by_trigger("cron").await, ["r2"]);
    assert_eq!(by_trigger("cli").await, ["r1"]);
    assert_eq!(by_trigger("api").await, ["q2", "q1", "r3"]);
    assert!(by_trigger("push").await.is_empty());
    let both = RunFilter {
        workflow: Some("b".into()),
        status: Some(RunStatus::Queued),
        trigger: Some("api".into()),
        limit: Some(1),
    };
    let page = s.list_runs_after(&both, Some("q2")).await.unwrap();
    assert_eq!(
        page.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["q1"]
    );
}
