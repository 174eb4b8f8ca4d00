//! Conformance cases of what steps kept (`artifacts.rs`, migration `0008_artifacts.sql`).

use co_artifacts::{ArtifactKind, Digest};
use co_store::ArtifactRecord;

use super::*;

fn artifact(run_id: &str, step: &str, name: &str, bytes: &[u8], ms: i64) -> ArtifactRecord {
    ArtifactRecord {
        run_id: run_id.into(),
        step_key: step.into(),
        name: name.into(),
        attempt: 1,
        path: format!("dist/{name}"),
        kind: ArtifactKind::File,
        sha256: Digest::of(bytes),
        size: bytes.len() as u64,
        created_at: at(ms),
        expired_at: None,
    }
}

pub async fn artifacts_are_recorded_replaced_by_a_later_attempt_and_listed(db: &TestDb) {
    let s = &db.store;
    s.insert_run(&run("r1", "w", "running", 0)).await.unwrap();
    let a = artifact("r1", "build[os=linux]", "package", b"one", 10);
    let b = ArtifactRecord {
        kind: ArtifactKind::Tar,
        size: u64::from(u32::MAX) + 7, // sizes over 4 GiB round-trip
        ..artifact("r1", "test", "reports", b"two", 20)
    };
    s.record_artifact(&a).await.unwrap();
    s.record_artifact(&b).await.unwrap();
    assert_eq!(
        s.list_artifacts("r1").await.unwrap(),
        [a.clone(), b.clone()]
    );
    // A second attempt's artifact of the same name replaces the first's.
    let again = ArtifactRecord {
        attempt: 2,
        ..artifact("r1", "build[os=linux]", "package", b"three", 30)
    };
    s.record_artifact(&again).await.unwrap();
    assert_eq!(s.list_artifacts("r1").await.unwrap(), [b, again]);
    assert!(s.list_artifacts("nope").await.unwrap().is_empty());
    // An unknown run is refused; deleting the run would take its artifacts along (cascade).
    let err = s
        .record_artifact(&artifact("ghost", "s", "x", b"x", 0))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

pub async fn expiry_marks_old_artifacts_and_frees_only_unshared_blobs(db: &TestDb) {
    let s = &db.store;
    s.insert_run(&run("old", "w", "succeeded", 0))
        .await
        .unwrap();
    s.insert_run(&run("new", "w", "succeeded", 0))
        .await
        .unwrap();
    s.record_artifact(&artifact("old", "a", "only-old", b"old bytes", 1_000))
        .await
        .unwrap();
    s.record_artifact(&artifact("old", "a", "shared", b"same bytes", 1_000))
        .await
        .unwrap();
    s.record_artifact(&artifact("new", "a", "shared", b"same bytes", 90_000))
        .await
        .unwrap();
    let gone = s.expire_artifacts(&at(50_000), &at(100_000)).await.unwrap();
    assert_eq!(gone, [Digest::of(b"old bytes")], "the shared blob stays");
    assert!(s
        .artifact_blob_in_use(&Digest::of(b"same bytes"))
        .await
        .unwrap());
    assert!(!s
        .artifact_blob_in_use(&Digest::of(b"old bytes"))
        .await
        .unwrap());
    let old = s.list_artifacts("old").await.unwrap();
    assert!(old
        .iter()
        .all(|a| a.expired_at.as_deref() == Some(at(100_000).as_str())));
    assert!(s.list_artifacts("new").await.unwrap()[0]
        .expired_at
        .is_none());
    // Expiring again finds nothing new.
    assert!(s
        .expire_artifacts(&at(50_000), &at(200_000))
        .await
        .unwrap()
        .is_empty());
    let gone = s.expire_artifacts(&at(95_000), &at(200_000)).await.unwrap();
    assert_eq!(gone, [Digest::of(b"same bytes")]);
}
