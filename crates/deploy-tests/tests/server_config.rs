//! The example server configuration `deploy/server.example.toml`: the server accepts it as it
//! is and with its commented-out keys switched on, and it shows the options an operator should
//! choose.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use co_deploy_tests::repo_root;

fn example() -> PathBuf {
    repo_root().join("deploy/server.example.toml")
}

/// The configuration the server resolves from `--config FILE` (nothing else given).
fn resolve(file: &std::path::Path) -> co_server::ServerConfig {
    let file = file.display().to_string();
    let none = |_: &str| None;
    co_server::ServerOptions::parse(&["--config", &file], &none)
        .and_then(|given| co_server::ServerConfig::resolve(given, &none))
        .unwrap_or_else(|e| panic!("{file} is rejected: {e}"))
}

/// The keys of the config file (the options' names in snake case).
fn keys() -> Vec<String> {
    co_server::config::declared_options()
        .into_iter()
        .map(|(key, _, _)| key)
        .filter(|key| key != "config")
        .collect()
}

/// `# key = value` lines of a known key: the example's commented-out settings.
fn commented_out(text: &str) -> Vec<String> {
    let keys = keys();
    text.lines()
        .filter_map(|line| line.strip_prefix('#').map(str::trim))
        .filter(|line| {
            line.split_once(" = ")
                .is_some_and(|(key, _)| keys.iter().any(|k| k == key))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn the_example_configures_a_server() {
    let config = resolve(&example());
    assert_eq!(config.listen, "0.0.0.0:8080");
    assert!(config.database.starts_with("postgres://"));
    let limits = &config.limits;
    assert!(limits.max_parallel_steps.is_some(), "{limits:?}");
    assert!(limits.step_log_bytes.unwrap() <= limits.run_log_bytes.unwrap());
    assert!(config.policy.registries.is_some_and(|r| !r.is_empty()));
}

#[test]
fn the_examples_commented_out_settings_are_accepted_too() {
    let text = std::fs::read_to_string(example()).unwrap();
    let commented = commented_out(&text);
    assert!(
        commented
            .iter()
            .any(|l| l.starts_with("allowed_service_accounts")),
        "{commented:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(&file, format!("{text}\n{}\n", commented.join("\n"))).unwrap();
    let config = resolve(&file);
    assert!(config.policy.service_accounts.is_some());
}

/// Every option an operator should choose is in the example, set or commented out.
#[test]
fn the_example_shows_the_options_to_choose() {
    let text = std::fs::read_to_string(example()).unwrap();
    for key in [
        "listen",
        "database",
        "data_dir",
        "secret_key",
        "max_runs",
        "max_parallel_steps",
        "step_log_cap",
        "run_log_cap",
        "stop_grace",
        "allowed_registries",
        "allowed_service_accounts",
        "session_ttl",
        "max_body_bytes",
    ] {
        assert!(keys().iter().any(|k| k == key), "{key} is not an option");
        assert!(text.contains(key), "{key} is not shown in the example");
    }
}
