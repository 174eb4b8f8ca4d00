//! Artifacts over HTTP: the list, and downloads streamed with Content-Length, ETag (the
//! SHA-256), ranges, If-None-Match, and 410 for an expired artifact (both databases).

use co_artifacts::{ArtifactKind, ArtifactStore, Digest};
use co_store::ArtifactRecord;
use serde_json::json;

use crate::support::{both_stores, TestDb, TestServer};

async fn artifacts_are_listed_and_downloaded_with_etag_and_ranges(db: &TestDb) {
    let server = TestServer::start(db).await;
    let api = server.api();
    api.apply(
        "arts",
        "name: arts\nstages:\n  - name: s\n    actions:\n      - { name: a, image: x }\n",
    )
    .await;
    let run_id = api.start("arts", json!({})).await;
    assert_eq!(api.wait(&run_id).await, "succeeded");

    // What a step of this run kept (the no-op backend keeps nothing): a blob in the server's
    // artifact store and its record.
    let blobs = ArtifactStore::open(db.data_dir().join("artifacts")).unwrap();
    let bytes = b"0123456789abcdef".to_vec();
    let blob = blobs
        .put(&mut bytes.as_slice(), ArtifactKind::File, 1 << 20)
        .unwrap();
    let store = db.store().await;
    let record = ArtifactRecord {
        run_id: run_id.clone(),
        step_key: "a[os=linux]".into(),
        name: "package".into(),
        attempt: 1,
        path: "dist/app.tar.gz".into(),
        kind: ArtifactKind::File,
        sha256: blob.sha256.clone(),
        size: blob.size,
        created_at: "2026-01-01T00:00:00.000Z".into(),
        expired_at: None,
    };
    store.record_artifact(&record).await.unwrap();

    let list = api
        .get(&format!("/api/v1/runs/{}/artifacts", &run_id[..12]))
        .await
        .expect(200);
    let sha = Digest::of(&bytes).to_string();
    let download = format!("/api/v1/runs/{run_id}/artifacts/a%5Bos%3Dlinux%5D/package");
    assert_eq!(
        list,
        json!({"artifacts": [{
            "step": "a[os=linux]", "name": "package", "attempt": 1, "path": "dist/app.tar.gz",
            "kind": "file", "sha256": sha, "size": 16, "file_name": "app.tar.gz",
            "created_at": "2026-01-01T00:00:00.000Z", "expired_at": null, "download": download,
        }]})
    );

    let whole = api.get(&download).await;
    assert_eq!(whole.status, 200, "{}", whole.text);
    assert_eq!(whole.text.as_bytes(), bytes.as_slice());
    assert_eq!(whole.headers["content-length"], "16");
    assert_eq!(whole.headers["etag"], format!("\"{sha}\"").as_str());
    assert_eq!(whole.headers["accept-ranges"], "bytes");
    assert_eq!(
        whole.headers["content-disposition"],
        "attachment; filename=\"app.tar.gz\""
    );

    let part = api
        .send(
            api.request(reqwest::Method::GET, &download)
                .header("range", "bytes=2-5"),
        )
        .await;
    assert_eq!(part.status, 206, "{}", part.text);
    assert_eq!(part.text, "2345");
    assert_eq!(part.headers["content-range"], "bytes 2-5/16");
    assert_eq!(part.headers["content-length"], "4");
    let tail = api
        .send(
            api.request(reqwest::Method::GET, &download)
                .header("range", "bytes=-3"),
        )
        .await;
    assert_eq!((tail.status, tail.text.as_str()), (206, "def"));
    let outside = api
        .send(
            api.request(reqwest::Method::GET, &download)
                .header("range", "bytes=16-"),
        )
        .await;
    outside.expect_error(416, "range_not_satisfiable");
    assert_eq!(outside.headers["content-range"], "bytes */16");
    let cached = api
        .send(
            api.request(reqwest::Method::GET, &download)
                .header("if-none-match", format!("\"{sha}\"")),
        )
        .await;
    assert_eq!(cached.status, 304);
    assert!(cached.text.is_empty());

    api.get(&format!("/api/v1/runs/{run_id}/artifacts/a/package"))
        .await
        .expect_error(404, "not_found");
    api.get("/api/v1/runs/nope/artifacts")
        .await
        .expect_error(404, "not_found");

    // The retention expired it: the list says when, the download says so (410).
    let gone = store
        .expire_artifacts("2026-06-01T00:00:00.000Z", "2026-06-01T00:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(gone, std::slice::from_ref(&blob.sha256));
    let list = api
        .get(&format!("/api/v1/runs/{run_id}/artifacts"))
        .await
        .expect(200);
    assert_eq!(
        list["artifacts"][0]["expired_at"],
        "2026-06-01T00:00:00.000Z"
    );
    let err = api.get(&download).await.expect_error(410, "gone");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("artifact a[os=linux]/package of run")
            && message.contains("expired at 2026-06-01T00:00:00.000Z"),
        "{message}"
    );
    server.stop().await;
}

/// The retention sweep expires artifacts older than the retention and removes the blobs nothing
/// live shares (an old blob; never one written in the last hour); the download then says 410.
async fn the_retention_sweep_expires_old_artifacts_and_frees_their_blobs(db: &TestDb) {
    let server = TestServer::start(db).await;
    let api = server.api();
    api.apply(
        "arts",
        "name: arts\nstages:\n  - name: s\n    actions:\n      - { name: a, image: x }\n",
    )
    .await;
    let run_id = api.start("arts", json!({})).await;
    assert_eq!(api.wait(&run_id).await, "succeeded");
    let blobs = ArtifactStore::open(db.data_dir().join("artifacts")).unwrap();
    let store = db.store().await;
    let now = time::OffsetDateTime::now_utc();
    let at = |days_ago: i64| co_store::format_timestamp(now - time::Duration::days(days_ago));
    let keep = |name: &str, bytes: &[u8], days_ago: i64, old_blob: bool| {
        let blob = blobs
            .put(&mut &bytes[..], ArtifactKind::File, 1 << 20)
            .unwrap();
        if old_blob {
            std::fs::File::options()
                .write(true)
                .open(blobs.blob_path(&blob.sha256))
                .unwrap()
                .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
                .unwrap();
        }
        ArtifactRecord {
            run_id: run_id.clone(),
            step_key: "a".into(),
            name: name.into(),
            attempt: 1,
            path: format!("{name}.txt"),
            kind: ArtifactKind::File,
            sha256: blob.sha256,
            size: blob.size,
            created_at: at(days_ago),
            expired_at: None,
        }
    };
    let old = keep("old", b"old bytes", 40, true);
    let fresh_blob = keep("fresh-blob", b"written just now", 40, false);
    let recent = keep("recent", b"recent bytes", 2, true);
    for r in [&old, &fresh_blob, &recent] {
        store.record_artifact(r).await.unwrap();
    }
    let swept = co_server::retention::sweep(&store, &blobs, 30, now)
        .await
        .unwrap();
    assert_eq!(
        swept,
        co_server::retention::Swept {
            unreferenced: 2,
            removed: 1
        }
    );
    assert!(!blobs.blob_path(&old.sha256).exists());
    assert!(
        blobs.blob_path(&fresh_blob.sha256).exists(),
        "written in the last hour"
    );
    assert!(blobs.blob_path(&recent.sha256).exists());
    api.get(&format!("/api/v1/runs/{run_id}/artifacts/a/old"))
        .await
        .expect_error(410, "gone");
    let r = api
        .get(&format!("/api/v1/runs/{run_id}/artifacts/a/recent"))
        .await;
    assert_eq!((r.status, r.text.as_str()), (200, "recent bytes"));
    // A second sweep finds nothing new.
    let again = co_server::retention::sweep(&store, &blobs, 30, now)
        .await
        .unwrap();
    assert_eq!(again, co_server::retention::Swept::default());
    server.stop().await;
}

both_stores!(
    artifacts_are_listed_and_downloaded_with_etag_and_ranges,
    the_retention_sweep_expires_old_artifacts_and_frees_their_blobs,
);
