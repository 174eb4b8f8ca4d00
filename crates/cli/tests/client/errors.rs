//! What the client says when it cannot do what was asked: no or a wrong token, no server, a
//! command that needs a server, and that the local commands are untouched by the new options.

use std::net::TcpListener;

use crate::support::{Cli, Server};

#[test]
fn a_missing_token_says_how_to_pass_one() {
    let server = Server::start();
    let out = server
        .cli()
        .env_remove("CONTAINEROPS_TOKEN")
        .args(["workflows", "list"])
        .run();
    out.code(1);
    assert!(out.stderr.starts_with("error: "), "{out:?}");
    assert!(out.stderr.contains("--token"), "{out:?}");
    assert!(out.stderr.contains("CONTAINEROPS_TOKEN"), "{out:?}");
    assert_eq!(out.stdout, "");

    // The same for the log stream.
    let logs = server
        .cli()
        .env_remove("CONTAINEROPS_TOKEN")
        .args(["logs", "-f", "01anything"])
        .run();
    logs.code(1);
    assert!(logs.stderr.contains("--token"), "{logs:?}");
}

#[test]
fn a_wrong_token_is_refused_in_words() {
    let server = Server::start();
    let out = server
        .cli()
        .args(["--token", "not-the-token", "runs", "list"])
        .run();
    out.code(1);
    assert!(out.stderr.contains("did not accept the token"), "{out:?}");
    // The token itself never appears in what the client prints.
    assert!(!out.stderr.contains("not-the-token"), "{out:?}");
}

#[test]
fn a_read_only_token_is_told_it_may_not_change_things() {
    let server = Server::start();
    let (status, created) = server.post_json(
        "/api/v1/tokens",
        &serde_json::json!({"name": "reader", "role": "viewer"}),
    );
    assert_eq!(status, 201, "{created}");
    let viewer = created["token"].as_str().unwrap();
    let path = server.file("hello.yaml", &crate::support::one_step("hello", "true"));

    let refused = server
        .cli()
        .env("CONTAINEROPS_TOKEN", viewer)
        .args(["workflows", "apply"])
        .arg(&path)
        .run();
    refused.code(1);
    assert!(refused.stderr.contains("admin token"), "{refused:?}");
    assert!(!refused.stderr.contains(viewer), "{refused:?}");

    // Reading is allowed.
    server
        .cli()
        .env("CONTAINEROPS_TOKEN", viewer)
        .args(["workflows", "list"])
        .run()
        .success();
}

#[test]
fn flags_win_over_the_environment() {
    let server = Server::start();
    // A wrong server in the environment, the right one as a flag (after the subcommand, too).
    let out = server
        .cli()
        .env("CONTAINEROPS_SERVER", "http://127.0.0.1:9")
        .args(["workflows", "list", "--server", &server.url])
        .run();
    out.success();
}

#[test]
fn an_unreachable_server_is_named_with_how_to_start_one() {
    // A port nobody listens on: bound and released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["workflows", "list"],
        vec!["runs", "list"],
        vec!["runs", "start", "hello", "--wait"],
        vec!["logs", "-f", "01abc"],
    ] {
        let out = Cli::new(home.path())
            .args(["--server", &url, "--token", "t"])
            .args(&args)
            .run();
        out.code(1);
        assert!(
            out.stderr.contains(&format!("not reachable at {url}")),
            "{args:?}: {out:?}"
        );
        assert!(out.stderr.contains("containerops server"), "{out:?}");
    }
}

#[test]
fn server_only_commands_without_a_server_say_so() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec!["workflows", "list"],
        vec!["runs", "start", "hello"],
        vec!["runs", "cancel", "01abc"],
        vec!["runs", "resume", "01abc"],
    ] {
        let out = Cli::new(home.path()).args(&args).run();
        out.code(2);
        assert!(out.stderr.contains("--server"), "{args:?}: {out:?}");
        assert!(out.stderr.contains("CONTAINEROPS_SERVER"), "{out:?}");
    }
    // `run` is local: a --server on its command line is pointed out.
    let out = Cli::new(home.path())
        .args(["run", "workflow.yaml", "--server", "http://127.0.0.1:9"])
        .run();
    out.code(2);
    assert!(out.stderr.contains("workflows apply"), "{out:?}");
    // The local history still works without a server.
    let local = Cli::new(home.path()).args(["runs", "list"]).run();
    local.success();
    assert!(local.stderr.contains("no runs recorded yet"), "{local:?}");
}

#[test]
fn every_client_command_documents_both_forms() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["runs", "list", "--help"],
        vec!["runs", "show", "--help"],
        vec!["logs", "--help"],
    ] {
        let out = Cli::new(home.path()).args(&args).run();
        out.success();
        assert!(out.stdout.contains("--server"), "{args:?}");
        assert!(
            out.stdout.contains("containerops runs") || out.stdout.contains("containerops logs"),
            "{args:?}: {out:?}"
        );
        assert!(out.stdout.contains("containerops --server"), "{args:?}");
    }
    for args in [
        vec!["workflows", "apply", "--help"],
        vec!["workflows", "list", "--help"],
        vec!["runs", "start", "--help"],
        vec!["runs", "cancel", "--help"],
        vec!["runs", "resume", "--help"],
        vec!["runs", "rerun", "--help"],
    ] {
        let out = Cli::new(home.path()).args(&args).run();
        out.success();
        assert!(out.stdout.contains("Example"), "{args:?}: {out:?}");
        assert!(out.stdout.contains("--server"), "{args:?}");
    }
}
