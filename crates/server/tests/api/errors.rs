//! One error shape for everything: 400 (malformed bodies, with the parser's position), 404
//! (unknown routes and ids), 405, 413 (over the configured body limit).

use serde_json::json;

use crate::support::{both_stores, TestDb, TestServer};

async fn every_error_has_the_json_shape(db: &TestDb) {
    let server = TestServer::start(db).await;
    let api = server.api();

    // 404: unknown routes (with and without a token), unknown ids.
    api.get("/api/v1/nothing")
        .await
        .expect_error(404, "not_found");
    api.with_token(None)
        .get("/nothing/at/all")
        .await
        .expect_error(404, "not_found");
    api.get("/api/v1/runs/01jdnosuchrun")
        .await
        .expect_error(404, "not_found");
    api.get("/api/v1/runs/01jdnosuchrun/logs")
        .await
        .expect_error(404, "not_found");
    api.post_json("/api/v1/runs/01jdnosuchrun/cancel", &json!({}))
        .await
        .expect_error(404, "not_found");
    api.post_json("/api/v1/workflows/nope/runs", &json!({}))
        .await
        .expect_error(404, "not_found");
    api.post_json("/api/v1/runs", &json!({"workflow": "nope"}))
        .await
        .expect_error(404, "not_found");
    api.delete("/api/v1/tokens/nope")
        .await
        .expect_error(404, "not_found");

    // 405: a known route, another method.
    let r = api.delete("/healthz").await;
    r.expect_error(405, "method_not_allowed");
    api.send(api.request(reqwest::Method::PATCH, "/api/v1/runs"))
        .await
        .expect_error(405, "method_not_allowed");

    // 400: malformed JSON, with where the parser stopped.
    let r = api
        .send(
            api.request(reqwest::Method::POST, "/api/v1/runs")
                .header("content-type", "application/json")
                .body("{\"workflow\": \"x\",\n  \"inputs\": [1, }"),
        )
        .await;
    let error = r.expect_error(400, "bad_request");
    assert_eq!(error["details"][0]["line"], 2, "{error}");
    assert!(error["details"][0]["col"].as_u64().unwrap() > 1, "{error}");
    // Wrong types and unknown fields.
    api.post_json("/api/v1/runs", &json!({"workflow": 3}))
        .await
        .expect_error(400, "bad_request");
    api.post_json("/api/v1/runs", &json!({"workflow": "x", "input": {}}))
        .await
        .expect_error(400, "bad_request");
    // Not JSON at all.
    api.send(
        api.request(reqwest::Method::POST, "/api/v1/tokens")
            .header("content-type", "text/html")
            .body("<p>"),
    )
    .await
    .expect_error(400, "bad_request");
    // Bad query parameters.
    api.get("/api/v1/runs?limit=lots")
        .await
        .expect_error(400, "bad_request");
    api.get("/api/v1/runs?limit=0")
        .await
        .expect_error(400, "bad_request");
    api.get("/api/v1/runs?status=sleeping")
        .await
        .expect_error(400, "bad_request");
    // Malformed YAML is a diagnostic with a position.
    let error = api
        .put_yaml("/api/v1/workflows/x", "name: x\nstages: [\n")
        .await
        .expect_error(400, "bad_request");
    assert!(
        error["details"][0]["line"].as_u64().unwrap() >= 2,
        "{error}"
    );
    // A body that is not UTF-8.
    api.send(
        api.request(reqwest::Method::POST, "/api/v1/validate")
            .header("content-type", "application/yaml")
            .body(vec![0xff, 0xfe, 0x00]),
    )
    .await
    .expect_error(400, "bad_request");
    server.stop().await;
}

async fn bodies_over_the_limit_are_413(db: &TestDb) {
    let mut config = db.config();
    config.max_body_bytes = 4096;
    let server = TestServer::start_with(config).await;
    let api = server.api();
    let big = format!("name: big\ndescription: {}\n", "x".repeat(5000));

    // With a Content-Length.
    let error = api
        .put_yaml("/api/v1/workflows/big", &big)
        .await
        .expect_error(413, "payload_too_large");
    assert_eq!(error["details"]["limit"], 4096);
    api.post_json(
        "/api/v1/runs",
        &json!({"workflow": "x", "inputs": {"a": "y".repeat(5000)}}),
    )
    .await
    .expect_error(413, "payload_too_large");
    api.put_json("/api/v1/secrets/BIG", &json!({"value": "z".repeat(5000)}))
        .await
        .expect_error(413, "payload_too_large");
    // Chunked, without a Content-Length: the limit holds while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b'#'; 1000])).collect();
    let r = api
        .send(
            api.request(reqwest::Method::POST, "/api/v1/validate")
                .header("content-type", "application/yaml")
                .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks))),
        )
        .await;
    r.expect_error(413, "payload_too_large");
    // Webhooks too.
    api.with_token(None)
        .post_json("/api/v1/hooks/x/webhook", &json!({"p": "q".repeat(5000)}))
        .await
        .expect_error(413, "payload_too_large");
    // Just under the limit is fine.
    let small = format!("name: big\ndescription: {}\n", "x".repeat(3000));
    let r = api.post_yaml("/api/v1/validate", &small).await;
    assert_eq!(r.status, 200, "{}", r.text);
    server.stop().await;
}

both_stores!(
    every_error_has_the_json_shape,
    bodies_over_the_limit_are_413
);
