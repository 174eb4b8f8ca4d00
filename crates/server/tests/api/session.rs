//! Browser sessions: a token exchanged for an HttpOnly, SameSite=Strict cookie stored hashed;
//! who is logged in; logging out; CSRF protection of cookie writes (and not of bearer requests);
//! viewer sessions read only; sessions end with their token; the live log stream with the
//! cookie, resuming with Last-Event-ID, with step and run events.

use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::{both_stores, Api, Resp, TestDb, TestServer, ADMIN};

/// A browser: the session cookie it got, the CSRF token, and the Origin it sends.
struct Browser {
    api: Api,
    cookie: String,
    csrf: String,
    origin: String,
}

impl Browser {
    /// Log in with `token` the way the UI does; asserts the cookie's attributes.
    async fn login(server: &TestServer, token: &str) -> (Browser, Value) {
        let api = server.api().with_token(None);
        let origin = api.base.clone();
        let r = api
            .send(
                api.request(Method::POST, "/api/v1/session")
                    .header("origin", &origin)
                    .header("sec-fetch-site", "same-origin")
                    .json(&json!({ "token": token })),
            )
            .await;
        let body = r.expect(201);
        let set_cookie = set_cookie(&r);
        let value = set_cookie
            .strip_prefix("co_session=")
            .and_then(|v| v.split(';').next())
            .unwrap()
            .to_string();
        assert_eq!(value.len(), 43, "{set_cookie}");
        assert_eq!(
            set_cookie,
            format!("co_session={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200")
        );
        assert_eq!(r.headers["cache-control"], "no-store");
        let browser = Browser {
            api,
            cookie: value,
            csrf: body["csrf_token"].as_str().unwrap().to_string(),
            origin,
        };
        (browser, body)
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.api
            .request(method, path)
            .header("cookie", format!("theme=dark; co_session={}", self.cookie))
            .header("origin", &self.origin)
            .header("sec-fetch-site", "same-origin")
    }

    async fn get(&self, path: &str) -> Resp {
        self.api.send(self.request(Method::GET, path)).await
    }

    /// A write with the CSRF header.
    async fn write(&self, method: Method, path: &str, body: &Value) -> Resp {
        self.api
            .send(
                self.request(method, path)
                    .header("x-csrf-token", &self.csrf)
                    .json(body),
            )
            .await
    }
}

fn set_cookie(r: &Resp) -> String {
    r.headers["set-cookie"].to_str().unwrap().to_string()
}

async fn sessions_log_in_show_who_and_log_out(db: &TestDb) {
    let server = TestServer::start(db).await;
    let (browser, login) = Browser::login(&server, ADMIN).await;
    assert_eq!(login["auth"], "session");
    assert_eq!(login["role"], "admin");
    assert_eq!(login["token_name"], "admin (configuration)");
    assert!(login["expires_at"].as_str().unwrap().ends_with('Z'));

    // Who is logged in: the same session, with its CSRF token.
    let who = browser.get("/api/v1/session").await.expect(200);
    assert_eq!(who, login);
    // Every GET works with the cookie.
    browser.get("/api/v1/runs").await.expect(200);
    browser.get("/api/v1/openapi.json").await.expect(200);
    // A bearer token answers for itself.
    let bearer = server.api().get("/api/v1/session").await.expect(200);
    assert_eq!(
        bearer,
        json!({"auth": "token", "token_name": "admin (configuration)", "role": "admin",
               "expires_at": null, "csrf_token": null})
    );

    // Only a hash is stored.
    let store = db.store().await;
    let hash = hex(&Sha256::digest(browser.cookie.as_bytes()));
    assert!(store.find_session(&hash, 0).await.unwrap().is_some());
    assert!(store
        .find_session(&browser.cookie, 0)
        .await
        .unwrap()
        .is_none());

    // Logging out needs the CSRF token, ends the session and removes the cookie.
    browser
        .api
        .send(browser.request(Method::DELETE, "/api/v1/session"))
        .await
        .expect_error(403, "csrf");
    let out = browser
        .write(Method::DELETE, "/api/v1/session", &json!({}))
        .await;
    out.expect(204);
    assert!(
        set_cookie(&out).starts_with("co_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    );
    assert!(store.find_session(&hash, 0).await.unwrap().is_none());
    let after = browser.get("/api/v1/runs").await;
    let error = after.expect_error(401, "unauthorized");
    assert!(
        error["message"].as_str().unwrap().contains("log in again"),
        "{error}"
    );
    assert!(set_cookie(&after).contains("Max-Age=0"));
    // A bearer request cannot end a session it does not have.
    server
        .api()
        .delete("/api/v1/session")
        .await
        .expect_error(400, "bad_request");
    store.close().await;
    server.stop().await;
}

async fn cookie_writes_need_the_csrf_token_and_the_same_origin(db: &TestDb) {
    let server = TestServer::start(db).await;
    let (browser, _) = Browser::login(&server, ADMIN).await;
    let secret = json!({"value": "s3cret"});
    let path = "/api/v1/secrets/DEPLOY_KEY";

    // No header, a wrong one, another session's: refused, nothing stored.
    let none = browser
        .api
        .send(browser.request(Method::PUT, path).json(&secret))
        .await;
    let error = none.expect_error(403, "csrf");
    assert!(
        error["message"].as_str().unwrap().contains("X-CSRF-Token"),
        "{error}"
    );
    let (other, _) = Browser::login(&server, ADMIN).await;
    for csrf in ["wrong", other.csrf.as_str()] {
        browser
            .api
            .send(
                browser
                    .request(Method::PUT, path)
                    .header("x-csrf-token", csrf)
                    .json(&secret),
            )
            .await
            .expect_error(403, "csrf");
    }
    // The right token but from another site.
    for (header, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        browser
            .api
            .send(
                browser
                    .request(Method::PUT, path)
                    .header("x-csrf-token", &browser.csrf)
                    .header(header, value)
                    .json(&secret),
            )
            .await
            .expect_error(403, "csrf");
    }
    let names = server.api().get("/api/v1/secrets").await.expect(200);
    assert!(!names.to_string().contains("DEPLOY_KEY"), "{names}");
    // The right token from this origin works.
    browser.write(Method::PUT, path, &secret).await.expect(204);
    // Bearer requests need none of it (and a cookie next to a bearer token changes nothing).
    let bearer = server.api();
    bearer
        .send(
            bearer
                .request(Method::DELETE, path)
                .header("cookie", format!("co_session={}", browser.cookie))
                .header("origin", "http://evil.example"),
        )
        .await
        .expect(204);

    // Logging in from another site is refused too; HTTPS behind a proxy gets Secure.
    let anonymous = server.api().with_token(None);
    for (header, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        anonymous
            .send(
                anonymous
                    .request(Method::POST, "/api/v1/session")
                    .header(header, value)
                    .json(&json!({"token": ADMIN})),
            )
            .await
            .expect_error(403, "csrf");
    }
    let proxied = anonymous
        .send(
            anonymous
                .request(Method::POST, "/api/v1/session")
                .header("x-forwarded-proto", "https")
                .json(&json!({"token": ADMIN})),
        )
        .await;
    proxied.expect(201);
    assert!(
        set_cookie(&proxied).ends_with("; Secure"),
        "{}",
        set_cookie(&proxied)
    );
    server.stop().await;
}

async fn bad_logins_are_refused(db: &TestDb) {
    let server = TestServer::start(db).await;
    let anonymous = server.api().with_token(None);
    for body in [
        json!({"token": "co_not-a-real-token"}),
        json!({"token": ""}),
        json!({"token": "x".repeat(2000)}),
    ] {
        let r = anonymous.post_json("/api/v1/session", &body).await;
        r.expect_error(401, "unauthorized");
        assert!(r.headers.get("set-cookie").is_none());
    }
    anonymous
        .post_json("/api/v1/session", &json!({"tok": ADMIN}))
        .await
        .expect_error(400, "bad_request");
    // Not logged in: 401 from GET /api/v1/session (the UI shows its login page); an unknown
    // cookie is refused and removed.
    anonymous
        .get("/api/v1/session")
        .await
        .expect_error(401, "unauthorized");
    let stale = anonymous
        .send(anonymous.request(Method::GET, "/api/v1/session").header(
            "cookie",
            "co_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ))
        .await;
    stale.expect_error(401, "unauthorized");
    assert!(set_cookie(&stale).contains("Max-Age=0"));
    server.stop().await;
}

async fn viewer_sessions_read_only_and_sessions_end_with_their_token(db: &TestDb) {
    let server = TestServer::start(db).await;
    let admin = server.api();
    let created = admin.create_token("dashboard", "viewer").await;
    let viewer_token = created["token"].as_str().unwrap();
    let (viewer, login) = Browser::login(&server, viewer_token).await;
    assert_eq!(
        (login["role"].as_str(), login["token_name"].as_str()),
        (Some("viewer"), Some("dashboard"))
    );
    viewer.get("/api/v1/workflows").await.expect(200);
    let error = viewer
        .write(Method::POST, "/api/v1/runs", &json!({"workflow": "x"}))
        .await
        .expect_error(403, "forbidden");
    assert!(
        error["message"].as_str().unwrap().contains("viewer"),
        "{error}"
    );
    viewer
        .get("/api/v1/tokens")
        .await
        .expect_error(403, "forbidden");
    // Checking a document changes nothing: a viewer may (the read-only editor shows problems).
    let checked = viewer
        .write(
            Method::POST,
            "/api/v1/validate",
            &json!({"yaml": "name: x\n"}),
        )
        .await
        .expect(200);
    assert_eq!(checked["valid"], false);
    // A second session of the same token; deleting the token ends both.
    let (second, _) = Browser::login(&server, viewer_token).await;
    second.get("/api/v1/session").await.expect(200);
    admin
        .delete(&format!(
            "/api/v1/tokens/{}",
            created["id"].as_str().unwrap()
        ))
        .await
        .expect(204);
    viewer
        .get("/api/v1/runs")
        .await
        .expect_error(401, "unauthorized");
    second
        .get("/api/v1/session")
        .await
        .expect_error(401, "unauthorized");
    // A viewer may log out.
    let (third, _) = Browser::login(&server, ADMIN).await;
    third
        .write(Method::DELETE, "/api/v1/session", &json!({}))
        .await
        .expect(204);
    server.stop().await;
}

async fn a_token_has_at_most_twenty_sessions(db: &TestDb) {
    let server = TestServer::start(db).await;
    let (first, _) = Browser::login(&server, ADMIN).await;
    let mut last = None;
    for _ in 0..co_server::session::MAX_SESSIONS_PER_TOKEN {
        last = Some(Browser::login(&server, ADMIN).await.0);
    }
    // The oldest ended; the newest lives.
    first
        .get("/api/v1/runs")
        .await
        .expect_error(401, "unauthorized");
    last.unwrap().get("/api/v1/runs").await.expect(200);
    let store = db.store().await;
    let token_id = store.list_tokens().await.unwrap()[0].id.clone();
    assert_eq!(
        store.count_sessions(&token_id, 0).await.unwrap(),
        co_server::session::MAX_SESSIONS_PER_TOKEN
    );
    store.close().await;
    server.stop().await;
}

async fn the_live_log_stream_works_with_the_cookie(db: &TestDb) {
    let server = TestServer::start(db).await;
    let admin = server.api();
    admin
        .apply(
            "two",
            "name: two\nstages:\n  - name: s\n    actions:\n      - { name: a, image: i }\n      \
             - { name: b, image: i, matrix: { n: [1, 2] } }\n",
        )
        .await;
    let (browser, _) = Browser::login(&server, ADMIN).await;
    // A run started with the cookie (and the CSRF token), followed with the cookie.
    let created = browser
        .write(Method::POST, "/api/v1/workflows/two/runs", &json!({}))
        .await
        .expect(201);
    let id = created["id"].as_str().unwrap();
    let as_browser = Api::new(&server.base, None);
    let events = events_with_cookie(&as_browser, &browser.cookie, id, None, "steps=true").await;
    let end = events.last().unwrap();
    assert_eq!(end.0, "end");
    let steps: Vec<&(String, Option<String>, Value)> =
        events.iter().filter(|e| e.0 == "step").collect();
    // Every step at least once, and the last event of each is its final state.
    for key in ["a", "b[n=1]", "b[n=2]"] {
        let last = steps.iter().rev().find(|e| e.2["key"] == key).unwrap();
        assert_eq!(last.2["status"], "succeeded", "{key}: {events:?}");
        assert!(last.1.is_none(), "step events carry no id");
    }
    let runs: Vec<&Value> = events
        .iter()
        .filter(|e| e.0 == "run")
        .map(|e| &e.2)
        .collect();
    assert_eq!(runs.first().unwrap()["id"], id);
    assert_eq!(runs.last().unwrap()["status"], "succeeded");
    // The log lines (the no-op backend prints none) resume after Last-Event-ID like with a
    // token: resuming after the end sends only what follows.
    let tail = events_with_cookie(&as_browser, &browser.cookie, id, Some(1_000_000), "").await;
    assert_eq!(tail.len(), 1, "{tail:?}");
    assert_eq!(tail[0].0, "end");
    server.stop().await;
}

/// (event, id, data) of a whole log stream read with the session cookie.
async fn events_with_cookie(
    api: &Api,
    cookie: &str,
    run: &str,
    last_event_id: Option<i64>,
    query: &str,
) -> Vec<(String, Option<String>, Value)> {
    let mut request = api
        .request(
            Method::GET,
            &format!("/api/v1/runs/{run}/logs/stream?{query}"),
        )
        .header("cookie", format!("co_session={cookie}"));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let r = tokio::time::timeout(crate::support::PATIENCE, api.send(request))
        .await
        .expect("the stream ends with the run");
    assert_eq!(r.status, 200, "{}", r.text);
    r.text
        .split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut id = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                }
            }
            Some((
                event?,
                id,
                serde_json::from_str(&data).unwrap_or(Value::Null),
            ))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

both_stores!(
    sessions_log_in_show_who_and_log_out,
    cookie_writes_need_the_csrf_token_and_the_same_origin,
    bad_logins_are_refused,
    viewer_sessions_read_only_and_sessions_end_with_their_token,
    a_token_has_at_most_twenty_sessions,
    the_live_log_stream_works_with_the_cookie,
);
