//! `secrets set|list|delete` against the server: values from stdin or a file (never argv), never
//! printed, and usable by runs.

use crate::support::{Cli, Server, BUSYBOX};

#[test]
fn secrets_are_set_from_stdin_or_a_file_listed_by_name_and_deleted() {
    let server = Server::start();
    let empty = server.cli().args(["secrets", "list"]).run();
    empty.success();
    assert_eq!(empty.stdout, "", "{empty:?}");
    assert!(empty.stderr.contains("no secrets"), "{empty:?}");

    // stdin (a pipe): without its one trailing newline
    let piped = server.file("token.txt", "s3cr3t-value\n");
    let set = server
        .cli()
        .args(["secrets", "set", "DEPLOY_TOKEN"])
        .stdin_file(&piped)
        .run();
    set.success();
    assert_eq!(set.stdout, "secret DEPLOY_TOKEN set\n", "{set:?}");
    // --from-file: the exact bytes
    let key = server.file("key.txt", "line1\nline2\n");
    server
        .cli()
        .args(["secrets", "set", "KEY_FILE", "--from-file"])
        .arg(&key)
        .run()
        .success();

    let list = server.cli().args(["secrets", "list"]).run();
    list.success();
    assert_eq!(list.stdout, "DEPLOY_TOKEN\nKEY_FILE\n", "{list:?}");
    let json = server
        .cli()
        .args(["secrets", "list", "--output", "json"])
        .run();
    json.success();
    assert_eq!(json.stdout.trim(), r#"["DEPLOY_TOKEN","KEY_FILE"]"#);
    for out in [&set, &list, &json] {
        assert!(!out.stdout.contains("s3cr3t") && !out.stderr.contains("s3cr3t"));
    }

    // A run sees both values as they were given.
    let yaml = format!(
        "name: usesec\nstages:\n  - name: main\n    actions:\n      - name: check\n        image: {BUSYBOX}\n        env: {{ T: \"${{{{ secrets.DEPLOY_TOKEN }}}}\", K: \"${{{{ secrets.KEY_FILE }}}}\" }}\n        command: [\"sh\", \"-c\", \"[ \\\"$T\\\" = s3cr3t-value ] && echo token-ok; echo key bytes $(printf %s \\\"$K\\\" | wc -c)\"]\n"
    );
    server.apply("usesec", &yaml);
    let run = server
        .cli()
        .args(["runs", "start", "usesec", "--wait"])
        .run();
    run.success();
    assert!(
        run.stdout.contains("check | token-ok") && run.stdout.contains("check | key bytes 12"),
        "{run:?}"
    );

    // An empty value is refused; nothing is stored.
    let nothing = server.file("empty.txt", "\n");
    let refused = server
        .cli()
        .args(["secrets", "set", "EMPTY"])
        .stdin_file(&nothing)
        .run();
    refused.code(2);
    assert!(refused.stderr.contains("is empty"), "{refused:?}");

    let deleted = server
        .cli()
        .args(["secrets", "delete", "DEPLOY_TOKEN"])
        .run();
    deleted.success();
    assert_eq!(deleted.stdout, "secret DEPLOY_TOKEN deleted\n");
    let again = server
        .cli()
        .args(["secrets", "delete", "DEPLOY_TOKEN"])
        .run();
    again.code(2);
    assert!(again.stderr.contains("no secret named"), "{again:?}");
    let list = server.cli().args(["secrets", "list"]).run();
    assert_eq!(list.stdout, "KEY_FILE\n", "{list:?}");

    // Without a server: a usage error that says what to do.
    let local = Cli::new(&server.dir.path().join("nobody"))
        .args(["secrets", "list"])
        .run();
    local.code(2);
    assert!(local.stderr.contains("--server"), "{local:?}");
}
