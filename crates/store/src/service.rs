//! What the server keeps besides run history: stored workflows and their revisions, registered
//! components, encrypted secrets, API tokens, webhook deliveries, cron ticks, and the run queue
//! with its claims and leases (several servers on one PostgreSQL share the work).
//!
//! Invariants:
//! - Workflow revisions and component versions are immutable once written.
//! - A queued run is claimed by exactly one server (claims are serialised: `BEGIN IMMEDIATE` on
//!   SQLite, a transaction-scoped advisory lock plus `FOR UPDATE SKIP LOCKED` on PostgreSQL), and
//!   per-workflow concurrency limits hold across servers.
//! - A running run is owned by the server whose lease is current; a run whose lease expired is
//!   claimed again (recovered) by exactly one server.
//! - A webhook delivery id and a cron tick start at most one run.
//! - Token deletions are serialised (`BEGIN IMMEDIATE` / an advisory lock), so "not the last admin
//!   token" is checked and acted on atomically.
//!
//! # Tables (migration `0002_server.sql`)
//! - `workflows` (name → latest revision, created/updated) and `workflow_revisions` (name,
//!   revision → yaml): the `workflows` row is the revision counter; a new revision is one
//!   `INSERT … ON CONFLICT (name) DO UPDATE SET latest_revision = latest_revision + 1 RETURNING`,
//!   which both databases execute atomically (PostgreSQL: the row lock makes concurrent writers
//!   wait for each other; SQLite: `BEGIN IMMEDIATE`), then the revision row, in one transaction.
//! - `components` (name, version → yaml), `secrets` (name → ciphertext), `tokens` (id, unique
//!   hash, role).
//! - `deliveries` (workflow, trigger kind, delivery → run id; `0004_delivery_scope.sql` added the
//!   kind) and `cron_ticks` (workflow, trigger index, tick):
//!   their primary keys make "at most once" hold; writers use `INSERT … ON CONFLICT DO NOTHING`
//!   and look at the number of rows inserted.
//! - New `runs` columns: `revision`, `trigger` (JSON), `parent`, `max_concurrency` (part of
//!   [`RunRecord`]), and the queue's own `owner`, `lease_until` (ms since the Unix epoch) and
//!   `cancel_requested` (0/1), which only the methods below change.
//!
//! # How the queue is implemented
//! The protocol is in the crate docs ("The run queue: claims and leases"). Here:
//! - [`Store::claim_run`]: `BEGIN IMMEDIATE` (SQLite) / `BEGIN` + `pg_advisory_xact_lock`
//!   (PostgreSQL, [`crate::Backend`]), then at most four statements: the `max_owned` count, a
//!   `SELECT … FOR UPDATE OF r SKIP LOCKED` of the oldest expired lease, else of the oldest
//!   queued run whose workflow is below its limit (a correlated `COUNT(*)` over the partial
//!   index of running runs), and an `UPDATE … RETURNING` guarded by the status it expects, so a
//!   row that changed in between is never taken twice even without the lock.
//! - [`Store::renew_leases_report`] is one `UPDATE … RETURNING id, cancel_requested`.
//! - [`Store::release_run`] only touches a run its caller holds; a run it hands back while still
//!   `running` gets `lease_until = 0` (expired), so it stays counted against its workflow's limit
//!   until someone recovers it.
//! - [`Store::request_cancel`] tries `queued → cancelled`, then flags a `running` run, in one write
//!   transaction; a claim in between turns the first into the second.
//! - [`Store::enqueue_run`] inserts the delivery first (`ON CONFLICT DO NOTHING`); on PostgreSQL a
//!   concurrent enqueue of the same delivery waits on that key until the first commits, then finds
//!   it and inserts nothing.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::timestamp::now_timestamp;
use crate::ui::{components_column, RevisionSave};
use crate::{
    clean, column, insert_run_error, insert_run_query, normalize_timestamp, read_error,
    run_from_row, Result, RunFilter, RunRecord, RunStatus, Store, StoreError,
};

/// One immutable revision of a stored workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowRevision {
    pub name: String,
    /// 1, 2, 3, … per workflow.
    pub revision: i64,
    /// The YAML as submitted.
    pub yaml: String,
    pub created_at: String,
    /// How the revision's component paths resolve: the reference as written
    /// (`./components/git-clone`) → a registered component version (`git-clone@1.0.0`).
    pub components: BTreeMap<String, String>,
}

/// A stored workflow (its latest revision).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowSummary {
    pub name: String,
    pub latest_revision: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A registered component version (immutable).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentRecord {
    pub name: String,
    pub version: String,
    /// The `component.yaml` text as submitted.
    pub yaml: String,
    pub created_at: String,
}

/// An API token. Only a hash of the token is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    /// SHA-256 of the token, hex.
    #[serde(skip_serializing)]
    pub hash: String,
    /// `admin` (everything) or `viewer` (read only).
    pub role: String,
    pub created_at: String,
}

/// What [`Store::delete_token_unless_last`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenDeletion {
    Deleted,
    /// No token has that id.
    NotFound,
    /// It is the last token with the role to keep; nothing was deleted.
    LastOfRole,
}

/// A webhook delivery id in its scope. The id is the sender's, so it is unique only per workflow
/// and trigger kind: the same id sent to another workflow, or to the same workflow's trigger of
/// another kind, is another delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryKey<'a> {
    pub workflow: &'a str,
    /// The trigger kind as it appears in the webhook's URL: `github`, `gitlab` or `webhook`.
    pub kind: &'a str,
    /// The delivery id the sender gave.
    pub id: &'a str,
}

/// A run claimed by a server.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub run: RunRecord,
    /// The run was already running under another (or an earlier) owner whose lease expired: it
    /// must be recovered, not started.
    pub recovered: bool,
}

/// What [`Store::renew_leases_report`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseRenewal {
    /// Every `running` run the owner holds (their leases were extended), sorted.
    pub held: Vec<String>,
    /// Those of them that were asked to cancel, sorted.
    pub cancel_requested: Vec<String>,
}

macro_rules! token_columns {
    () => {
        "id, name, hash, role, created_at"
    };
}

impl Store {
    // --- workflows --------------------------------------------------------------------------

    /// Store a new revision of workflow `name` (1 if it is new, else latest + 1), atomically:
    /// concurrent writers (tasks or servers) get distinct, consecutive numbers.
    pub async fn put_workflow_revision(&self, name: &str, yaml: &str) -> Result<WorkflowRevision> {
        match self
            .save_workflow_revision(name, yaml, &BTreeMap::new(), None)
            .await?
        {
            RevisionSave::Stored(revision) => Ok(revision),
            RevisionSave::Conflict(_) => Err(StoreError::Database(format!(
                "storing a workflow revision of {name:?}: an unconditional save conflicted"
            ))),
        }
    }

    /// Every stored workflow, by name.
    pub async fn list_workflows(&self) -> Result<Vec<WorkflowSummary>> {
        let rows = sqlx::query(
            "SELECT name, latest_revision, created_at, updated_at FROM workflows ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| read_error(e, "listing workflows"))?;
        let mut list = rows
            .iter()
            .map(|row| {
                Ok(WorkflowSummary {
                    name: column(row, "name")?,
                    latest_revision: column(row, "latest_revision")?,
                    created_at: column(row, "created_at")?,
                    updated_at: column(row, "updated_at")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Byte order whatever the database's collation.
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    /// One revision (`None`: the latest). `NotFound` if there is no such workflow or revision.
    pub async fn get_workflow_revision(
        &self,
        name: &str,
        revision: Option<i64>,
    ) -> Result<WorkflowRevision> {
        let doing = "reading a workflow revision";
        let row = match revision {
            Some(revision) => sqlx::query(
                "SELECT name, revision, yaml, created_at, components FROM workflow_revisions \
                 WHERE name = $1 AND revision = $2",
            )
            .bind(name)
            .bind(revision)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| read_error(e, doing))?,
            None => sqlx::query(
                "SELECT name, revision, yaml, created_at, components FROM workflow_revisions \
                 WHERE name = $1 ORDER BY revision DESC LIMIT 1",
            )
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| read_error(e, doing))?,
        };
        if let Some(row) = row {
            return revision_from_row(&row);
        }
        let known = sqlx::query("SELECT name FROM workflows WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| read_error(e, doing))?
            .is_some();
        Err(StoreError::NotFound(match revision {
            Some(revision) if known => format!("revision {revision} of workflow {name:?}"),
            _ => format!("workflow {name:?}"),
        }))
    }

    /// Every revision of a workflow, oldest first (empty for an unknown workflow: revisions are
    /// never deleted, so every stored workflow has at least one).
    pub async fn list_workflow_revisions(&self, name: &str) -> Result<Vec<WorkflowRevision>> {
        let rows = sqlx::query(
            "SELECT name, revision, yaml, created_at, components FROM workflow_revisions WHERE name = $1 \
             ORDER BY revision",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| read_error(e, "listing workflow revisions"))?;
        rows.iter().map(revision_from_row).collect()
    }

    // --- components -------------------------------------------------------------------------

    /// Register a component version. Registering the same text again is fine (idempotent: the
    /// record stored first is returned); different text for an existing name@version is
    /// `Conflict`.
    pub async fn put_component(
        &self,
        name: &str,
        version: &str,
        yaml: &str,
    ) -> Result<ComponentRecord> {
        let now = now_timestamp();
        let yaml = clean(yaml).into_owned();
        let doing = "registering a component";
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO components (name, version, yaml, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name, version) DO NOTHING",
        )
        .bind(name)
        .bind(version)
        .bind(&yaml)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(|e| read_error(e, doing))?
        .rows_affected();
        if inserted == 1 {
            tx.commit().await.map_err(|e| read_error(e, doing))?;
            return Ok(ComponentRecord {
                name: name.to_string(),
                version: version.to_string(),
                yaml,
                created_at: now,
            });
        }
        let existing = sqlx::query(
            "SELECT name, version, yaml, created_at FROM components \
             WHERE name = $1 AND version = $2",
        )
        .bind(name)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| read_error(e, doing))?;
        tx.commit().await.map_err(|e| read_error(e, doing))?;
        let existing = existing.as_ref().map(component_from_row).transpose()?;
        match existing {
            Some(existing) if existing.yaml == yaml => Ok(existing),
            Some(_) => Err(StoreError::Conflict(format!(
                "component {name}@{version} is already registered with different content; \
                 registered versions never change: give the new content a new version"
            ))),
            None => Err(StoreError::Database(format!(
                "{doing}: component {name}@{version} is neither insertable nor stored"
            ))),
        }
    }

    /// Every component version, by name then version (semantic versions in precedence order,
    /// `1.9.0` before `1.10.0`; any other version text after them, in text order).
    pub async fn list_components(&self) -> Result<Vec<ComponentRecord>> {
        let rows = sqlx::query(
            "SELECT name, version, yaml, created_at FROM components ORDER BY name, version",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| read_error(e, "listing components"))?;
        let mut list = rows
            .iter()
            .map(component_from_row)
            .collect::<Result<Vec<_>>>()?;
        list.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| version_order(&a.version, &b.version))
        });
        Ok(list)
    }

    /// One component version; `NotFound` if it is not registered.
    pub async fn get_component(&self, name: &str, version: &str) -> Result<ComponentRecord> {
        let row = sqlx::query(
            "SELECT name, version, yaml, created_at FROM components \
             WHERE name = $1 AND version = $2",
        )
        .bind(name)
        .bind(version)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| read_error(e, "reading a component"))?;
        match row {
            Some(row) => component_from_row(&row),
            None => Err(StoreError::NotFound(format!("component {name}@{version}"))),
        }
    }

    // --- secrets (the store only sees ciphertext) ------------------------------------------

    /// Set a secret (insert or replace).
    pub async fn put_secret(&self, name: &str, ciphertext: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO secrets (name, ciphertext, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET ciphertext = excluded.ciphertext, \
             updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(clean(ciphertext).as_ref())
        .bind(now_timestamp())
        .execute(&self.pool)
        .await
        .map_err(|e| read_error(e, "storing a secret"))?;
        Ok(())
    }

    /// `true` if it existed.
    pub async fn delete_secret(&self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM secrets WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| read_error(e, "deleting a secret"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Names of every secret, sorted.
    pub async fn list_secret_names(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM secrets ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| read_error(e, "listing secrets"))?;
        let mut names = rows
            .iter()
            .map(|row| column::<String>(row, "name"))
            .collect::<Result<Vec<_>>>()?;
        names.sort();
        Ok(names)
    }

    /// The ciphertext of a secret (`None`: no such secret).
    pub async fn get_secret(&self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT ciphertext FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| read_error(e, "reading a secret"))?;
        row.map(|row| column(&row, "ciphertext")).transpose()
    }

    // --- API tokens -------------------------------------------------------------------------

    /// Record a token. `Conflict` if its id or its hash is already recorded; `Invalid` if
    /// `created_at` is not RFC 3339.
    pub async fn insert_token(&self, token: &TokenRecord) -> Result<()> {
        let created_at = normalize_timestamp(&token.created_at)?;
        sqlx::query(concat!(
            "INSERT INTO tokens (",
            token_columns!(),
            ") VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(&token.id)
        .bind(clean(&token.name).as_ref())
        .bind(&token.hash)
        .bind(&token.role)
        .bind(created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(db) if db.is_unique_violation() => StoreError::Conflict(format!(
                "a token with id {:?} or with the same hash already exists",
                token.id
            )),
            _ => read_error(e, "recording a token"),
        })?;
        Ok(())
    }

    /// The token with this hash, if any.
    pub async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM tokens WHERE hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| read_error(e, "looking up a token"))?;
        row.as_ref().map(token_from_row).transpose()
    }

    /// Every token, oldest first.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM tokens ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| read_error(e, "listing tokens"))?;
        rows.iter().map(token_from_row).collect()
    }

    /// Delete token `id`, unless it is the last token with role `keep` (the last admin token):
    /// the check and the delete are one transaction, serialised with every other deletion
    /// (SQLite `BEGIN IMMEDIATE`; PostgreSQL a transaction-scoped advisory lock), so of two
    /// concurrent deletions of the last two such tokens, on any number of servers, exactly one
    /// succeeds.
    pub async fn delete_token_unless_last(&self, id: &str, keep: &str) -> Result<TokenDeletion> {
        let doing = "deleting a token";
        let mut tx = self.begin_write().await?;
        if let Some(lock) = self.backend.tokens_lock() {
            sqlx::query(&lock)
                .execute(&mut *tx)
                .await
                .map_err(|e| read_error(e, "taking the token lock"))?;
        }
        let role: Option<String> = sqlx::query("SELECT role FROM tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| read_error(e, doing))?
            .map(|row| column(&row, "role"))
            .transpose()?;
        let outcome = match role {
            None => TokenDeletion::NotFound,
            Some(role) => {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM tokens WHERE role = $1")
                    .bind(&role)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| read_error(e, doing))?;
                if role == keep && column::<i64>(&row, "n")? <= 1 {
                    TokenDeletion::LastOfRole
                } else {
                    sqlx::query("DELETE FROM tokens WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| read_error(e, doing))?;
                    TokenDeletion::Deleted
                }
            }
        };
        tx.commit().await.map_err(|e| read_error(e, doing))?;
        Ok(outcome)
    }

    /// Whether any token has role `role` (a server with no admin token left creates one).
    pub async fn has_token_with_role(&self, role: &str) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM tokens WHERE role = $1")
            .bind(role)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| read_error(e, "counting tokens"))?;
        Ok(column::<i64>(&row, "n")? > 0)
    }

    // --- triggers ---------------------------------------------------------------------------

    /// Record that webhook delivery `key` started `run_id`; if that delivery was already
    /// recorded, nothing changes and the run it started is returned. Exactly one of several
    /// concurrent callers with the same delivery gets `None`.
    pub async fn record_delivery(
        &self,
        key: DeliveryKey<'_>,
        run_id: &str,
    ) -> Result<Option<String>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| read_error(e, "recording a delivery"))?;
        insert_delivery(&mut conn, key, run_id).await
    }

    /// Claim the cron tick `tick` (RFC 3339) of trigger `trigger` of `workflow`: `true` for
    /// exactly one caller, whatever the number of servers. The tick is compared as an instant
    /// (any RFC 3339 form of the same instant is the same tick); `Invalid` if it is not RFC 3339.
    pub async fn claim_cron_tick(&self, workflow: &str, trigger: i64, tick: &str) -> Result<bool> {
        let tick = normalize_timestamp(tick)?;
        let done = sqlx::query(
            "INSERT INTO cron_ticks (workflow, trigger_index, tick, claimed_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (workflow, trigger_index, tick) DO NOTHING",
        )
        .bind(workflow)
        .bind(trigger)
        .bind(&tick)
        .bind(now_timestamp())
        .execute(&self.pool)
        .await
        .map_err(|e| read_error(e, "claiming a cron tick"))?;
        Ok(done.rows_affected() == 1)
    }

    // --- the run queue ----------------------------------------------------------------------

    /// Insert a queued run and its delivery record (if any) in one transaction; returns the run
    /// that delivery already started instead, if it was recorded before (nothing is inserted).
    ///
    /// The run is stored with status `queued` whatever `run.status` says, and nobody holds it.
    /// Of several concurrent calls with the same `delivery`, exactly one inserts. `Conflict` if
    /// the run id is taken (then nothing is recorded).
    pub async fn enqueue_run(
        &self,
        run: &RunRecord,
        delivery: Option<DeliveryKey<'_>>,
    ) -> Result<Option<String>> {
        let insert = insert_run_query(run, RunStatus::Queued)?;
        let mut tx = self.begin_write().await?;
        if let Some(key) = delivery {
            // The delivery first: a concurrent enqueue of the same delivery waits here (PostgreSQL:
            // on the key; SQLite: for the write lock) and then finds it recorded.
            if let Some(existing) = insert_delivery(&mut tx, key, &run.id).await? {
                tx.rollback()
                    .await
                    .map_err(|e| read_error(e, "ending an enqueue"))?;
                return Ok(Some(existing));
            }
        }
        insert
            .execute(&mut *tx)
            .await
            .map_err(|e| insert_run_error(e, &run.id))?;
        tx.commit()
            .await
            .map_err(|e| read_error(e, "committing a queued run"))?;
        Ok(None)
    }

    /// Claim the oldest queued run whose workflow is below its concurrency limit, or a running
    /// run whose lease expired before `now_ms` (recovery, preferred); set its owner and lease
    /// (`lease_until_ms`) and, for a queued run, its status to `running`. `None` if there is
    /// nothing to claim. `max_owned`: claim nothing if `owner` already holds this many runs.
    ///
    /// See the module docs for the protocol. A recovered run may be one `owner` itself held
    /// (its own lease expired, e.g. after a restart with the same id): a server that is still
    /// driving that run should simply carry on.
    pub async fn claim_run(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        max_owned: Option<i64>,
    ) -> Result<Option<Claim>> {
        let doing = "claiming a run";
        let mut tx = self.begin_write().await?;
        if let Some(lock) = self.backend.claim_lock() {
            sqlx::query(&lock)
                .execute(&mut *tx)
                .await
                .map_err(|e| read_error(e, "taking the claim lock"))?;
        }
        if let Some(max_owned) = max_owned {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM runs WHERE owner = $1 AND status = 'running'",
            )
            .bind(owner)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| read_error(e, doing))?;
            let held: i64 = column(&row, "n")?;
            if held >= max_owned {
                tx.commit().await.map_err(|e| read_error(e, doing))?;
                return Ok(None);
            }
        }
        let lock_rows = self.backend.lock_claimed_rows();

        // 1. Recovery: a run whose owner stopped renewing its lease.
        let expired = format!(
            "SELECT r.id FROM runs r WHERE r.status = 'running' AND r.lease_until < $1 \
             ORDER BY r.lease_until, r.id LIMIT 1{lock_rows}"
        );
        let candidate = sqlx::query(&expired)
            .bind(now_ms)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| read_error(e, doing))?;
        if let Some(candidate) = candidate {
            let id: String = column(&candidate, "id")?;
            let row = sqlx::query(concat!(
                "UPDATE runs SET owner = $2, lease_until = $3 \
                 WHERE id = $1 AND status = 'running' AND lease_until < $4 RETURNING ",
                run_columns!()
            ))
            .bind(&id)
            .bind(owner)
            .bind(lease_until_ms)
            .bind(now_ms)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| read_error(e, doing))?;
            if let Some(row) = row {
                let run = run_from_row(&row)?;
                tx.commit().await.map_err(|e| read_error(e, doing))?;
                return Ok(Some(Claim {
                    run,
                    recovered: true,
                }));
            }
        }

        // 2. The oldest queued run whose workflow has room.
        let queued = format!(
            "SELECT r.id FROM runs r WHERE r.status = 'queued' AND (r.max_concurrency IS NULL \
             OR r.max_concurrency > (SELECT COUNT(*) FROM runs o WHERE o.status = 'running' \
             AND o.workflow = r.workflow AND o.lease_until IS NOT NULL)) \
             ORDER BY r.created_at, r.id LIMIT 1{lock_rows}"
        );
        let candidate = sqlx::query(&queued)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| read_error(e, doing))?;
        let mut claim = None;
        if let Some(candidate) = candidate {
            let id: String = column(&candidate, "id")?;
            let row = sqlx::query(concat!(
                "UPDATE runs SET status = 'running', owner = $2, lease_until = $3 \
                 WHERE id = $1 AND status = 'queued' RETURNING ",
                run_columns!()
            ))
            .bind(&id)
            .bind(owner)
            .bind(lease_until_ms)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| read_error(e, doing))?;
            if let Some(row) = row {
                claim = Some(Claim {
                    run: run_from_row(&row)?,
                    recovered: false,
                });
            }
        }
        tx.commit().await.map_err(|e| read_error(e, doing))?;
        Ok(claim)
    }

    /// Extend the leases of every run `owner` holds; returns the ids of those runs that were asked
    /// to cancel (sorted). Only `running` runs that `owner` still holds are extended: a run that
    /// another server recovered meanwhile is not (and is not returned). See
    /// [`Store::renew_leases_report`] to also learn which runs are still held.
    pub async fn renew_leases(&self, owner: &str, lease_until_ms: i64) -> Result<Vec<String>> {
        Ok(self
            .renew_leases_report(owner, lease_until_ms)
            .await?
            .cancel_requested)
    }

    /// [`Store::renew_leases`], reporting every run whose lease was extended too. A run the
    /// caller is driving but that is not in `held` was recovered by another server (its lease had
    /// expired): the caller should stop driving it, or a step could run twice.
    pub async fn renew_leases_report(
        &self,
        owner: &str,
        lease_until_ms: i64,
    ) -> Result<LeaseRenewal> {
        let rows = sqlx::query(
            "UPDATE runs SET lease_until = $2 WHERE owner = $1 AND status = 'running' \
             RETURNING id, cancel_requested",
        )
        .bind(owner)
        .bind(lease_until_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| read_error(e, "renewing leases"))?;
        let mut renewal = LeaseRenewal::default();
        for row in &rows {
            let id: String = column(row, "id")?;
            if column::<i64>(row, "cancel_requested")? != 0 {
                renewal.cancel_requested.push(id.clone());
            }
            renewal.held.push(id);
        }
        renewal.held.sort();
        renewal.cancel_requested.sort();
        Ok(renewal)
    }

    /// The run is over (its row already has its final status): drop the owner and the lease.
    ///
    /// Does nothing if `owner` does not hold the run (another server recovered it). A run that is
    /// still `running` when released is handed back: its lease is set to have expired, so the
    /// next claim (by any server) recovers it. `NotFound` for an unknown run.
    pub async fn release_run(&self, run_id: &str, owner: &str) -> Result<()> {
        let done = sqlx::query(
            "UPDATE runs SET owner = NULL, \
             lease_until = CASE WHEN status = 'running' THEN 0 ELSE NULL END \
             WHERE id = $1 AND owner = $2",
        )
        .bind(run_id)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(|e| read_error(e, "releasing a run"))?;
        if done.rows_affected() == 0 {
            self.ensure_run_exists(run_id).await?;
        }
        Ok(())
    }

    /// Ask a run to cancel: a queued run becomes `cancelled` at once (returns `true`); a running
    /// one is flagged for its owner (returns `false`). `NotFound` for an unknown run.
    ///
    /// `run_id` is a full id. A run that is already over is left as it is (`false`). The owner
    /// learns about the flag from [`Store::renew_leases`].
    pub async fn request_cancel(&self, run_id: &str) -> Result<bool> {
        let doing = "cancelling a run";
        let mut tx = self.begin_write().await?;
        let cancelled = sqlx::query(
            "UPDATE runs SET status = 'cancelled', finished_at = $2 \
             WHERE id = $1 AND status = 'queued'",
        )
        .bind(run_id)
        .bind(now_timestamp())
        .execute(&mut *tx)
        .await
        .map_err(|e| read_error(e, doing))?
        .rows_affected();
        if cancelled == 0 {
            let flagged = sqlx::query(
                "UPDATE runs SET cancel_requested = 1 WHERE id = $1 AND status = 'running'",
            )
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| read_error(e, doing))?
            .rows_affected();
            if flagged == 0 {
                let exists = sqlx::query("SELECT id FROM runs WHERE id = $1")
                    .bind(run_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| read_error(e, doing))?
                    .is_some();
                if !exists {
                    return Err(StoreError::NotFound(run_id.to_string()));
                }
            }
        }
        tx.commit().await.map_err(|e| read_error(e, doing))?;
        Ok(cancelled == 1)
    }

    /// Runs with status `queued` (the queue depth).
    pub async fn count_queued(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM runs WHERE status = 'queued'")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| read_error(e, "counting queued runs"))?;
        column(&row, "n")
    }

    /// Runs newest first, continuing after the run `after` (keyset pagination: `(created_at, id)`
    /// of that run). Same filters as [`Store::list_runs`].
    ///
    /// `after` is a full id; `NotFound` if there is no such run. The page is stable under
    /// concurrent inserts: pass the last id of a page to get the next one.
    pub async fn list_runs_after(
        &self,
        filter: &RunFilter,
        after: Option<&str>,
    ) -> Result<Vec<RunRecord>> {
        let anchor = match after {
            Some(after) => {
                let row = sqlx::query("SELECT created_at, id FROM runs WHERE id = $1")
                    .bind(after)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| read_error(e, "looking up the page's last run"))?
                    .ok_or_else(|| StoreError::NotFound(after.to_string()))?;
                Some((
                    column::<String>(&row, "created_at")?,
                    column::<String>(&row, "id")?,
                ))
            }
            None => None,
        };
        let mut sql = String::from(concat!("SELECT ", run_columns!(), " FROM runs"));
        let mut binds: Vec<&str> = Vec::new();
        let mut conditions: Vec<String> = Vec::new();
        let trigger_event = self.backend.trigger_event();
        let status = filter.status.map(RunStatus::as_str);
        for (column, value) in [
            ("workflow", filter.workflow.as_deref()),
            ("status", status),
            (trigger_event, filter.trigger.as_deref()),
        ] {
            if let Some(value) = value {
                binds.push(value);
                conditions.push(format!("{column} = ${}", binds.len()));
            }
        }
        if let Some((created_at, id)) = &anchor {
            binds.push(created_at);
            binds.push(id);
            let (c, i) = (binds.len() - 1, binds.len());
            conditions.push(format!(
                "(created_at < ${c} OR (created_at = ${c} AND id < ${i}))"
            ));
        }
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC");
        let limit = filter.limit.filter(|l| *l >= 0);
        if limit.is_some() {
            sql.push_str(&format!(" LIMIT ${}", binds.len() + 1));
        }
        let mut query = sqlx::query(&sql);
        for value in binds {
            query = query.bind(value);
        }
        if let Some(limit) = limit {
            query = query.bind(limit);
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(|e| read_error(e, "listing runs"))?;
        rows.iter().map(run_from_row).collect()
    }

    /// How many log lines of one attempt are stored (recovery resumes after them).
    pub async fn count_attempt_logs(
        &self,
        run_id: &str,
        step_key: &str,
        attempt: i64,
    ) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM log_lines WHERE run_id = $1 AND step_key = $2 \
             AND attempt = $3",
        )
        .bind(run_id)
        .bind(step_key)
        .bind(attempt)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| read_error(e, "counting log lines"))?;
        column(&row, "n")
    }

    async fn ensure_run_exists(&self, run_id: &str) -> Result<()> {
        sqlx::query("SELECT id FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| read_error(e, "looking up run"))?
            .map(|_| ())
            .ok_or_else(|| StoreError::NotFound(run_id.to_string()))
    }
}

/// Inserts a delivery record unless it exists; `Some(run id)` of the existing record if it does.
async fn insert_delivery(
    conn: &mut sqlx::AnyConnection,
    key: DeliveryKey<'_>,
    run_id: &str,
) -> Result<Option<String>> {
    let doing = "recording a delivery";
    let DeliveryKey { workflow, kind, id } = key;
    let inserted = sqlx::query(
        "INSERT INTO deliveries (workflow, kind, delivery, run_id, recorded_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workflow, kind, delivery) DO NOTHING",
    )
    .bind(workflow)
    .bind(kind)
    .bind(id)
    .bind(run_id)
    .bind(now_timestamp())
    .execute(&mut *conn)
    .await
    .map_err(|e| read_error(e, doing))?
    .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    // The conflicting record is committed (PostgreSQL waits for its transaction before it reports
    // a conflict), and deliveries are never deleted, so it is there.
    let row = sqlx::query(
        "SELECT run_id FROM deliveries WHERE workflow = $1 AND kind = $2 AND delivery = $3",
    )
    .bind(workflow)
    .bind(kind)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| read_error(e, doing))?
    .ok_or_else(|| {
        StoreError::Database(format!(
            "{doing}: {kind} delivery {id:?} of workflow {workflow:?} conflicts but is not stored"
        ))
    })?;
    column(&row, "run_id").map(Some)
}

pub(crate) fn revision_from_row(row: &AnyRow) -> Result<WorkflowRevision> {
    Ok(WorkflowRevision {
        name: column(row, "name")?,
        revision: column(row, "revision")?,
        yaml: column(row, "yaml")?,
        created_at: column(row, "created_at")?,
        components: components_column(row)?,
    })
}

fn component_from_row(row: &AnyRow) -> Result<ComponentRecord> {
    Ok(ComponentRecord {
        name: column(row, "name")?,
        version: column(row, "version")?,
        yaml: column(row, "yaml")?,
        created_at: column(row, "created_at")?,
    })
}

pub(crate) fn token_from_row(row: &AnyRow) -> Result<TokenRecord> {
    Ok(TokenRecord {
        id: column(row, "id")?,
        name: column(row, "name")?,
        hash: column(row, "hash")?,
        role: column(row, "role")?,
        created_at: column(row, "created_at")?,
    })
}

/// Semantic versions first, in precedence order (`1.9.0 < 1.10.0`, `1.0.0-rc.1 < 1.0.0`; ties
/// such as different build metadata in text order), then everything else in text order. A total
/// order (mixing the two comparisons pairwise would not be one).
fn version_order(a: &str, b: &str) -> Ordering {
    match (Semver::parse(a), Semver::parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Semver<'a> {
    core: [u64; 3],
    pre: Vec<&'a str>,
}

impl<'a> Semver<'a> {
    fn parse(text: &'a str) -> Option<Semver<'a>> {
        let text = text.split_once('+').map_or(text, |(v, _build)| v);
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, pre.split('.').collect()),
            None => (text, Vec::new()),
        };
        let mut parts = core.split('.');
        let mut numbers = [0u64; 3];
        for n in &mut numbers {
            let part = parts.next()?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *n = part.parse().ok()?;
        }
        if parts.next().is_some() || pre.iter().any(|p: &&str| p.is_empty()) {
            return None;
        }
        Some(Semver { core: numbers, pre })
    }
}

impl Ord for Semver<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // A pre-release comes before its release.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (x, y) in self.pre.iter().zip(&other.pre) {
                        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                            (Ok(x), Ok(y)) => x.cmp(&y),
                            // Numeric identifiers come before alphanumeric ones.
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            (Err(_), Err(_)) => x.cmp(y),
                        };
                        if order != Ordering::Equal {
                            return order;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            }
        })
    }
}

impl PartialOrd for Semver<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_by_semver_precedence_then_text() {
        let mut versions = vec![
            "1.10.0",
            "1.9.0",
            "1.0.0",
            "1.0.0-rc.1",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta.11",
            "1.0.0-beta.2",
            "2.0.0+build.5",
            "latest",
            "0.1",
            "1.5z",
        ];
        versions.sort_by(|a, b| version_order(a, b));
        assert_eq!(
            versions,
            [
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.9.0",
                "1.10.0",
                "2.0.0+build.5",
                // Not semantic versions: after them, as text.
                "0.1",
                "1.5z",
                "latest",
            ]
        );
    }
}
