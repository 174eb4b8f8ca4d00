//! `notify:` (the server's notifications, docs/spec.md#notify): good blocks parse into the model,
//! bad ones are reported at their line.

use co_spec::{NotifyOn, NotifyTarget};

use crate::{parse, parse_ok, render};

const STAGES: &str = "stages: [{name: s, actions: [{name: a, image: i}]}]\n";

#[test]
fn notifications_parse_into_the_model() {
    let w = parse_ok(&format!(
        "name: n
notify:
  - webhook: {{ url: \"https://hooks.example.com/ci\", secret: NOTIFY_SECRET }}
  - on: [success, always, success]
    slack: {{ secret: SLACK_URL }}
{STAGES}"
    ));
    assert_eq!(w.notify.len(), 2);
    assert_eq!(w.notify[0].on, [NotifyOn::Failure]);
    assert_eq!(
        w.notify[0].target,
        NotifyTarget::Webhook {
            url: "https://hooks.example.com/ci".into(),
            secret: "NOTIFY_SECRET".into()
        }
    );
    assert_eq!(w.notify[1].on, [NotifyOn::Success, NotifyOn::Always]);
    assert_eq!(
        w.notify[1].target,
        NotifyTarget::Slack {
            secret: "SLACK_URL".into()
        }
    );
    assert_eq!((w.notify[1].span.line, w.notify[1].span.col), (4, 5));
    assert!(!w.notify[0].applies(true) && w.notify[0].applies(false));
    assert!(w.notify[1].applies(true) && w.notify[1].applies(false));
    assert!(parse_ok(&format!("name: n\n{STAGES}")).notify.is_empty());
}

#[test]
fn bad_notifications_are_reported_at_their_line() {
    let text = format!(
        "name: n
notify:
  - on: [failures]
    webhook: {{ url: ftp://x, secret: \"a b\" }}
  - slack: {{ url: \"https://hooks.slack.com/x\" }}
  - on: []
    webhook: {{ secret: S }}
  - {{ webhook: {{ url: \"http://x\", secret: S }}, slack: {{ secret: T }} }}
  - {{ on: always }}
  - webhook: \"http://x\"
  - url: \"http://x\"
{STAGES}"
    );
    let got = render(&parse(&text).unwrap_err());
    let want = [
        "test.yaml:3:10: error: unknown `on` value `failures`: use failure, success or always; did you mean `failure`?",
        "test.yaml:4:21: error: `url` must be an http:// or https:// URL, like `webhook: { url: https://hooks.example.com/ci, secret: NOTIFY_SECRET }`, found `ftp://x`",
        "test.yaml:4:38: error: invalid secret name `a b`",
        "test.yaml:5:14: error: unknown field `url` in `slack`; a Slack incoming webhook's URL is itself a secret",
        "test.yaml:5:12: error: missing required field `secret` in `slack`",
        "test.yaml:6:9: error: `on` must not be empty",
        "test.yaml:7:14: error: missing required field `url` in `webhook`",
        "test.yaml:8:48: error: notification #4 has both `webhook` and `slack`",
        "test.yaml:9:5: error: notification #5 needs a target",
        "test.yaml:10:14: error: `webhook` must be a mapping",
        "test.yaml:11:5: error: unknown field `url` in notification #7; the target goes inside its kind",
    ];
    for w in want {
        assert!(got.contains(w), "missing {w:?} in:\n{got}");
    }
}
