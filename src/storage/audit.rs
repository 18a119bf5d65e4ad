//! Storage of the audit log. Entries are appended inside the transaction of the change they
//! record, so a change and its entry commit together or not at all.

use chrono::{SecondsFormat, Utc};

use super::{Db, StorageError, Tx, on_pool, on_tx};
use crate::domain::audit::{self, Broken, Entry, entry_hash};

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    scope: String,
    subject: String,
    details: String,
    prev_hash: String,
    hash: String,
}

impl Row {
    fn entry(self) -> Entry {
        Entry {
            seq: self.seq,
            at: self.at,
            actor: self.actor,
            action: self.action,
            scope: self.scope,
            subject: self.subject,
            details: self.details,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

/// What to record.
pub struct NewEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub scope: &'a str,
    pub subject: &'a str,
    /// Compact JSON; never personal data in clear.
    pub details: serde_json::Value,
}

/// Appends an entry at the end of the chain, inside `tx`; returns its number.
pub async fn append(tx: &mut Tx, entry: NewEntry<'_>) -> Result<i64, StorageError> {
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let details = entry.details.to_string();
    on_tx!(tx, conn => {
        // Taking the head row first makes concurrent appends wait their turn.
        sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1").execute(&mut *conn).await?;
        let (seq, prev): (i64, String) =
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *conn).await?;
        let hash = entry_hash(&prev, seq, [&at, entry.actor, entry.action, entry.scope, entry.subject, &details]);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, scope, subject, details, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(seq).bind(&at).bind(entry.actor).bind(entry.action).bind(entry.scope).bind(entry.subject)
        .bind(&details).bind(&prev).bind(&hash)
        .execute(&mut *conn)
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(&hash).execute(&mut *conn).await?;
        Ok::<i64, sqlx::Error>(seq)
    })
    .map_err(StorageError::from)
}

/// Entries in order, optionally only those of one scope.
pub async fn entries(db: &Db, scope: Option<&str>) -> Result<Vec<Entry>, StorageError> {
    let rows: Vec<Row> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT seq, at, actor, action, scope, subject, details, prev_hash, hash FROM audit_log \
             WHERE ($1 IS NULL OR scope = $1) ORDER BY seq",
        )
        .bind(scope)
        .fetch_all(pool)
        .await
    })?;
    Ok(rows.into_iter().map(Row::entry).collect())
}

/// Checks the whole chain, and that its end matches the recorded head (so that cutting entries
/// off the end is noticed too).
pub async fn verify(db: &Db) -> Result<Result<u64, Broken>, StorageError> {
    let all = entries(db, None).await?;
    let checked = match audit::verify(&all) {
        Ok(n) => n,
        Err(broken) => return Ok(Err(broken)),
    };
    let (seq, hash): (i64, String) = on_pool!(db, pool => {
        sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(pool).await
    })?;
    let last = all
        .last()
        .map_or((0, audit::GENESIS.to_owned()), |e| (e.seq, e.hash.clone()));
    if (seq, hash) != last {
        return Ok(Err(Broken::Truncated {
            last: last.0,
            written: seq,
        }));
    }
    Ok(Ok(checked))
}

/// The latest entries whose scope path lies under one of `prefixes` (`/35/35.79/{mpp}` selects
/// that path and everything below it); all entries when `everything`.
pub async fn latest_in(
    db: &Db,
    prefixes: &[String],
    everything: bool,
    limit: i64,
) -> Result<Vec<Entry>, StorageError> {
    let mut rows: Vec<Row> = Vec::new();
    if everything {
        rows = on_pool!(db, pool => {
            sqlx::query_as(
                "SELECT seq, at, actor, action, scope, subject, details, prev_hash, hash FROM audit_log \
                 ORDER BY seq DESC LIMIT $1",
            )
            .bind(limit).fetch_all(pool).await
        })?;
    } else {
        for prefix in prefixes {
            // Scope paths hold region codes, UUIDs and slashes only: no LIKE wildcards.
            let below = format!("{}/%", prefix.trim_end_matches('/'));
            let found: Vec<Row> = on_pool!(db, pool => {
                sqlx::query_as(
                    "SELECT seq, at, actor, action, scope, subject, details, prev_hash, hash FROM audit_log \
                     WHERE scope = $1 OR scope LIKE $2 ORDER BY seq DESC LIMIT $3",
                )
                .bind(prefix).bind(&below).bind(limit).fetch_all(pool).await
            })?;
            rows.extend(found);
        }
        rows.sort_by_key(|r| std::cmp::Reverse(r.seq));
        rows.dedup_by_key(|r| r.seq);
        rows.truncate(usize::try_from(limit).unwrap_or(0));
    }
    Ok(rows.into_iter().map(Row::entry).collect())
}

/// Appends one entry in a transaction of its own (for actions that change nothing else, such as
/// a staff member viewing personal data).
pub async fn record(db: &Db, entry: NewEntry<'_>) -> Result<i64, StorageError> {
    let mut tx = db.begin().await?;
    let seq = append(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(seq)
}
