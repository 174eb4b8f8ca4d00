//! Logs: pages of stored lines, and the live event stream that resumes with `Last-Event-ID`
//! without gaps or duplicates.

use serde_json::{json, Value};

use crate::support::{both_stores, SseEvent, TestDb, TestServer, BUSYBOX};

const LINES: i64 = 120;

fn chatty() -> String {
    format!(
        "name: chatty\nstages:\n  - name: s\n    actions:\n      - name: count\n        image: {BUSYBOX}\n        \
         command: [\"sh\", \"-c\", \"i=1; while [ $i -le {LINES} ]; do echo line $i; i=$((i+1)); done\"]\n      \
         - name: warn\n        image: {BUSYBOX}\n        command: [\"sh\", \"-c\", \"echo oops 1 >&2; echo oops 2 >&2\"]\n"
    )
}

/// The seqs of `log` events, and checks each event's shape.
fn seqs(events: &[SseEvent]) -> Vec<i64> {
    events
        .iter()
        .filter(|e| e.event == "log")
        .map(|e| {
            let line = e.json();
            let seq = line["seq"].as_i64().unwrap();
            assert_eq!(e.id.as_deref(), Some(seq.to_string().as_str()));
            for key in ["seq", "step", "action", "attempt", "stream", "ts", "text"] {
                assert!(line.get(key).is_some(), "{key}: {line}");
            }
            seq
        })
        .collect()
}

async fn logs_page_and_stream_without_gaps_or_duplicates(db: &TestDb) {
    let server = TestServer::start_docker(db).await;
    let api = server.api();
    api.apply("chatty", &chatty()).await;
    let id = api.start("chatty", json!({})).await;

    // Follow it live from the start, dropping the connection after 25 events and resuming with
    // Last-Event-ID, twice; the last connection runs to the end.
    let mut events = api.events(&id, None, Some(25)).await;
    let last = seqs(&events).last().copied().unwrap();
    events.extend(api.events(&id, Some(last), Some(25)).await);
    let last = seqs(&events).last().copied().unwrap();
    events.extend(api.events(&id, Some(last), None).await);
    let end = events.last().unwrap();
    assert_eq!(end.event, "end");
    assert_eq!(end.json(), json!({"status": "succeeded"}));
    let total = LINES + 2;
    assert_eq!(seqs(&events), (1..=total).collect::<Vec<_>>());

    // A fresh stream of a finished run: everything, then the end.
    let again = api.follow(&id).await;
    assert_eq!(seqs(&again), (1..=total).collect::<Vec<_>>());
    assert_eq!(again.last().unwrap().event, "end");
    // ?after= does what Last-Event-ID does; the header wins.
    let tail = api
        .events_at(
            &format!("/api/v1/runs/{id}/logs/stream?after={}", total - 3),
            None,
            None,
        )
        .await;
    assert_eq!(seqs(&tail), (total - 2..=total).collect::<Vec<_>>());
    let tail = api
        .events_at(
            &format!("/api/v1/runs/{id}/logs/stream?after=1"),
            Some(total - 1),
            None,
        )
        .await;
    assert_eq!(seqs(&tail), vec![total]);
    // One step's stream.
    let warn = api
        .events_at(
            &format!("/api/v1/runs/{id}/logs/stream?step=warn"),
            None,
            None,
        )
        .await;
    let texts: Vec<Value> = warn
        .iter()
        .filter(|e| e.event == "log")
        .map(|e| e.json()["text"].clone())
        .collect();
    assert_eq!(texts, [json!("oops 1"), json!("oops 2")]);
    let r = api
        .send(
            api.request(
                reqwest::Method::GET,
                &format!("/api/v1/runs/{id}/logs/stream"),
            )
            .header("last-event-id", "yesterday"),
        )
        .await;
    r.expect_error(400, "bad_request");
    api.get("/api/v1/runs/01jdnosuchrun/logs/stream")
        .await
        .expect_error(404, "not_found");

    // Pages.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = api
            .get(&format!("/api/v1/runs/{id}/logs?limit=50&after={after}"))
            .await
            .expect(200);
        let lines = page["lines"].as_array().unwrap();
        if lines.is_empty() {
            assert_eq!(page["next_after"], after);
            break;
        }
        seen.extend(lines.iter().map(|l| l["seq"].as_i64().unwrap()));
        after = page["next_after"].as_i64().unwrap();
        assert_eq!(after, *seen.last().unwrap());
    }
    assert_eq!(seen, (1..=total).collect::<Vec<_>>());
    let all = api
        .get(&format!("/api/v1/runs/{id}/logs"))
        .await
        .expect(200);
    let lines = all["lines"].as_array().unwrap();
    assert_eq!(lines.len() as i64, total);
    let counted: Vec<&Value> = lines.iter().filter(|l| l["step"] == "count").collect();
    assert_eq!(counted.len() as i64, LINES);
    assert_eq!(counted[0]["text"], "line 1");
    assert_eq!(counted[0]["action"], "count");
    assert_eq!(counted[0]["stream"], "stdout");
    assert_eq!(counted[0]["attempt"], 1);
    let warn = api
        .get(&format!("/api/v1/runs/{id}/logs?step=warn"))
        .await
        .expect(200);
    let warn = warn["lines"].as_array().unwrap();
    assert_eq!(warn.len(), 2);
    assert!(warn.iter().all(|l| l["stream"] == "stderr"));
    api.get(&format!("/api/v1/runs/{id}/logs?limit=0"))
        .await
        .expect_error(400, "bad_request");
    server.stop().await;
}

/// Two servers on one database: whichever runs the run, both stream all of it (one is notified
/// of new lines, the other reads the store).
async fn any_server_streams_any_run(db: &TestDb) {
    let one = TestServer::start_docker(db).await;
    let two = TestServer::start_docker(db).await;
    let (a, b) = (one.api(), two.api());
    a.apply("chatty", &chatty()).await;
    let id = a.start("chatty", json!({})).await;
    let (from_one, from_two) = tokio::join!(a.follow(&id), b.follow(&id));
    let total = LINES + 2;
    for events in [&from_one, &from_two] {
        assert_eq!(seqs(events), (1..=total).collect::<Vec<_>>());
        assert_eq!(
            events.last().unwrap().json(),
            json!({"status": "succeeded"})
        );
    }
    // Both answer the same run.
    assert_eq!(
        a.get(&format!("/api/v1/runs/{id}")).await.expect(200),
        b.get(&format!("/api/v1/runs/{id}")).await.expect(200)
    );
    one.stop().await;
    two.stop().await;
}

both_stores!(
    logs_page_and_stream_without_gaps_or_duplicates,
    any_server_streams_any_run,
);
