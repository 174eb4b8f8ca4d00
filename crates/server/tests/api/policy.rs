//! The launch policy at validation time: workflows and components whose images come from a
//! registry the server does not allow, or that name a service account it does not allow (or its
//! own), are refused with diagnostics by `PUT /workflows`, `POST /components` and `/validate`.
//! (Queueing and starting such runs: tests/coordinator.rs; every launch: `policy.rs`.)

use crate::support::{both_stores, TestDb, TestServer, BUSYBOX};
use co_server::policy::{LaunchPolicy, RegistryRule};

fn workflow(image: &str) -> String {
    format!("name: pol\nstages:\n  - name: s\n    actions:\n      - name: pull\n        image: {image}\n")
}

fn component(account: &str) -> String {
    format!(
        "name: deployer\nversion: 1.0.0\nimage: {BUSYBOX}\nkubernetes:\n  serviceAccountName: {account}\n"
    )
}

async fn images_and_service_accounts_outside_the_policy_are_refused(db: &TestDb) {
    let mut config = db.config();
    config.policy = LaunchPolicy {
        registries: Some(vec![
            RegistryRule::parse("localhost").unwrap(),
            RegistryRule::parse("ghcr.io/acme").unwrap(),
        ]),
        service_accounts: Some(vec!["builder".into(), "containerops".into()]),
        own_service_account: Some("containerops".into()),
    };
    let server = TestServer::start_with(config).await;
    let api = server.api();

    // Short names are Docker Hub images.
    let error = api
        .put_yaml("/api/v1/workflows/pol", &workflow("alpine:3.20"))
        .await
        .expect_error(400, "bad_request");
    let rendered = error["details"][0]["rendered"].as_str().unwrap();
    assert_eq!(
        rendered,
        "workflow.yaml:5:9: error: action `pull`: image `alpine:3.20` is from registry \
         `docker.io`, which this server does not allow (allowed_registries: localhost, \
         ghcr.io/acme)"
    );
    let result = api
        .post_yaml("/api/v1/validate", &workflow("ghcr.io/other/tool:1"))
        .await
        .expect(200);
    assert_eq!(result["valid"], false, "{result}");
    assert!(
        result["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("from registry `ghcr.io`"),
        "{result}"
    );
    for allowed in [BUSYBOX, "ghcr.io/acme/tool:1"] {
        let result = api
            .post_yaml("/api/v1/validate", &workflow(allowed))
            .await
            .expect(200);
        assert_eq!(result["valid"], true, "{allowed}: {result}");
    }
    api.put_yaml("/api/v1/workflows/pol", &workflow("ghcr.io/acme/tool:1"))
        .await
        .expect(201);

    // Service accounts: listed ones only, and never the server's own.
    let error = api
        .post_yaml("/api/v1/components", &component("deployer"))
        .await
        .expect_error(400, "bad_request");
    assert_eq!(
        error["details"][0]["rendered"],
        "component.yaml:5:3: error: service account `deployer` is not allowed on this server \
         (allowed_service_accounts: builder, containerops)"
    );
    let error = api
        .post_yaml("/api/v1/components", &component("containerops"))
        .await
        .expect_error(400, "bad_request");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("service account `containerops` is the server's own; no step may use it"),
        "{error}"
    );
    let result = api
        .post_yaml(
            "/api/v1/validate?kind=component",
            &component("containerops"),
        )
        .await
        .expect(200);
    assert_eq!(result["valid"], false, "{result}");
    api.post_yaml("/api/v1/components", &component("builder"))
        .await
        .expect(201);
    assert_eq!(
        api.get("/api/v1/components").await.expect(200)["components"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.stop().await;
}

both_stores!(images_and_service_accounts_outside_the_policy_are_refused);
