//! Runs recorded before migration 0005 keep their `secret`-typed inputs in clear in
//! `runs.inputs`. Migration 0007 lists them in `unsealed_runs`; whoever holds the key (a server)
//! reads them with [`Store::unsealed_runs`] and rewrites each with [`Store::seal_run_inputs`],
//! which takes it off the list in the same transaction, so the sweep is done once, survives
//! being interrupted, and two servers starting together do each run once.

use serde_json::Value;

use crate::{json_text, read_error, run_from_row, write_error, Backend, Result, RunRecord, Store};

impl Store {
    /// At most `limit` runs still listed as unsealed (by id).
    pub async fn unsealed_runs(&self, limit: i64) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE id IN (SELECT run_id FROM unsealed_runs) ORDER BY id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| read_error(e, "reading the runs whose inputs are not sealed"))?;
        rows.iter().map(run_from_row).collect()
    }

    /// Replace the inputs of an unsealed run with `inputs` (as they may be shown) and its
    /// `secret_inputs` with `sealed` (ciphertext, or `None`), and take it off the list, in one
    /// transaction. `false` (and nothing written) when it is no longer listed: another server
    /// did it first.
    pub async fn seal_run_inputs(
        &self,
        run_id: &str,
        inputs: &Value,
        sealed: Option<&str>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let listed = sqlx::query("DELETE FROM unsealed_runs WHERE run_id = $1")
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, run_id, "taking a run off the unsealed list"))?
            .rows_affected();
        if listed == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE runs SET inputs = $2, secret_inputs = $3 WHERE id = $1")
            .bind(run_id)
            .bind(json_text(inputs)?)
            .bind(sealed.map(str::to_string))
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, run_id, "sealing a run's inputs"))?;
        tx.commit()
            .await
            .map_err(|e| write_error(e, run_id, "sealing a run's inputs"))?;
        Ok(true)
    }

    /// After rows were rewritten to remove what they held: make the database's files forget the
    /// old versions too. SQLite keeps them in free pages and the write-ahead log until reused, so
    /// the file is rebuilt (`VACUUM`) and the log emptied. PostgreSQL keeps dead row versions
    /// until it reuses their space; rewriting a table (`VACUUM FULL`) locks it against every
    /// server sharing the database, so that is left to the operator: `false` says it was not
    /// done here.
    pub async fn forget_old_row_versions(&self) -> Result<bool> {
        match self.backend {
            Backend::Sqlite => {
                for sql in ["VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"] {
                    sqlx::query(sql)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| read_error(e, "rebuilding the database file"))?;
                }
                Ok(true)
            }
            Backend::Postgres => Ok(false),
        }
    }
}
