//! Fault injection with real parts: a `containerops server` process on real Podman, SQLite and
//! PostgreSQL while the parts under it fail in the middle of a run —
//! - the container engine's API service is killed and started again (while a step runs, and
//!   while steps are to be launched);
//! - PostgreSQL is restarted;
//! - the data directory's file system (SQLite's) fills up, then space comes back;
//! - the server is frozen (SIGSTOP) past its lease while another server takes its run over, then
//!   thawed (SIGCONT).
//!
//! Each time: nothing is lost (every log line once, outputs read), nothing runs twice (one
//! attempt per step, one container per attempt), and every step a fault affected says why.
//! Synchronisation is by polling states with deadlines (the run, its log, the server's log, the
//! engine), never by sleeping for a while.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use harness::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// A private container engine API: `podman system service` on its own socket

/// Podman's Docker-compatible API service on a socket of its own (the same containers and
/// storage as the machine's engine: containers outlive the service, as they outlive a server).
struct PrivateEngine {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateEngine {
    fn start() -> PrivateEngine {
        let mut engine = PrivateEngine {
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        engine.launch();
        engine
    }

    fn socket(&self) -> String {
        self.dir.path().join("podman.sock").display().to_string()
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.socket())
    }

    fn launch(&mut self) {
        let _ = std::fs::remove_file(self.socket());
        let child = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(self.docker_host())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let socket = self.socket();
        poll(
            "the private engine answers",
            Duration::from_secs(60),
            || (engine_at(&socket, "GET", "/_ping").0 == 200).then_some(()),
        );
    }

    /// SIGKILL the API service (its containers go on: conmon keeps them).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        assert_eq!(engine_at(&self.socket(), "GET", "/_ping").0, 0);
    }
}

impl Drop for PrivateEngine {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A private PostgreSQL: its own cluster, port and directory, started and stopped with pg_ctl

struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

/// The newest PostgreSQL server binaries (scripts/setup-postgres.sh installs them).
fn postgres_bin() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<u32> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("no {}: run scripts/setup-postgres.sh ({e})", root.display()))
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort_unstable();
    let version = versions.last().expect("no PostgreSQL version installed");
    root.join(version.to_string()).join("bin")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run a PostgreSQL program as the `postgres` user (the server refuses to run as root).
fn as_postgres(program: &Path, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .output()
        .unwrap()
}

impl PrivatePostgres {
    fn start() -> PrivatePostgres {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let pg = PrivatePostgres {
            bin: postgres_bin(),
            port: free_port(),
            dir,
        };
        let data = pg.data();
        let out = as_postgres(
            &pg.bin.join("initdb"),
            &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.pg_ctl_start();
        pg
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stop at once, as a crash would (`immediate`: no shutdown checkpoint, clients cut off).
    fn stop(&self) {
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A small file system of its own (tmpfs) for the data directory

struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> SmallFs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root (CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallFs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Write until the file system is full (ENOSPC).
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.filler()).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            if let Err(e) = f.write_all(&block).and_then(|()| f.sync_all()) {
                assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
                break;
            }
        }
        // Smaller pieces, so that not even a page is left.
        loop {
            if f.write_all(&[0u8; 512])
                .and_then(|()| f.sync_all())
                .is_err()
            {
                break;
            }
        }
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

// ---------------------------------------------------------------------------------------------
// What every fault test checks at the end

/// The run of `workflow()` succeeded, each step ran once with its outputs, every log line is
/// stored once and in order, and nothing of it is left on the engine.
fn check_complete(server: &Server, run: &str) -> Value {
    let detail = server.finished_run(run);
    assert_eq!(detail["status"], "succeeded", "{detail:#}");
    for action in ["first", "wait", "after"] {
        let s = step(&detail, action);
        assert_eq!(s["status"], "succeeded", "{s:#}");
        assert_eq!(s["attempts"], 1, "{action} ran once: {s:#}");
    }
    assert_eq!(step(&detail, "wait")["outputs"]["got"], "t1");
    let lines = server.logs(run);
    let texts: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["action"].as_str().unwrap(), l["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        texts,
        [
            ("first", "[COUT] token = t1"),
            ("wait", "waiting"),
            ("wait", "[COUT] got = t1"),
            ("wait", "finished"),
            ("after", "after"),
        ]
    );
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    poll(
        "the run's containers removed",
        Duration::from_secs(60),
        || labelled("containers", run).is_empty().then_some(()),
    );
    assert!(labelled("volumes", run).is_empty());
    detail
}

/// The state of the run's `wait` container on the engine (`running`, `exited`, …).
fn wait_container_state(run: &str) -> Option<String> {
    labelled("containers", run)
        .into_iter()
        .find(|c| c["Labels"]["containerops.step"] == "wait")
        .and_then(|c| c["State"].as_str().map(str::to_string))
}

/// Let the run's `wait` step print the rest of its output and exit, and wait until its container
/// has exited on the engine.
fn let_the_step_end(run: &str) {
    std::fs::write(workspace_dir(run).join("go"), "").unwrap();
    poll(
        "the wait step's container exited",
        Duration::from_secs(60),
        || (wait_container_state(run).as_deref() == Some("exited")).then_some(()),
    );
}

// ---------------------------------------------------------------------------------------------
// The faults

#[test]
fn the_engine_api_restarted_in_the_middle_of_a_run() {
    require_engine();
    let mut engine = PrivateEngine::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db").display().to_string();
    let mut options = ServerOptions::new(&db, dir.path(), "engine-fault", "15s");
    options.docker_host = engine.docker_host();
    let mut server = Server::start_with(options);
    server.apply(&workflow("engine-restart"));
    let run = server.start_run("engine-restart");
    wait_for_line(&server, &run, "wait", "waiting");

    engine.kill();
    // While the API is down the step prints the rest of its output and exits.
    let_the_step_end(&run);
    server.wait_for_log(|l| l.contains("container engine") && l.contains("unreachable"));
    engine.launch();

    check_complete(&server, &run);
}

#[test]
fn a_run_started_while_the_engine_api_is_down_fails_with_the_reason() {
    require_engine();
    let mut engine = PrivateEngine::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db").display().to_string();
    let mut options = ServerOptions::new(&db, dir.path(), "engine-down", "15s");
    options.docker_host = engine.docker_host();
    let server = Server::start_with(options);
    server.apply(&workflow("engine-down"));

    engine.kill();
    let run = server.start_run("engine-down");
    let detail = server.finished_run(&run);
    assert_eq!(detail["status"], "failed", "{detail:#}");
    // The run's workspace could not be made: no step ran, and each says why.
    for action in ["first", "wait", "after"] {
        let s = step(&detail, action);
        assert_eq!(s["status"], "skipped", "{s:#}");
        assert_eq!(s["attempts"], 0, "{s:#}");
        let reason = s["error"].as_str().unwrap_or_default();
        assert!(
            reason.contains("workspace")
                && reason.contains("is the container engine still running?"),
            "{s:#}"
        );
    }
    assert!(server.logs(&run).is_empty());

    // Nothing was started behind the server's back: the engine, back, has nothing of the run.
    engine.launch();
    assert!(labelled("containers", &run).is_empty());
    assert!(labelled("volumes", &run).is_empty());
}

#[test]
fn postgres_restarted_in_the_middle_of_a_run() {
    require_engine();
    let pg = PrivatePostgres::start();
    let dir = tempfile::tempdir().unwrap();
    let url = pg.url();
    let mut server = Server::start(&url, dir.path(), "postgres-fault", "15s");
    server.apply(&workflow("postgres-restart"));
    let run = server.start_run("postgres-restart");
    wait_for_line(&server, &run, "wait", "waiting");

    pg.stop();
    // While the database is down the step prints the rest of its output and exits.
    let_the_step_end(&run);
    server.wait_for_log(|l| l.contains("store") && l.contains("unavailable"));
    pg.pg_ctl_start();

    check_complete(&server, &run);
}

#[test]
fn the_data_directory_fills_up_in_the_middle_of_a_run() {
    require_engine();
    let fs = SmallFs::mount("16m");
    let db = fs.path().join("containerops.db").display().to_string();
    let mut server = Server::start(&db, fs.path(), "disk-fault", "15s");
    server.apply(&workflow("disk-full"));
    let run = server.start_run("disk-full");
    wait_for_line(&server, &run, "wait", "waiting");

    fs.fill();
    let_the_step_end(&run);
    server.wait_for_log(|l| l.contains("store") && l.contains("unavailable"));
    fs.free();

    check_complete(&server, &run);
}

#[test]
fn a_server_frozen_past_its_lease_while_another_takes_over_then_thawed() {
    require_engine();
    let dir = tempfile::tempdir().unwrap();
    let database = postgres_url();
    let a = Server::start(&database, dir.path(), "frozen-a", "2s");
    a.apply(&workflow("frozen"));
    let run = a.start_run("frozen");
    wait_for_line(&a, &run, "wait", "waiting");

    a.signal("STOP");
    let mut b = Server::start(&database, dir.path(), "frozen-b", "2s");
    b.wait_for_log(|l| l.contains("recovering") && l.contains(&run));
    // The step ends while its first server is frozen: that server has its exit (and the rest of
    // its output) waiting for it when it thaws.
    std::fs::write(workspace_dir(&run).join("go"), "").unwrap();
    let detail = check_complete(&b, &run);

    let mut a = a;
    a.signal("CONT");
    a.wait_for_log(|l| l.contains("no longer") && l.contains(&run));
    // Nothing the thawed server did changed the run.
    assert_eq!(b.run(&run), detail);
    assert_eq!(b.logs(&run).len(), 5);
    assert!(labelled("containers", &run).is_empty());
}
