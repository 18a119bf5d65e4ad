//! Resumable uploads: a document sent in parts, each acknowledged only once committed, so that
//! after a dropped connection the client asks how much arrived and sends the rest, to any node.
//!
//! A part is accepted only at the offset the upload has reached (`received`), by one
//! conditional update that also moves it: two copies of the same part sent at once cannot both
//! be taken, and no gap or overlap is ever stored.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::accounts::timestamp;
use super::{Db, StorageError, on_pool, on_tx};

/// How long an unfinished upload is kept.
pub const LIFETIME_HOURS: i64 = 24;

/// Unfinished uploads one account may have at once (each holds up to a document's size).
pub const MAX_OPEN_PER_ACCOUNT: i64 = 10;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRow {
    pub id: Uuid,
    pub application_id: Uuid,
    pub account_id: Uuid,
    pub field_key: String,
    pub name_sealed: Vec<u8>,
    pub size_bytes: i64,
    pub received: i64,
    pub created_at: String,
    pub expires_at: String,
}

pub struct NewUpload<'a> {
    pub application_id: Uuid,
    pub account_id: Uuid,
    pub field_key: &'a str,
    pub name_sealed: &'a [u8],
    pub size_bytes: i64,
}

/// Starts an upload; none when the account already has [`MAX_OPEN_PER_ACCOUNT`] open.
pub async fn start(
    db: &Db,
    new: NewUpload<'_>,
    now: DateTime<Utc>,
) -> Result<Option<UploadRow>, StorageError> {
    let id = Uuid::now_v7();
    let expires = timestamp(now + Duration::hours(LIFETIME_HOURS));
    let now_text = timestamp(now);
    let mut tx = db.begin().await?;
    let open: i64 = on_tx!(&mut tx, conn => {
        sqlx::query_scalar("SELECT COUNT(*) FROM upload_sessions WHERE account_id = $1 AND expires_at > $2")
            .bind(new.account_id).bind(&now_text).fetch_one(conn).await
    })?;
    if open >= MAX_OPEN_PER_ACCOUNT {
        return Ok(None);
    }
    on_tx!(&mut tx, conn => {
        sqlx::query("INSERT INTO upload_sessions (id, application_id, account_id, field_key, name_sealed, \
                     size_bytes, received, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)")
            .bind(id).bind(new.application_id).bind(new.account_id).bind(new.field_key)
            .bind(new.name_sealed).bind(new.size_bytes).bind(&now_text).bind(&expires)
            .execute(conn).await.map(|_| ())
    })?;
    tx.commit().await?;
    upload(db, id, new.account_id, now).await
}

/// One's own upload while it has not expired.
pub async fn upload(
    db: &Db,
    id: Uuid,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<UploadRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT id, application_id, account_id, field_key, name_sealed, size_bytes, received, \
                        created_at, expires_at FROM upload_sessions WHERE id = $1 AND account_id = $2 AND expires_at > $3")
        .bind(id).bind(account_id).bind(timestamp(now)).fetch_optional(pool).await
    })?)
}

/// What became of a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Taken: the upload has now received this many bytes.
    Received(i64),
    /// Not at the upload's offset (a part sent twice, or one lost): nothing written; the
    /// offset to go on from.
    WrongOffset(i64),
    /// Empty, or past the size announced: nothing written.
    TooLong,
    NotFound,
}

/// Takes the right to finish a whole upload for a minute (and keeps it from expiring meanwhile);
/// false when it is not whole, not one's own, or another request is finishing it.
pub async fn claim(
    db: &Db,
    id: Uuid,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let now_text = timestamp(now);
    let until = timestamp(now + Duration::minutes(1));
    let later = timestamp(now + Duration::hours(1));
    let n = on_pool!(db, pool => {
        sqlx::query("UPDATE upload_sessions SET finishing_until = $4, \
                     expires_at = CASE WHEN expires_at < $5 THEN $5 ELSE expires_at END \
                     WHERE id = $1 AND account_id = $2 AND received = size_bytes AND expires_at > $3 \
                     AND (finishing_until IS NULL OR finishing_until < $3)")
            .bind(id).bind(account_id).bind(&now_text).bind(&until).bind(&later)
            .execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Gives up the right to finish (the file could not be stored now; the client may try again).
pub async fn release(db: &Db, id: Uuid) -> Result<(), StorageError> {
    on_pool!(db, pool => {
        sqlx::query("UPDATE upload_sessions SET finishing_until = NULL WHERE id = $1")
            .bind(id).execute(pool).await.map(|_| ())
    })?;
    Ok(())
}

/// Appends a non-empty part starting at `offset` to one's own unexpired upload, in one
/// transaction.
pub async fn append(
    db: &Db,
    id: Uuid,
    account_id: Uuid,
    offset: i64,
    len: i64,
    part_sealed: &[u8],
    now: DateTime<Utc>,
) -> Result<Appended, StorageError> {
    if len <= 0 {
        return Ok(Appended::TooLong);
    }
    let now_text = timestamp(now);
    let mut tx = db.begin().await?;
    let moved: Option<i64> = on_tx!(&mut tx, conn => {
        // Each part taken keeps a slow upload alive for another lifetime.
        sqlx::query_scalar("UPDATE upload_sessions SET received = received + $4, expires_at = $6 \
                            WHERE id = $1 AND account_id = $2 \
                            AND received = $3 AND received + $4 <= size_bytes AND expires_at > $5 RETURNING received")
            .bind(id).bind(account_id).bind(offset).bind(len).bind(&now_text)
            .bind(timestamp(now + Duration::hours(LIFETIME_HOURS)))
            .fetch_optional(conn).await
    })?;
    let Some(received) = moved else {
        drop(tx);
        let Some(current) = upload(db, id, account_id, now).await? else {
            return Ok(Appended::NotFound);
        };
        return Ok(if current.received != offset {
            Appended::WrongOffset(current.received)
        } else {
            Appended::TooLong
        });
    };
    on_tx!(&mut tx, conn => {
        sqlx::query("INSERT INTO upload_parts (id, upload_id, position, part_sealed) VALUES ($1, $2, $3, $4)")
            .bind(Uuid::now_v7()).bind(id).bind(offset).bind(part_sealed).execute(conn).await.map(|_| ())
    })?;
    tx.commit().await?;
    Ok(Appended::Received(received))
}

/// The sealed parts of an upload in order.
pub async fn parts(db: &Db, id: Uuid) -> Result<Vec<Vec<u8>>, StorageError> {
    let rows: Vec<(Vec<u8>,)> = on_pool!(db, pool => {
        sqlx::query_as("SELECT part_sealed FROM upload_parts WHERE upload_id = $1 ORDER BY position")
            .bind(id).fetch_all(pool).await
    })?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

/// Deletes an upload and its parts (finished, or refused when whole).
pub async fn remove(db: &Db, id: Uuid) -> Result<(), StorageError> {
    on_pool!(db, pool => {
        sqlx::query("DELETE FROM upload_sessions WHERE id = $1").bind(id).execute(pool).await.map(|_| ())
    })?;
    Ok(())
}

/// Deletes expired uploads with their parts; returns how many.
pub async fn sweep_expired(db: &Db, now: DateTime<Utc>) -> Result<u64, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query("DELETE FROM upload_sessions WHERE expires_at <= $1")
            .bind(timestamp(now)).execute(pool).await.map(|r| r.rows_affected())
    })?)
}
