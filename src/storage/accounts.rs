//! Storage of citizens' accounts, sign-in codes, sessions and the outbox. Personal data is sealed
//! before it reaches this module; lookups go through keyed hashes.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use uuid::Uuid;

use super::{Db, StorageError, on_pool, on_tx};

/// Codes per identifier within [`CODE_WINDOW_MINUTES`].
pub const MAX_CODES_PER_WINDOW: i64 = 5;
pub const CODE_WINDOW_MINUTES: i64 = 15;
/// Wrong tries before a code is dead.
pub const MAX_CODE_ATTEMPTS: i32 = 5;

pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A stored timestamp read back (the epoch for text that is not one, which never happens for
/// values written by [`timestamp`]).
pub fn parse_timestamp(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// A code to send, and the message that carries it, written in one transaction.
pub struct NewCode<'a> {
    pub id: Uuid,
    pub identifier_kind: &'a str,
    pub identifier_hash: &'a [u8],
    pub identifier_sealed: &'a [u8],
    pub code_hash: &'a [u8],
    pub expires_at: DateTime<Utc>,
    pub message: NewMessage<'a>,
}

pub struct NewMessage<'a> {
    pub channel: &'a str,
    pub recipient_sealed: &'a [u8],
    pub subject: &'a str,
    pub body_sealed: &'a [u8],
}

/// Queues a message in the outbox inside the transaction of the change it tells about.
pub async fn queue_message(
    tx: &mut super::Tx,
    message: &NewMessage<'_>,
    now_text: &str,
) -> Result<(), StorageError> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO outbox (id, channel, recipient_sealed, subject, body_sealed, created_at, attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(Uuid::now_v7()).bind(message.channel).bind(message.recipient_sealed)
        .bind(message.subject).bind(message.body_sealed).bind(now_text)
        .execute(conn).await.map(|_| ())
    })?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("too many codes requested")]
    RateLimited,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Stores a sign-in code and queues its message, unless the identifier asked too often.
pub async fn create_code(db: &Db, code: NewCode<'_>, now: DateTime<Utc>) -> Result<(), CodeError> {
    let since = timestamp(now - Duration::minutes(CODE_WINDOW_MINUTES));
    let created = timestamp(now);
    // A write first: on SQLite the transaction then holds the write lock from its start, so
    // concurrent sign-ins wait their turn instead of failing with "database is locked" when a
    // read-then-write transaction finds another writer committed in between.
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, conn => async {
        sqlx::query(
            "INSERT INTO login_codes (id, identifier_kind, identifier_hash, identifier_sealed, code_hash, \
             attempts, used, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 0, FALSE, $6, $7)",
        )
        .bind(code.id).bind(code.identifier_kind).bind(code.identifier_hash).bind(code.identifier_sealed)
        .bind(code.code_hash).bind(&created).bind(timestamp(code.expires_at))
        .execute(&mut *conn).await?;
        sqlx::query(
            "INSERT INTO outbox (id, channel, recipient_sealed, subject, body_sealed, created_at, attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(Uuid::now_v7()).bind(code.message.channel).bind(code.message.recipient_sealed)
        .bind(code.message.subject).bind(code.message.body_sealed).bind(&created)
        .execute(&mut *conn).await?;
        Ok::<(), sqlx::Error>(())
    }.await)
    .map_err(StorageError::from)?;
    // Counted with the new code: over the limit, the transaction is dropped (rolled back).
    let recent: i64 = on_tx!(&mut tx, conn => {
        sqlx::query_scalar("SELECT COUNT(*) FROM login_codes WHERE identifier_hash = $1 AND created_at > $2")
            .bind(code.identifier_hash)
            .bind(&since)
            .fetch_one(conn)
            .await
    })
    .map_err(StorageError::from)?;
    if recent > MAX_CODES_PER_WINDOW {
        return Err(CodeError::RateLimited);
    }
    tx.commit().await?;
    Ok(())
}

/// The outcome of entering a code.
#[derive(Debug)]
pub enum CodeCheck {
    /// Signed in: the account (created on first sign-in) and the new session's token.
    SignedIn { account_id: Uuid, created: bool },
    /// Wrong code; tries left.
    Wrong { attempts_left: i32 },
    /// Unknown, expired, already used, or out of tries.
    Dead,
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    identifier_kind: String,
    identifier_hash: Vec<u8>,
    identifier_sealed: Vec<u8>,
    code_hash: Vec<u8>,
    attempts: i32,
}

/// Checks a code and, when right, creates the account if needed and a session, in one
/// transaction. `matches` compares the stored hash with the entered code's (constant time).
pub async fn check_code(
    db: &Db,
    code_id: Uuid,
    matches: impl Fn(&[u8]) -> bool,
    session_token_hash: &[u8],
    session_ttl: Duration,
    now: DateTime<Utc>,
) -> Result<CodeCheck, StorageError> {
    let now_text = timestamp(now);
    let mut tx = db.begin().await?;
    // Counting the try first locks the row: two tries at once are counted one after the other.
    let row: Option<CodeRow> = on_tx!(&mut tx, conn => {
        sqlx::query_as(
            "UPDATE login_codes SET attempts = attempts + 1 \
             WHERE id = $1 AND used = FALSE AND attempts < $2 AND expires_at > $3 \
             RETURNING identifier_kind, identifier_hash, identifier_sealed, code_hash, attempts",
        )
        .bind(code_id).bind(MAX_CODE_ATTEMPTS).bind(&now_text)
        .fetch_optional(conn)
        .await
    })?;
    let Some(row) = row else {
        return Ok(CodeCheck::Dead);
    };
    if !matches(&row.code_hash) {
        tx.commit().await?;
        return Ok(CodeCheck::Wrong {
            attempts_left: MAX_CODE_ATTEMPTS - row.attempts,
        });
    }
    let new_id = Uuid::now_v7();
    let (account_id, created) = on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE login_codes SET used = TRUE WHERE id = $1").bind(code_id).execute(&mut *conn).await?;
        let inserted = sqlx::query(
            "INSERT INTO accounts (id, kind, identifier_kind, identifier_hash, identifier_sealed, created_at) \
             VALUES ($1, 'citizen', $2, $3, $4, $5) ON CONFLICT (identifier_hash) DO NOTHING",
        )
        .bind(new_id).bind(&row.identifier_kind).bind(&row.identifier_hash).bind(&row.identifier_sealed).bind(&now_text)
        .execute(&mut *conn).await?.rows_affected();
        let id: Uuid = sqlx::query_scalar("SELECT id FROM accounts WHERE identifier_hash = $1")
            .bind(&row.identifier_hash).fetch_one(&mut *conn).await?;
        sqlx::query("INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(session_token_hash).bind(id).bind(&now_text).bind(timestamp(now + session_ttl))
            .execute(&mut *conn).await?;
        Ok::<(Uuid, bool), sqlx::Error>((id, inserted == 1))
    })?;
    tx.commit().await?;
    Ok(CodeCheck::SignedIn {
        account_id,
        created,
    })
}

/// The account behind a live session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionAccount {
    pub account_id: Uuid,
    pub identifier_kind: String,
    pub identifier_sealed: Vec<u8>,
}

pub async fn session(
    db: &Db,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<SessionAccount>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT a.id AS account_id, a.identifier_kind, a.identifier_sealed FROM sessions s \
             JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1 AND s.expires_at > $2 \
             AND s.level <> 'password'",
        )
        .bind(token_hash).bind(timestamp(now))
        .fetch_optional(pool)
        .await
    })?)
}

/// Ends one session, or every session of its account.
pub async fn end_sessions(
    db: &Db,
    token_hash: &[u8],
    everywhere: bool,
) -> Result<u64, StorageError> {
    Ok(on_pool!(db, pool => {
        let sql = if everywhere {
            "DELETE FROM sessions WHERE account_id IN (SELECT account_id FROM sessions WHERE token_hash = $1)"
        } else {
            "DELETE FROM sessions WHERE token_hash = $1"
        };
        sqlx::query(sql).bind(token_hash).execute(pool).await.map(|r| r.rows_affected())
    })?)
}

/// A message in the outbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxMessage {
    pub id: Uuid,
    pub channel: String,
    pub recipient_sealed: Vec<u8>,
    pub subject: String,
    pub body_sealed: Vec<u8>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// Messages due for a delivery attempt (not delivered, not given up, not waiting for a retry, not
/// claimed by another worker), oldest first.
pub async fn pending_messages(
    db: &Db,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxMessage>, StorageError> {
    let now = timestamp(now);
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT id, channel, recipient_sealed, subject, body_sealed, created_at, delivered_at FROM outbox \
             WHERE delivered_at IS NULL AND failed_at IS NULL \
             AND (next_attempt_at IS NULL OR next_attempt_at <= $2) \
             AND (claimed_until IS NULL OR claimed_until < $2) \
             ORDER BY created_at LIMIT $1",
        )
        .bind(limit).bind(&now).fetch_all(pool).await
    })?)
}

/// Claims a message for one delivery attempt for `hold`; false when another worker has it.
pub async fn claim_message(
    db: &Db,
    id: Uuid,
    now: DateTime<Utc>,
    hold: Duration,
) -> Result<bool, StorageError> {
    let now_text = timestamp(now);
    Ok(on_pool!(db, pool => {
        sqlx::query(
            "UPDATE outbox SET claimed_until = $2 WHERE id = $1 AND delivered_at IS NULL AND failed_at IS NULL \
             AND (claimed_until IS NULL OR claimed_until < $3)",
        )
        .bind(id).bind(timestamp(now + hold)).bind(&now_text)
        .execute(pool).await.map(|r| r.rows_affected() == 1)
    })?)
}

/// Records a delivery; false when another worker already delivered it.
pub async fn mark_delivered(db: &Db, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query(
            "UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, claimed_until = NULL, last_error = NULL \
             WHERE id = $1 AND delivered_at IS NULL",
        )
        .bind(id).bind(timestamp(now)).execute(pool).await.map(|r| r.rows_affected() == 1)
    })?)
}

/// Records a failed attempt: the next one waits `retry_after`; after `max_attempts` the message
/// is given up (`failed_at`). `error` names the failure without personal data.
pub async fn mark_failed_attempt(
    db: &Db,
    id: Uuid,
    error: &str,
    now: DateTime<Utc>,
    retry_after: Duration,
    max_attempts: i32,
) -> Result<(), StorageError> {
    let now_text = timestamp(now);
    on_pool!(db, pool => {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, claimed_until = NULL, \
             failed_at = CASE WHEN attempts + 1 >= $4 THEN $5 ELSE NULL END WHERE id = $1 AND delivered_at IS NULL",
        )
        .bind(id).bind(error).bind(timestamp(now + retry_after)).bind(max_attempts).bind(&now_text)
        .execute(pool).await.map(|_| ())
    })?;
    Ok(())
}

/// Delivery state of one message (for tests and, later, the citizen's notification history).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryState {
    pub attempts: i32,
    pub delivered_at: Option<String>,
    pub failed_at: Option<String>,
    pub last_error: Option<String>,
}

pub async fn delivery_states(db: &Db) -> Result<Vec<DeliveryState>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT attempts, delivered_at, failed_at, last_error FROM outbox ORDER BY created_at")
            .fetch_all(pool).await
    })?)
}

/// The latest delivered messages (development and demo mode only).
pub async fn delivered_messages(db: &Db, limit: i64) -> Result<Vec<OutboxMessage>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT id, channel, recipient_sealed, subject, body_sealed, created_at, delivered_at FROM outbox \
             WHERE delivered_at IS NOT NULL ORDER BY created_at DESC LIMIT $1",
        )
        .bind(limit).fetch_all(pool).await
    })?)
}

/// A citizen's profile as stored (sealed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProfileRow {
    pub identifier_kind: String,
    pub identifier_sealed: Vec<u8>,
    pub full_name_sealed: Option<Vec<u8>>,
    pub nik_sealed: Option<Vec<u8>>,
    pub created_at: String,
}

pub async fn profile(db: &Db, account_id: Uuid) -> Result<Option<ProfileRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT identifier_kind, identifier_sealed, full_name_sealed, nik_sealed, created_at FROM accounts WHERE id = $1",
        )
        .bind(account_id)
        .fetch_optional(pool)
        .await
    })?)
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("the NIK belongs to another account")]
    NikTaken,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Saves name and NIK (sealed, with the NIK's lookup hash), and the audit entry, in one
/// transaction. A NIK already on another account is refused.
pub async fn save_profile(
    db: &Db,
    account_id: Uuid,
    full_name_sealed: &[u8],
    nik_sealed: &[u8],
    nik_hash: &[u8],
) -> Result<(), ProfileError> {
    let mut tx = db.begin().await?;
    let taken: Option<Uuid> = on_tx!(&mut tx, conn => {
        sqlx::query_scalar("SELECT id FROM accounts WHERE nik_hash = $1 AND id <> $2")
            .bind(nik_hash).bind(account_id).fetch_optional(conn).await
    })
    .map_err(StorageError::from)?;
    if taken.is_some() {
        return Err(ProfileError::NikTaken);
    }
    on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE accounts SET full_name_sealed = $2, nik_sealed = $3, nik_hash = $4 WHERE id = $1")
            .bind(account_id).bind(full_name_sealed).bind(nik_sealed).bind(nik_hash)
            .execute(conn).await.map(|_| ())
    })
    .map_err(|e| match &e {
        // Two accounts saving the same NIK at once: the unique index decides.
        sqlx::Error::Database(d) if d.is_unique_violation() => ProfileError::NikTaken,
        _ => ProfileError::Storage(e.into()),
    })?;
    let subject = account_id.to_string();
    let entry = super::audit::NewEntry {
        actor: &format!("account:{account_id}"),
        action: "account.profile.update",
        scope: "citizen",
        subject: &subject,
        details: serde_json::json!({ "fields": ["full_name", "nik"] }),
    };
    super::audit::append(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes an account: its sessions go with it (cascade), its sign-in codes are removed, and the
/// audit entry records the deletion under the account's opaque id only.
pub async fn delete_account(db: &Db, account_id: Uuid) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, conn => async {
        let hash: Option<Vec<u8>> = sqlx::query_scalar("SELECT identifier_hash FROM accounts WHERE id = $1")
            .bind(account_id).fetch_optional(&mut *conn).await?;
        if let Some(hash) = hash {
            sqlx::query("DELETE FROM login_codes WHERE identifier_hash = $1").bind(&hash).execute(&mut *conn).await?;
        }
        sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(account_id).execute(&mut *conn).await?;
        // Drafts were never received: they go, with their documents' rows (the bytes follow
        // with the orphan sweep). Sent applications stay as records without the account.
        sqlx::query("DELETE FROM documents WHERE application_id IN \
                     (SELECT id FROM applications WHERE account_id = $1 AND state = 'draft')")
            .bind(account_id).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM applications WHERE account_id = $1 AND state = 'draft'")
            .bind(account_id).execute(&mut *conn).await?;
        // An application this account took as an officer goes back to its UPP's queue.
        sqlx::query("UPDATE applications SET assignee_id = NULL WHERE assignee_id = $1")
            .bind(account_id).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM accounts WHERE id = $1").bind(account_id).execute(&mut *conn).await?;
        Ok::<(), sqlx::Error>(())
    }.await)?;
    let subject = account_id.to_string();
    let entry = super::audit::NewEntry {
        actor: &format!("account:{account_id}"),
        action: "account.delete",
        scope: "citizen",
        subject: &subject,
        details: serde_json::json!({}),
    };
    super::audit::append(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// How many live sessions an account has (for the data export).
pub async fn session_count(
    db: &Db,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<i64, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE account_id = $1 AND expires_at > $2")
            .bind(account_id).bind(timestamp(now)).fetch_one(pool).await
    })?)
}

/// Attempts made so far for a message.
pub async fn delivery_attempts(db: &Db, id: Uuid) -> Result<i32, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_scalar("SELECT attempts FROM outbox WHERE id = $1").bind(id).fetch_one(pool).await
    })?)
}

/// Gives a claimed message back untouched (this node has no channel for it).
pub async fn release_claim(db: &Db, id: Uuid) -> Result<(), StorageError> {
    on_pool!(db, pool => {
        sqlx::query("UPDATE outbox SET claimed_until = NULL WHERE id = $1").bind(id).execute(pool).await.map(|_| ())
    })?;
    Ok(())
}

/// What the password sign-in needs to know about a citizen's account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasswordLogin {
    pub id: Uuid,
    pub password_hash: Option<String>,
    pub password_locked_until: Option<String>,
}

pub async fn password_login(
    db: &Db,
    identifier_hash: &[u8],
) -> Result<Option<PasswordLogin>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT id, password_hash, password_locked_until FROM accounts WHERE identifier_hash = $1")
            .bind(identifier_hash).fetch_optional(pool).await
    })?)
}

/// Counts a wrong password; the fifth in a row locks password sign-in for `lock` (the one-time
/// code still works).
pub async fn password_failure(
    db: &Db,
    id: Uuid,
    now: DateTime<Utc>,
    lock: Duration,
) -> Result<(), StorageError> {
    on_pool!(db, pool => {
        sqlx::query(
            "UPDATE accounts SET password_failures = password_failures + 1, \
             password_locked_until = CASE WHEN password_failures + 1 >= 5 THEN $2 ELSE password_locked_until END \
             WHERE id = $1",
        )
        .bind(id).bind(timestamp(now + lock)).execute(pool).await.map(|_| ())
    })?;
    Ok(())
}

/// Starts a session after a right password, and clears the failures; one transaction.
pub async fn password_session(
    db: &Db,
    id: Uuid,
    token_hash: &[u8],
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let now_text = timestamp(now);
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, conn => async {
        sqlx::query("UPDATE accounts SET password_failures = 0, password_locked_until = NULL WHERE id = $1")
            .bind(id).execute(&mut *conn).await?;
        sqlx::query("INSERT INTO sessions (token_hash, account_id, created_at, expires_at, level) VALUES ($1, $2, $3, $4, 'code')")
            .bind(token_hash).bind(id).bind(&now_text).bind(timestamp(now + ttl))
            .execute(&mut *conn).await?;
        Ok::<(), sqlx::Error>(())
    }.await)?;
    tx.commit().await?;
    Ok(())
}

/// Sets (or replaces) a citizen's password, audited without its content, in one transaction
/// that also ends the account's other sessions and queues the notice telling the person.
pub async fn set_password(
    db: &Db,
    id: Uuid,
    password_hash: &str,
    keep_session: &[u8],
    notice: NewMessage<'_>,
) -> Result<(), StorageError> {
    let now = timestamp(Utc::now());
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, conn => async {
        sqlx::query("UPDATE accounts SET password_hash = $2, password_failures = 0, password_locked_until = NULL WHERE id = $1")
            .bind(id).bind(password_hash).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND token_hash <> $2")
            .bind(id).bind(keep_session).execute(&mut *conn).await?;
        sqlx::query(
            "INSERT INTO outbox (id, channel, recipient_sealed, subject, body_sealed, created_at, attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(Uuid::now_v7()).bind(notice.channel).bind(notice.recipient_sealed)
        .bind(notice.subject).bind(notice.body_sealed).bind(&now)
        .execute(&mut *conn).await?;
        Ok::<(), sqlx::Error>(())
    }.await)?;
    super::audit::append(
        &mut tx,
        super::audit::NewEntry {
            actor: &format!("account:{id}"),
            action: "account.password.set",
            scope: "citizen",
            subject: &id.to_string(),
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// When a live session began.
pub async fn session_started(db: &Db, token_hash: &[u8]) -> Result<Option<String>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_scalar("SELECT created_at FROM sessions WHERE token_hash = $1").bind(token_hash).fetch_optional(pool).await
    })?)
}

/// The stored password hash, if any.
pub async fn password_hash(db: &Db, id: Uuid) -> Result<Option<String>, StorageError> {
    let hash: Option<Option<String>> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT password_hash FROM accounts WHERE id = $1").bind(id).fetch_optional(pool).await
    })?;
    Ok(hash.flatten())
}

/// Whether the account has a password (for the account page).
pub async fn has_password(db: &Db, id: Uuid) -> Result<bool, StorageError> {
    let hash: Option<Option<String>> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT password_hash FROM accounts WHERE id = $1").bind(id).fetch_optional(pool).await
    })?;
    Ok(hash.flatten().is_some())
}
