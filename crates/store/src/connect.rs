//! Opening a store: URL → backend, connection settings, migrations, and errors that say what to do.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::MigrateError;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

use crate::{Result, StoreError};

/// SQLite waits this long for another writer (another task or process) before giving up.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `Store::open` waits for a PostgreSQL server to answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 10;
/// Key of the transaction-scoped advisory lock that serialises migrations on PostgreSQL.
const MIGRATION_LOCK_KEY: i64 = 0x636f_5f73_746f_7265; // "co_store"
/// Key of the transaction-scoped advisory lock that serialises run claims on PostgreSQL.
const CLAIM_LOCK_KEY: i64 = 0x636f_5f63_6c61_696d; // "co_claim"
/// Key of the transaction-scoped advisory lock that serialises token deletions on PostgreSQL.
const TOKENS_LOCK_KEY: i64 = 0x636f_5f74_6f6b_656e; // "co_token"

/// Which database a [`crate::Store`] talks to. Everything else about the two is shared; the few
/// statements that must differ live in the methods of this type (the "dialect").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Starts a write transaction. SQLite: `BEGIN IMMEDIATE` takes the write lock up front (waiting
    /// up to the busy timeout), so a transaction never fails half-way with "database is locked"
    /// when it upgrades from reading to writing.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// Starts a read-only transaction that sees one snapshot across several statements.
    pub(crate) fn begin_read(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        }
    }

    /// SQL run first inside a claim transaction ([`crate::Store::claim_run`]) so that claims from
    /// every server happen one after the other: each sees the previous one's result, so a run is
    /// claimed once and per-workflow limits hold. SQLite needs none: `BEGIN IMMEDIATE` already
    /// excludes every other writer.
    pub(crate) fn claim_lock(self) -> Option<String> {
        self.transaction_lock(CLAIM_LOCK_KEY)
    }

    /// SQL run first inside a token deletion ([`crate::Store::delete_token_unless_last`]), so
    /// that "is it the last admin token?" and the delete happen for one deletion at a time on
    /// every server (under PostgreSQL's READ COMMITTED two deletions would each see the other's
    /// token still there). SQLite needs none (`BEGIN IMMEDIATE`).
    pub(crate) fn tokens_lock(self) -> Option<String> {
        self.transaction_lock(TOKENS_LOCK_KEY)
    }

    fn transaction_lock(self, key: i64) -> Option<String> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some(format!("SELECT pg_advisory_xact_lock({key})")),
        }
    }

    /// Appended to a `SELECT … FROM runs r …` whose rows the transaction is about to update:
    /// PostgreSQL locks them and passes over rows another transaction holds (a cancel or a lease
    /// renewal in flight) instead of waiting; SQLite needs nothing (one writer at a time).
    pub(crate) fn lock_claimed_rows(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE OF r SKIP LOCKED",
        }
    }

    /// The SQL expression for a run's `trigger.event` (text, NULL if absent), for filters.
    pub(crate) fn trigger_event(self) -> &'static str {
        match self {
            Backend::Sqlite => "json_extract(trigger, '$.event')",
            Backend::Postgres => "(trigger::json ->> 'event')",
        }
    }

    /// SQL run first inside the migration transaction so that concurrent `open`s migrate one after
    /// the other. SQLite needs none: `BEGIN IMMEDIATE` already excludes every other writer.
    fn migration_lock(self) -> Option<String> {
        self.transaction_lock(MIGRATION_LOCK_KEY)
    }
}

/// What a store URL names.
#[derive(Debug)]
enum Target {
    /// A database file (absolute path), created if missing.
    SqliteFile(PathBuf),
    /// `sqlite::memory:`: private to this `Store` (and its clones), gone when it is dropped.
    SqliteMemory,
    Postgres(String),
}

/// Opens the pool and migrates.
pub(crate) async fn open(url: &str) -> Result<(AnyPool, Backend)> {
    sqlx::any::install_default_drivers();
    // Messages show the URL with any password replaced.
    let shown = redact_url(url);
    let open_err = |reason: String| StoreError::Open {
        url: shown.clone(),
        reason,
    };
    let target = parse_target(url).map_err(&open_err)?;
    let (backend, driver_url, pool_options) = match &target {
        Target::SqliteFile(path) => {
            if let Some(dir) = path.parent() {
                crate::private::create_private_dir_all(dir).map_err(|e| {
                    open_err(format!(
                        "cannot create directory {}: {e}; create it or choose another path \
                         (CONTAINEROPS_DB or --database)",
                        dir.display()
                    ))
                })?;
            }
            crate::private::prepare_sqlite_file(path).map_err(|e| {
                open_err(format!(
                    "cannot create {} owner-only: {e}; check that its directory is writable, or \
                     choose another path (CONTAINEROPS_DB or --database)",
                    path.display()
                ))
            })?;
            let pool = AnyPoolOptions::new().max_connections(SQLITE_MAX_CONNECTIONS);
            (
                Backend::Sqlite,
                sqlite_file_url(path).map_err(&open_err)?,
                pool,
            )
        }
        Target::SqliteMemory => {
            // A named shared-cache database, so that the pool's connection can be replaced; one
            // connection (shared-cache locks are not covered by the busy timeout) that lives as
            // long as the pool, and the database with it.
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let name = format!(
                "containerops-memory-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
            let url = format!("sqlite:file:{name}?mode=memory&cache=shared");
            (Backend::Sqlite, url, pool)
        }
        Target::Postgres(url) => {
            let pool = AnyPoolOptions::new().max_connections(POSTGRES_MAX_CONNECTIONS);
            (Backend::Postgres, url.clone(), pool)
        }
    };
    let options = AnyConnectOptions::from_str(&driver_url).map_err(|e| {
        open_err(match backend {
            Backend::Postgres => format!(
                "invalid PostgreSQL URL: {e}; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            ),
            Backend::Sqlite => format!("invalid SQLite location: {e}"),
        })
    })?;
    let memory = matches!(target, Target::SqliteMemory);
    let mut pool_options = pool_options.after_connect(move |conn, _meta| {
        Box::pin(async move { configure_connection(conn, backend, memory).await })
    });
    if !memory {
        // A connection whose transaction could be neither committed nor rolled back (SQLite
        // rolls back by itself when COMMIT meets a full disk, and the rollback sqlx then sends
        // fails) would refuse every later transaction ("begin_with at non-zero transaction
        // depth") for as long as it lives: close it instead of pooling it. The ping first
        // carries out a rollback still queued by a dropped transaction.
        pool_options = pool_options.after_release(|conn, _meta| {
            Box::pin(async move {
                conn.ping().await?;
                Ok(!conn.is_in_transaction())
            })
        });
    }
    let pool = pool_options.connect_lazy_with(options.clone());

    if memory {
        // The database exists only while a connection to it is open: migrate through the pool,
        // whose one connection stays.
        let mut conn = pool
            .acquire()
            .await
            .map_err(|e| open_err(connect_hint(&e, &target)))?;
        migrate(&mut conn, backend).await.map_err(open_err)?;
    } else {
        // One direct connection first: the pool would retry "connection refused" or a failing
        // setup (e.g. a file that is not a database) until its timeout and then only say
        // "timed out"; this gives the user the real reason at once.
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect_with(&options))
            .await
            .map_err(|_| {
                open_err(format!(
                    "no answer within {} s; check the host and port in the URL and that the \
                     database server is running (for development: `sudo scripts/setup-postgres.sh` \
                     starts PostgreSQL and prints a working URL)",
                    CONNECT_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| open_err(connect_hint(&e, &target)))?;
        configure_connection(&mut conn, backend, memory)
            .await
            .map_err(|e| open_err(connect_hint(&e, &target)))?;
        migrate(&mut conn, backend).await.map_err(open_err)?;
        let _ = conn.close().await;
    }
    Ok((pool, backend))
}

/// `sqlite:///abs/path?mode=rwc` with every byte that could be read as URL syntax (or as a
/// percent escape) percent-encoded; the SQLite driver decodes it back to the exact path.
fn sqlite_file_url(path: &Path) -> std::result::Result<String, String> {
    let text = path.to_str().ok_or_else(|| {
        format!(
            "the path {} is not valid UTF-8; choose another path",
            path.display()
        )
    })?;
    let mut url = String::from("sqlite://");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    Ok(url)
}

/// Per-connection settings (run on every new pooled connection).
async fn configure_connection(
    conn: &mut AnyConnection,
    backend: Backend,
    memory: bool,
) -> std::result::Result<(), sqlx::Error> {
    if backend == Backend::Sqlite {
        let busy = format!("PRAGMA busy_timeout = {}", SQLITE_BUSY_TIMEOUT.as_millis());
        conn.execute(sqlx::raw_sql(&busy)).await?;
        conn.execute(sqlx::raw_sql("PRAGMA foreign_keys = ON"))
            .await?;
        if !memory {
            // WAL: readers never block the writer and vice versa; NORMAL is durable in WAL mode
            // against a crash of the process (only an OS crash may lose the last commits).
            use_wal(conn).await?;
            conn.execute(sqlx::raw_sql("PRAGMA synchronous = NORMAL"))
                .await?;
        }
    }
    Ok(())
}

/// Switches the file to WAL (persistent, so usually a no-op). Switching a fresh file needs an
/// exclusive lock and SQLite then answers SQLITE_BUSY at once instead of calling the busy handler,
/// so when several processes open a new file together, the losers retry here (with a short,
/// growing pause, up to the busy timeout) until the winner has switched it.
async fn use_wal(conn: &mut AnyConnection) -> std::result::Result<(), sqlx::Error> {
    let deadline = tokio::time::Instant::now() + SQLITE_BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        let result = sqlx::query_scalar::<_, String>("PRAGMA journal_mode = WAL")
            .fetch_one(&mut *conn)
            .await;
        match result {
            Ok(mode) => {
                if !mode.eq_ignore_ascii_case("wal") {
                    tracing::warn!(
                        journal_mode = %mode,
                        "SQLite refused WAL mode (a file system without shared memory?); \
                         concurrent readers and writers will block each other"
                    );
                }
                return Ok(());
            }
            Err(e) if is_sqlite_busy(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED, including their extended codes.
fn is_sqlite_busy(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// Runs the embedded migrations in one write transaction, so concurrent openers (threads or
/// processes) apply them exactly once and nobody ever sees a half-migrated schema.
async fn migrate(conn: &mut AnyConnection, backend: Backend) -> std::result::Result<(), String> {
    let mut migrator = sqlx::migrate!("./migrations");
    // Our own lock below replaces sqlx's (a no-op on SQLite, session-scoped on PostgreSQL).
    migrator.set_locking(false);
    let mut tx = conn
        .begin_with(backend.begin_write())
        .await
        .map_err(|e| format!("cannot start the migration transaction: {e}"))?;
    if let Some(lock) = backend.migration_lock() {
        tx.execute(sqlx::raw_sql(&lock))
            .await
            .map_err(|e| format!("cannot take the migration lock: {e}"))?;
    }
    migrator.run_direct(&mut *tx).await.map_err(|e| match e {
        MigrateError::VersionMissing(v) => format!(
            "the database has migration {v}, which this build does not know: it was created by a \
             newer ContainerOps; upgrade, or use another database"
        ),
        other => format!("migrating the schema failed: {other}"),
    })?;
    tx.commit()
        .await
        .map_err(|e| format!("cannot commit the migrations: {e}"))
}

fn parse_target(url: &str) -> std::result::Result<Target, String> {
    let url = url.trim();
    if url.is_empty() {
        return Err(
            "the database URL is empty; give sqlite://PATH, a file path, or \
                    postgres://USER:PASSWORD@HOST:PORT/DATABASE"
                .into(),
        );
    }
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        return Ok(Target::Postgres(url.to_string()));
    }
    let rest = lower
        .starts_with("sqlite:")
        .then(|| &url["sqlite:".len()..])
        .map(|r| r.strip_prefix("//").unwrap_or(r));
    let Some(rest) = rest else {
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(format!(
                "unsupported database scheme {scheme:?}; use sqlite://PATH, a file path, or \
                 postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            ));
        }
        return sqlite_file(Path::new(url));
    };
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    if path == ":memory:" || params.split('&').any(|p| p == "mode=memory") {
        return Ok(Target::SqliteMemory);
    }
    // The driver's own parser: percent-decodes the path and checks the parameters.
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{rest}"))
        .map_err(|e| format!("invalid SQLite URL: {e}; use sqlite://PATH or a plain file path"))?;
    if path.is_empty() {
        return Err("the SQLite URL names no file; use sqlite://PATH or a plain file path".into());
    }
    sqlite_file(options.get_filename())
}

fn sqlite_file(given: &Path) -> std::result::Result<Target, String> {
    std::path::absolute(given)
        .map(Target::SqliteFile)
        .map_err(|e| format!("cannot resolve the path {}: {e}", given.display()))
}

/// Says what went wrong while connecting, and what to do about it.
fn connect_hint(err: &sqlx::Error, target: &Target) -> String {
    match target {
        Target::SqliteFile(path) => sqlite_hint(err, path),
        Target::SqliteMemory => format!("cannot open an in-memory SQLite database: {err}"),
        Target::Postgres(_) => postgres_hint(err),
    }
}

fn sqlite_hint(err: &sqlx::Error, path: &Path) -> String {
    let code = err
        .as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned());
    let what = match code.as_deref() {
        // SQLITE_NOTADB
        Some("26") => format!(
            "{} is not a SQLite database (or it is damaged); move it away or choose another path \
             (CONTAINEROPS_DB or --database)",
            path.display()
        ),
        // SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY
        Some("14") | Some("3") | Some("8") => format!(
            "cannot open {} for writing; check that it and its directory are writable, or choose \
             another path (CONTAINEROPS_DB or --database)",
            path.display()
        ),
        _ => format!("cannot open {}", path.display()),
    };
    format!("{what} ({err})")
}

fn postgres_hint(err: &sqlx::Error) -> String {
    const START: &str =
        "is PostgreSQL running there? Start it (for development and tests `sudo scripts/setup-postgres.sh` \
         installs and starts one and prints its URL) or fix the host and port in the URL";
    match err {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("connection refused; {START}")
        }
        sqlx::Error::Io(io) => format!("cannot reach the server ({io}); {START}"),
        sqlx::Error::PoolTimedOut => format!("the server did not answer in time; {START}"),
        sqlx::Error::Configuration(e) => format!(
            "invalid PostgreSQL URL: {e}; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
        ),
        sqlx::Error::Tls(e) => {
            format!("TLS failed: {e}; check `sslmode` in the URL (e.g. ?sslmode=disable locally)")
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01") | Some("28000") => format!(
                "authentication failed ({}); check the user name and password in the URL",
                db.message()
            ),
            Some("3D000") => format!(
                "{}; create it (e.g. `createdb -O USER NAME` as the postgres user) or fix the \
                 database name in the URL",
                db.message()
            ),
            Some("53300") => format!(
                "the server has no free connections ({}); try again later or raise max_connections",
                db.message()
            ),
            _ => format!("the server refused the connection: {}", db.message()),
        },
        other => format!("cannot connect: {other}"),
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db` (for messages and logs).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@127.0.0.1:5432/db?sslmode=disable"),
            "postgres://u:***@127.0.0.1:5432/db?sslmode=disable"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("/tmp/x.db"), "/tmp/x.db");
    }

    #[test]
    fn sqlite_file_urls_decode_to_the_exact_path() {
        for name in [
            "/tmp/plain.db",
            "/tmp/we%41ird #?&=name [1] é.db",
            "/a b/c+d;e.db",
        ] {
            let url = sqlite_file_url(Path::new(name)).unwrap();
            let options = SqliteConnectOptions::from_str(&url).unwrap();
            assert_eq!(options.get_filename(), Path::new(name), "{url}");
        }
    }

    #[test]
    fn parses_targets() {
        let cwd = std::env::current_dir().unwrap();
        match parse_target("sqlite://rel/dir/x.db").unwrap() {
            Target::SqliteFile(p) => assert_eq!(p, cwd.join("rel/dir/x.db")),
            other => panic!("{other:?}"),
        }
        match parse_target("sqlite:///abs/x.db").unwrap() {
            Target::SqliteFile(p) => assert_eq!(p, PathBuf::from("/abs/x.db")),
            other => panic!("{other:?}"),
        }
        match parse_target("sqlite:/abs/y.db?mode=rwc").unwrap() {
            Target::SqliteFile(p) => assert_eq!(p, PathBuf::from("/abs/y.db")),
            other => panic!("{other:?}"),
        }
        match parse_target("/abs/with space/z.db").unwrap() {
            Target::SqliteFile(p) => assert_eq!(p, PathBuf::from("/abs/with space/z.db")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_target("sqlite::memory:").unwrap(),
            Target::SqliteMemory
        ));
        assert!(matches!(
            parse_target("postgresql://u:p@h/d").unwrap(),
            Target::Postgres(_)
        ));
        assert!(parse_target("mysql://h/d")
            .unwrap_err()
            .contains("unsupported"));
        assert!(parse_target("").unwrap_err().contains("empty"));
    }
}
