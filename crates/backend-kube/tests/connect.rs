//! `KubeBackend::connect`: what it says when the configuration or the API server is missing.
//! (Its own test binary: it sets `$KUBECONFIG` for the whole process.) The "cluster" here is a
//! loopback port nothing listens on: no cluster is ever reached.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use co_backend::BackendError;
use co_backend_kube::{KubeBackend, KubeOptions};

const KUBECONFIG: &str = r#"apiVersion: v1
kind: Config
clusters:
  - name: nowhere
    cluster: { server: "http://127.0.0.1:1" }
users:
  - name: someone
    user: { token: not-a-real-token }
contexts:
  - name: ctx
    context: { cluster: nowhere, user: someone, namespace: ci }
current-context: ctx
"#;

fn unavailable(r: Result<KubeBackend, BackendError>) -> (String, String) {
    match r {
        Err(BackendError::Unavailable { message, hint }) => (message, hint),
        Err(other) => panic!("{other:?}"),
        Ok(b) => panic!("connected: {b:?}"),
    }
}

#[tokio::test]
async fn connect_errors_say_what_was_tried_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-kubeconfig");
    std::env::remove_var("KUBERNETES_SERVICE_HOST");
    std::env::remove_var("KUBERNETES_SERVICE_PORT");

    // No kubeconfig, not in a cluster.
    std::env::set_var("KUBECONFIG", &missing);
    let (message, hint) = unavailable(KubeBackend::connect(KubeOptions::default()).await);
    assert!(
        message.starts_with("no Kubernetes configuration found: kubeconfig: "),
        "{message}"
    );
    assert!(message.contains("in-cluster: "), "{message}");
    assert!(
        hint.contains("$KUBECONFIG") && hint.contains("--context"),
        "{hint}"
    );

    // A kubeconfig, but not the context asked for.
    let file = dir.path().join("config");
    std::fs::write(&file, KUBECONFIG).unwrap();
    std::env::set_var("KUBECONFIG", &file);
    let options = KubeOptions {
        context: Some("staging".into()),
        ..KubeOptions::default()
    };
    let (message, _) = unavailable(KubeBackend::connect(options).await);
    assert!(
        message.starts_with("cannot use kubeconfig context staging: "),
        "{message}"
    );

    // The context's server does not answer.
    let options = KubeOptions {
        context: Some("ctx".into()),
        ..KubeOptions::default()
    };
    let (message, _) = unavailable(KubeBackend::connect(options).await);
    assert!(
        message.starts_with("the Kubernetes API server at http://127.0.0.1:1/ (kubeconfig context ctx) did not answer: "),
        "{message}"
    );
}
