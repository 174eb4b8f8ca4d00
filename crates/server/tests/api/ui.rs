//! Serving the web UI: `/` → `/ui/`, deep links answer `index.html` uncached with a strict CSP,
//! hashed assets cached immutably with ETags and compression (precompressed or on the fly),
//! missing files 404, and without a built UI a page that says how to build it.

use std::io::Read;
use std::path::Path;

use co_server::ui::UiSource;
use reqwest::Method;

use crate::support::{Api, Resp, TestDb, TestServer};

const INDEX: &str = "<!doctype html><html><head><script type=\"module\" \
                     src=\"/ui/assets/app-3f2a.js\"></script></head><body><div id=\"root\"></div></body></html>\n";

/// A built UI: index.html, a big script with a precompressed `.br` (fake bytes, to see which
/// file is sent), a stylesheet without siblings, and an icon.
fn dist(dir: &Path) -> String {
    let script = "console.log('ContainerOps');\n".repeat(200);
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    std::fs::write(dir.join("assets/app-3f2a.js"), &script).unwrap();
    std::fs::write(dir.join("assets/app-3f2a.js.br"), b"brotli bytes").unwrap();
    std::fs::write(
        dir.join("assets/app-9c1d.css"),
        "body { margin: 0 }\n".repeat(100),
    )
    .unwrap();
    std::fs::write(
        dir.join("favicon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    script
}

/// A client that does not follow redirects.
fn raw(server: &TestServer) -> (reqwest::Client, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (client, server.base.clone())
}

async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Resp {
    let mut request = client.request(Method::GET, url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    Resp {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn header<'a>(r: &'a Resp, name: &str) -> &'a str {
    r.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_is_served_with_spa_fallback_caching_and_a_strict_csp() {
    let db = TestDb::sqlite().await;
    let ui = db.dir.path().join("dist");
    let script = dist(&ui);
    let mut config = db.config();
    config.ui = UiSource::Dir(ui);
    let server = TestServer::start_with(config).await;
    let (client, base) = raw(&server);

    for from in ["/", "/ui"] {
        let r = get(&client, &format!("{base}{from}"), &[]).await;
        assert_eq!(r.status, 307, "{from}");
        assert_eq!(header(&r, "location"), "/ui/");
    }
    // The app and every deep link: index.html, never cached, with the security headers. No
    // token needed (the page holds no data).
    let mut nonces = Vec::new();
    for page in [
        "/ui/",
        "/ui/login",
        "/ui/workflows/ci-pipeline/edit",
        "/ui/workflows/ci/revisions/1...3",
        "/ui/runs/01jd0/steps/build[os=linux]",
        "/ui/runs/01jd0/steps/build.compile.cc",
    ] {
        let r = get(&client, &format!("{base}{page}"), &[]).await;
        assert_eq!(r.status, 200, "{page}");
        // index.html with a style nonce that is also in the CSP, new every time.
        let nonce = r
            .text
            .split("<meta name=\"csp-nonce\" content=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no nonce in {}", r.text))
            .to_string();
        assert_eq!(nonce.len(), 24, "{nonce}");
        let meta = format!("<head><meta name=\"csp-nonce\" content=\"{nonce}\">");
        assert_eq!(r.text, INDEX.replace("<head>", &meta), "{page}");
        nonces.push(nonce.clone());
        assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&r, "cache-control"), "no-cache");
        assert_eq!(header(&r, "etag"), "");
        let csp = header(&r, "content-security-policy");
        assert_eq!(csp, co_server::ui::app_csp(&nonce));
        let styles = format!("style-src 'self' 'nonce-{nonce}';");
        for directive in [
            "default-src 'self'",
            "script-src 'self';",
            styles.as_str(),
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        assert_eq!(header(&r, "referrer-policy"), "no-referrer");
        assert_eq!(header(&r, "x-frame-options"), "DENY");
    }
    let count = nonces.len();
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), count, "a new nonce every time");

    // A hashed asset: immutable, typed, with an ETag per encoding.
    let url = format!("{base}/ui/assets/app-3f2a.js");
    let plain = get(&client, &url, &[]).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.text, script);
    assert_eq!(
        header(&plain, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(header(&plain, "cache-control"), co_server::ui::IMMUTABLE);
    assert_eq!(
        header(&plain, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&plain, "vary"), "Accept-Encoding");
    assert_eq!(header(&plain, "content-encoding"), "");
    assert!(header(&plain, "content-security-policy").is_empty());
    assert_eq!(header(&plain, "x-content-type-options"), "nosniff");
    let etag = header(&plain, "etag").to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 26,
        "{etag}"
    );
    // The precompressed sibling for clients that take brotli.
    let br = get(&client, &url, &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(header(&br, "content-encoding"), "br");
    assert_eq!(br.text, "brotli bytes");
    assert_ne!(header(&br, "etag"), etag);
    // gzip made here when there is no .gz.
    let response = client
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let gz_etag = response.headers()["etag"].to_str().unwrap().to_string();
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.len() < script.len() / 4, "{} bytes", bytes.len());
    let mut unpacked = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, script);
    // Revalidation: 304 without a body, per encoding.
    for (encoding, tag) in [("identity", etag.as_str()), ("gzip", gz_etag.as_str())] {
        let r = get(
            &client,
            &url,
            &[("accept-encoding", encoding), ("if-none-match", tag)],
        )
        .await;
        assert_eq!(r.status, 304, "{encoding}");
        assert!(r.text.is_empty());
        assert_eq!(header(&r, "etag"), tag);
    }
    let stale = get(&client, &url, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(stale.status, 200);
    // HEAD answers the headers.
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"].to_str().unwrap(), etag);

    let css = get(&client, &format!("{base}/ui/assets/app-9c1d.css"), &[]).await;
    assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");
    // A file at the top is not content-hashed: revalidated every time.
    let icon = get(&client, &format!("{base}/ui/favicon.svg"), &[]).await;
    assert_eq!(icon.status, 200);
    assert_eq!(header(&icon, "content-type"), "image/svg+xml");
    assert_eq!(header(&icon, "cache-control"), "no-cache");
    // Missing files are 404 (never the app), in the API's error shape; no way out of the UI.
    for missing in [
        "/ui/assets/app-0000.js",
        "/ui/robots.txt",
        "/ui/.hidden.js",
        "/ui/%2e%2e/Cargo.toml",
    ] {
        let r = get(&client, &format!("{base}{missing}"), &[]).await;
        assert_eq!(r.status, 404, "{missing}: {}", r.text);
        assert!(r.text.contains("not_found"), "{}", r.text);
    }
    // The API is unaffected.
    Api::new(&base, None)
        .get("/api/v1/runs")
        .await
        .expect_error(401, "unauthorized");
    server.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_built_ui_the_server_says_how_to_build_it() {
    let db = TestDb::sqlite().await;
    for source in [UiSource::None, UiSource::Dir(db.dir.path().join("no-dist"))] {
        let mut config = db.config();
        config.ui = source.clone();
        let server = TestServer::start_with(config).await;
        let (client, base) = raw(&server);
        for page in ["/ui/", "/ui/runs/01jd0"] {
            let r = get(&client, &format!("{base}{page}"), &[]).await;
            assert_eq!(r.status, 503, "{source:?} {page}");
            assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
            assert!(r.text.contains(co_server::ui::BUILD_HINT), "{}", r.text);
            assert!(r.text.contains("scripts/demo.sh"), "{}", r.text);
            assert_eq!(header(&r, "content-security-policy"), co_server::ui::CSP);
        }
        let asset = get(&client, &format!("{base}/ui/assets/app.js"), &[]).await;
        assert_eq!(asset.status, 404);
        server.stop().await;
    }
    db.finish().await;
}
