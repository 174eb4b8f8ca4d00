//! The shipped binary is lean: the release profile carries no debug info and strips the symbol
//! table (with line tables the binary was 154 MiB, without them about 29 MiB; docs/benchmarks.md).
//! A release build is far too slow for the test suite, so this checks the profile that makes it;
//! `co-bench size` measures the binary itself against a budget.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use toml::{Table, Value};

fn workspace_manifest() -> Table {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let text = std::fs::read_to_string(path).unwrap();
    toml::from_str(&text).unwrap()
}

/// `debug` as Cargo reads it: no debug info is `false`, `0` or `"none"` (or nothing, the
/// release default).
fn no_debug_info(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Boolean(false)) | Some(Value::Integer(0)) => true,
        Some(Value::String(s)) => s == "none",
        Some(_) => false,
    }
}

#[test]
fn the_release_profile_ships_no_debug_info_and_no_symbols() {
    let manifest = workspace_manifest();
    let profiles = manifest["profile"].as_table().unwrap();
    let release = profiles["release"].as_table().unwrap();
    assert!(
        no_debug_info(release.get("debug")),
        "[profile.release] debug = {:?}: the shipped binary must carry no debug info (use the \
         release-debug profile for that)",
        release.get("debug")
    );
    assert!(
        matches!(release.get("strip"), Some(Value::Boolean(true)))
            || matches!(release.get("strip"), Some(Value::String(s)) if s == "symbols"),
        "[profile.release] strip = {:?}: the shipped binary must be stripped (\"symbols\")",
        release.get("strip")
    );
    // No per-package override brings debug info back.
    for (name, package) in release
        .get("package")
        .and_then(Value::as_table)
        .into_iter()
        .flatten()
    {
        assert!(
            no_debug_info(package.get("debug")),
            "[profile.release.package.{name:?}] adds debug info to the shipped binary"
        );
    }
    // The profile with symbols kept beside the binary inherits everything else.
    let with_debug = profiles["release-debug"].as_table().unwrap();
    assert_eq!(with_debug["inherits"].as_str(), Some("release"));
    assert_eq!(with_debug["split-debuginfo"].as_str(), Some("packed"));
}

/// Nothing in the repository turns debug info back on for release builds behind the manifest's
/// back (a `.cargo/config.toml` profile or `CARGO_PROFILE_RELEASE_*` in the build scripts).
#[test]
fn nothing_overrides_the_release_profile() {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    for config in [".cargo/config.toml", ".cargo/config"] {
        if let Ok(text) = std::fs::read_to_string(root.join(config)) {
            let table: Table = toml::from_str(&text).unwrap();
            assert!(
                table.get("profile").is_none(),
                "{config} sets a profile; keep profiles in Cargo.toml"
            );
        }
    }
    for entry in std::fs::read_dir(root.join("scripts")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            !text.contains("CARGO_PROFILE_RELEASE"),
            "{} overrides the release profile",
            path.display()
        );
    }
}
