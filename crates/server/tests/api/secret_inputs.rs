//! Inputs of `type: secret`: masked in every answer (admin and viewer, run views, lists, the
//! dashboard, graphs, logs and the live stream), kept encrypted in the database (the raw rows
//! never hold the value), and still given in clear to the step that uses them — on the first
//! run and on a rerun.

use serde_json::json;

use crate::support::{both_stores, unique, Kind, TestDb, TestServer, BUSYBOX};

fn workflow() -> String {
    format!(
        r#"name: deploy
inputs:
  token: {{ type: secret, required: true }}
  note: {{ type: string, default: plain }}
stages:
  - name: go
    actions:
      - name: use
        image: {BUSYBOX}
        command: ["sh", "-c", "echo got $CO_INPUT_TOKEN; echo \"[COUT] upper = $(echo $CO_INPUT_TOKEN | tr a-z A-Z)\""]
        with:
          token: "${{{{ inputs.token }}}}"
          wrapped: "x-${{{{ inputs.token }}}}-y"
          note: "${{{{ inputs.note }}}}"
"#
    )
}

/// Every text column of every row the run left in the database contains `needle`?
async fn stored_anywhere(db: &TestDb, needle: &str) -> bool {
    match db.kind {
        // The database file and its write-ahead log, byte for byte.
        Kind::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            ["", "-wal"].iter().any(|suffix| {
                std::fs::read(format!("{path}{suffix}"))
                    .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
                    .unwrap_or(false)
            })
        }
        // Each row of each table as text.
        Kind::Postgres => {
            use sqlx::Connection;
            let mut conn = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .unwrap();
            let mut found = false;
            for table in ["runs", "steps", "attempts", "log_lines"] {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT CAST(t AS TEXT) FROM {table} t"))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                assert!(!rows.is_empty(), "no rows in {table}");
                found |= rows.iter().any(|row| row.contains(needle));
            }
            conn.close().await.unwrap();
            found
        }
    }
}

async fn secret_inputs_are_masked_everywhere_and_stored_encrypted(db: &TestDb) {
    let server = TestServer::start_docker(db).await;
    let admin = server.api();
    admin.apply("deploy", &workflow()).await;
    let value = format!("s3cr3t-input-{}", unique());
    let viewer_token = admin.create_token("watcher", "viewer").await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let viewer = admin.with_token(Some(&viewer_token));

    let id = admin
        .start("deploy", json!({"token": value, "note": "hello"}))
        .await;
    let events = admin.follow(&id).await;
    assert_eq!(events.last().unwrap().event, "end", "{events:?}");
    for event in &events {
        assert!(!event.data.contains(&value), "a stream event: {event:?}");
    }

    for api in [&admin, &viewer] {
        let r = api.get(&format!("/api/v1/runs/{id}")).await;
        let run = r.expect(200);
        assert!(!r.text.contains(&value), "{}", r.text);
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["inputs"], json!({"token": "***", "note": "hello"}));
        let step = &run["steps"][0];
        // The step got the value (its output is derived from it, and not masked)...
        assert_eq!(step["outputs"]["upper"], value.to_uppercase());
        // ...and shows it masked, also inside another value.
        assert_eq!(
            step["inputs"],
            json!({"token": "***", "wrapped": "x-***-y", "note": "hello"})
        );
        for path in [
            "/api/v1/runs".to_string(),
            "/api/v1/runs?workflow=deploy".to_string(),
            "/api/v1/dashboard".to_string(),
            format!("/api/v1/runs/{id}/graph"),
            format!("/api/v1/runs/{id}/logs"),
        ] {
            let r = api.get(&path).await;
            r.expect(200);
            assert!(!r.text.contains(&value), "{path}: {}", r.text);
        }
    }
    let logs = admin
        .get(&format!("/api/v1/runs/{id}/logs"))
        .await
        .expect(200);
    let lines: Vec<&str> = logs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(lines.contains(&"got ***"), "{lines:?}");

    // A rerun opens the same values (sealed again for the new run).
    let r = admin
        .post_json(&format!("/api/v1/runs/{id}/rerun"), &json!({}))
        .await
        .expect(201);
    let rerun = r["id"].as_str().unwrap().to_string();
    assert_eq!(admin.wait(&rerun).await, "succeeded");
    let run = admin
        .get(&format!("/api/v1/runs/{rerun}"))
        .await
        .expect(200);
    assert_eq!(run["steps"][0]["outputs"]["upper"], value.to_uppercase());
    assert_eq!(run["inputs"]["token"], "***");
    server.stop().await;

    // In the database: ciphertext, never the value.
    let store = db.store().await;
    for run_id in [&id, &rerun] {
        let stored = store.get_run(run_id).await.unwrap().run;
        let sealed = stored.secret_inputs.expect("sealed secret inputs");
        assert!(sealed.starts_with("v1:"), "{sealed}");
        assert_eq!(stored.inputs["token"], "***");
    }
    store.close().await;
    assert!(
        !stored_anywhere(db, &value).await,
        "the database holds the secret input in clear"
    );
    // (The check would find it: the note is stored as given.)
    assert!(stored_anywhere(db, "x-***-y").await);
}

both_stores!(
    secret_inputs_are_masked_everywhere_and_stored_encrypted,
    secret_inputs_of_runs_recorded_before_sealing_are_sealed_at_start
);

/// Run SQL on the test database directly (what an older server, or a migration, did to it).
async fn raw_sql(db: &TestDb, statements: &[String]) {
    use sqlx::{Connection, Executor};
    match db.kind {
        Kind::Sqlite => {
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&db.url)
                .await
                .unwrap();
            for sql in statements {
                conn.execute(sql.as_str()).await.unwrap();
            }
            conn.close().await.unwrap();
        }
        Kind::Postgres => {
            let mut conn = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .unwrap();
            for sql in statements {
                conn.execute(sql.as_str()).await.unwrap();
            }
            conn.close().await.unwrap();
        }
    }
}

/// Runs recorded before secret inputs were sealed (store migration 0005) hold them in clear: the
/// first start after the upgrade seals them like new runs (once), or, when the run's workflow can
/// no longer say which inputs are secret, seals every input value.
async fn secret_inputs_of_runs_recorded_before_sealing_are_sealed_at_start(db: &TestDb) {
    let server = TestServer::start_docker(db).await;
    let admin = server.api();
    admin.apply("deploy", &workflow()).await;
    let value = format!("0ld-s3cr3t-{}", unique());
    let old = admin
        .start("deploy", json!({"token": value, "note": "hello"}))
        .await;
    assert_eq!(admin.wait(&old).await, "succeeded");
    let orphan = admin
        .start("deploy", json!({"token": value, "note": "hello"}))
        .await;
    assert_eq!(admin.wait(&orphan).await, "succeeded");
    server.stop().await;

    // The rows as a server before 0005 wrote them (the inputs as given, nothing sealed, no step
    // inputs), in a database migrated up to 0006; `orphan` names a revision that is gone.
    let clear = json!({"token": value, "note": "hello"}).to_string();
    raw_sql(
        db,
        &[
            format!(
                "UPDATE runs SET inputs = '{clear}', secret_inputs = NULL \
                 WHERE id IN ('{old}', '{orphan}')"
            ),
            "UPDATE steps SET inputs = '{}'".to_string(),
            format!("UPDATE runs SET revision = 99 WHERE id = '{orphan}'"),
            "DROP TABLE unsealed_runs".to_string(),
            "DELETE FROM _sqlx_migrations WHERE version = 7".to_string(),
        ],
    )
    .await;
    assert!(
        stored_anywhere(db, &value).await,
        "the check finds a value in clear"
    );

    let server = TestServer::start_docker(db).await;
    let admin = server.api();
    let logs = crate::support::captured_logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("runs recorded before they were kept apart")
                && l.contains("runs=2")
                && l.contains("with_secret_inputs=2")
                && l.contains("every_input_secret=1")
                && l.contains("secret_values_dropped=0")),
        "{logs}"
    );
    let run = admin.get(&format!("/api/v1/runs/{old}")).await.expect(200);
    assert_eq!(run["inputs"], json!({"token": "***", "note": "hello"}));
    assert_eq!(run["steps"][0]["inputs"], json!({}));
    let run = admin
        .get(&format!("/api/v1/runs/{orphan}"))
        .await
        .expect(200);
    assert_eq!(run["inputs"], json!({"token": "***", "note": "***"}));
    // Sealed, not dropped: a rerun gets the value.
    let rerun = admin
        .post_json(&format!("/api/v1/runs/{old}/rerun"), &json!({}))
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(admin.wait(&rerun).await, "succeeded");
    let run = admin
        .get(&format!("/api/v1/runs/{rerun}"))
        .await
        .expect(200);
    assert_eq!(run["steps"][0]["outputs"]["upper"], value.to_uppercase());
    server.stop().await;

    // Once: a later start leaves the sealed values as they are.
    let store = db.store().await;
    let sealed = store.get_run(&old).await.unwrap().run.secret_inputs;
    assert!(
        sealed.as_deref().is_some_and(|s| s.starts_with("v1:")),
        "{sealed:?}"
    );
    store.close().await;
    TestServer::start(db).await.stop().await;
    let store = db.store().await;
    assert_eq!(store.get_run(&old).await.unwrap().run.secret_inputs, sealed);
    store.close().await;
    assert!(
        !stored_anywhere(db, &value).await,
        "the database still holds an old run's secret input in clear"
    );
}
