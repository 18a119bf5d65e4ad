//! Storage of staff: credentials, role grants, invitation and reset links, API tokens, and the
//! assurance level of sessions. Personal data arrives sealed; passwords and tokens as hashes.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::accounts::{NewMessage, timestamp};
use super::audit::NewEntry;
use super::{Db, StorageError, Tx, on_pool, on_tx};
use crate::domain::roles::{Grant, Role, Scope};

/// Password or code attempts in a row before the account waits [`LOCK_MINUTES`].
pub const MAX_FAILURES: i32 = 5;
pub const LOCK_MINUTES: i64 = 15;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub role: String,
    pub region_code: Option<String>,
    pub mpp_id: Option<Uuid>,
    pub tenant_id: Option<Uuid>,
    pub created_at: String,
}

impl GrantRow {
    /// The grant, when the row is well formed (the table cannot say "a tenant needs an MPP").
    pub fn grant(&self) -> Option<Grant> {
        let role = Role::parse(&self.role)?;
        let scope = match (&self.region_code, self.mpp_id, self.tenant_id) {
            (_, Some(mpp), Some(tenant)) => Scope::Tenant { mpp, tenant },
            (_, Some(mpp), None) => Scope::Mpp(mpp),
            (Some(code), None, None) => Scope::Region(code.clone()),
            (None, None, None) => Scope::National,
            _ => return None,
        };
        Grant::new(role, scope)
    }
}

/// The columns of a scope: (region code, MPP, tenant).
pub fn scope_columns(scope: &Scope) -> (Option<&str>, Option<Uuid>, Option<Uuid>) {
    match scope {
        Scope::Tenant { mpp, tenant } => (None, Some(*mpp), Some(*tenant)),
        Scope::Mpp(mpp) => (None, Some(*mpp), None),
        Scope::Region(code) => (Some(code.as_str()), None, None),
        Scope::National => (None, None, None),
    }
}

macro_rules! grant_columns {
    () => {
        "id, account_id, role, region_code, mpp_id, tenant_id, created_at"
    };
}

pub async fn grants(db: &Db, account_id: Uuid) -> Result<Vec<GrantRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", grant_columns!(), " FROM role_grants WHERE account_id = $1 ORDER BY created_at"))
            .bind(account_id).fetch_all(pool).await
    })?)
}

/// Every grant (the staff list filters them by the viewer's scope).
pub async fn all_grants(db: &Db) -> Result<Vec<GrantRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", grant_columns!(), " FROM role_grants ORDER BY created_at"))
            .fetch_all(pool).await
    })?)
}

/// The sealed e-mail addresses of accounts, for the staff list.
pub async fn identifiers(db: &Db, ids: &[Uuid]) -> Result<Vec<(Uuid, Vec<u8>)>, StorageError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row: Option<(Uuid, Vec<u8>)> = on_pool!(db, pool => {
            sqlx::query_as("SELECT id, identifier_sealed FROM accounts WHERE id = $1").bind(id).fetch_optional(pool).await
        })?;
        out.extend(row);
    }
    Ok(out)
}

async fn insert_grant(
    tx: &mut Tx,
    account_id: Uuid,
    grant: &Grant,
    by: &str,
    now: &str,
) -> Result<(), StorageError> {
    let (region, mpp, tenant) = scope_columns(&grant.scope);
    let held: Vec<GrantRow> = on_tx!(tx, conn => {
        sqlx::query_as(concat!("SELECT ", grant_columns!(), " FROM role_grants WHERE account_id = $1"))
            .bind(account_id).fetch_all(conn).await
    })?;
    // Holding the same grant twice changes nothing.
    if held.iter().any(|g| g.grant().as_ref() == Some(grant)) {
        return Ok(());
    }
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO role_grants (id, account_id, role, region_code, mpp_id, tenant_id, granted_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(Uuid::now_v7()).bind(account_id).bind(grant.role.as_str()).bind(region).bind(mpp).bind(tenant)
        .bind(by).bind(now)
        .execute(conn).await.map(|_| ())
    })?;
    Ok(())
}

/// The account with this identifier, created when missing (a person invited to a role may not
/// have signed in as a citizen before).
async fn account_for(
    tx: &mut Tx,
    identifier_hash: &[u8],
    identifier_sealed: &[u8],
    now: &str,
) -> Result<Uuid, StorageError> {
    let id = Uuid::now_v7();
    Ok(on_tx!(tx, conn => async {
        sqlx::query(
            "INSERT INTO accounts (id, kind, identifier_kind, identifier_hash, identifier_sealed, created_at) \
             VALUES ($1, 'citizen', 'email', $2, $3, $4) ON CONFLICT (identifier_hash) DO NOTHING",
        )
        .bind(id).bind(identifier_hash).bind(identifier_sealed).bind(now)
        .execute(&mut *conn).await?;
        sqlx::query_scalar::<_, Uuid>("SELECT id FROM accounts WHERE identifier_hash = $1")
            .bind(identifier_hash).fetch_one(&mut *conn).await
    }.await)?)
}

async fn set_password(
    tx: &mut Tx,
    account_id: Uuid,
    password_hash: &str,
    now: &str,
) -> Result<(), StorageError> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO staff_credentials (account_id, password_hash, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET password_hash = excluded.password_hash, \
             failed_attempts = 0, locked_until = NULL, updated_at = excluded.updated_at",
        )
        .bind(account_id).bind(password_hash).bind(now)
        .execute(conn).await.map(|_| ())
    })?;
    Ok(())
}

/// A staff account made directly (the first national admin by `mpp admin`, the demo accounts):
/// the account, its password, optionally an already confirmed TOTP secret, and its grants.
pub struct DirectStaff<'a> {
    pub identifier_hash: &'a [u8],
    pub identifier_sealed: &'a [u8],
    pub password_hash: &'a str,
    pub totp_secret_sealed: Option<&'a [u8]>,
    pub grants: &'a [Grant],
}

pub async fn create_direct(
    db: &Db,
    staff: DirectStaff<'_>,
    actor: &str,
) -> Result<Uuid, StorageError> {
    let now = timestamp(Utc::now());
    let mut tx = db.begin().await?;
    let account_id = account_for(
        &mut tx,
        staff.identifier_hash,
        staff.identifier_sealed,
        &now,
    )
    .await?;
    set_password(&mut tx, account_id, staff.password_hash, &now).await?;
    if let Some(secret) = staff.totp_secret_sealed {
        on_tx!(&mut tx, conn => {
            sqlx::query("UPDATE staff_credentials SET totp_secret_sealed = $2, totp_confirmed_at = $3 WHERE account_id = $1")
                .bind(account_id).bind(secret).bind(&now).execute(conn).await.map(|_| ())
        })?;
    }
    for grant in staff.grants {
        insert_grant(&mut tx, account_id, grant, actor, &now).await?;
    }
    let roles: Vec<&str> = staff.grants.iter().map(|g| g.role.as_str()).collect();
    super::audit::append(
        &mut tx,
        NewEntry {
            actor,
            action: "staff.create",
            scope: "national",
            subject: &account_id.to_string(),
            details: serde_json::json!({ "roles": roles }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(account_id)
}

/// What the password step needs to know about a staff account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffLogin {
    pub account_id: Uuid,
    pub password_hash: String,
    pub failed_attempts: i32,
    pub locked_until: Option<String>,
}

pub async fn login(db: &Db, identifier_hash: &[u8]) -> Result<Option<StaffLogin>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT c.account_id, c.password_hash, c.failed_attempts, c.locked_until FROM staff_credentials c \
             JOIN accounts a ON a.id = c.account_id WHERE a.identifier_hash = $1",
        )
        .bind(identifier_hash).fetch_optional(pool).await
    })?)
}

/// Reserves one password or code attempt, before it is checked: counted in one statement that
/// also locks the account for [`LOCK_MINUTES`] when it is the fifth in a row, so requests sent in
/// parallel get no more tries than requests sent one by one. False when the account is locked.
pub async fn reserve_attempt(
    db: &Db,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let now_text = timestamp(now);
    let until = timestamp(now + Duration::minutes(LOCK_MINUTES));
    let reserved: Option<i32> = on_pool!(db, pool => {
        sqlx::query_scalar(
            "UPDATE staff_credentials SET \
             failed_attempts = CASE WHEN locked_until IS NOT NULL AND locked_until <= $2 THEN 1 ELSE failed_attempts + 1 END, \
             locked_until = CASE WHEN locked_until IS NOT NULL AND locked_until <= $2 THEN NULL \
                                 WHEN failed_attempts + 1 >= $3 THEN $4 ELSE locked_until END \
             WHERE account_id = $1 AND (locked_until IS NULL OR locked_until <= $2) RETURNING failed_attempts",
        )
        .bind(account_id).bind(&now_text).bind(MAX_FAILURES).bind(&until)
        .fetch_optional(pool).await
    })?;
    Ok(reserved.is_some())
}

/// A right password or code: the attempts in a row start again.
pub async fn clear_attempts(db: &Db, account_id: Uuid) -> Result<(), StorageError> {
    on_pool!(db, pool => {
        sqlx::query("UPDATE staff_credentials SET failed_attempts = 0, locked_until = NULL WHERE account_id = $1")
            .bind(account_id).execute(pool).await.map(|_| ())
    })?;
    Ok(())
}

/// Starts a session at level `password` (the second factor still to come).
pub async fn start_password_session(
    db: &Db,
    account_id: Uuid,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    on_pool!(db, pool => {
        sqlx::query("INSERT INTO sessions (token_hash, account_id, created_at, expires_at, level) VALUES ($1, $2, $3, $4, 'password')")
            .bind(token_hash).bind(account_id).bind(timestamp(now)).bind(timestamp(now + Duration::minutes(10)))
            .execute(pool).await.map(|_| ())
    })?;
    Ok(())
}

/// A live session and its level.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeveledSession {
    pub account_id: Uuid,
    pub level: String,
    pub identifier_sealed: Vec<u8>,
}

pub async fn session(
    db: &Db,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<LeveledSession>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT s.account_id, s.level, a.identifier_sealed FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash).bind(timestamp(now)).fetch_optional(pool).await
    })?)
}

/// The TOTP state of an account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpState {
    pub totp_secret_sealed: Option<Vec<u8>>,
    pub totp_confirmed_at: Option<String>,
    pub totp_last_step: i64,
    pub failed_attempts: i32,
    pub locked_until: Option<String>,
}

pub async fn totp_state(db: &Db, account_id: Uuid) -> Result<Option<TotpState>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT totp_secret_sealed, totp_confirmed_at, totp_last_step, failed_attempts, locked_until \
             FROM staff_credentials WHERE account_id = $1",
        )
        .bind(account_id).fetch_optional(pool).await
    })?)
}

/// Stores a new, unconfirmed TOTP secret; a confirmed one is never replaced here.
pub async fn set_pending_totp(
    db: &Db,
    account_id: Uuid,
    sealed: &[u8],
) -> Result<bool, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query("UPDATE staff_credentials SET totp_secret_sealed = $2 WHERE account_id = $1 AND totp_confirmed_at IS NULL")
            .bind(account_id).bind(sealed).execute(pool).await.map(|r| r.rows_affected() == 1)
    })?)
}

/// Accepts a TOTP code's time step for the session: the step must be later than the last one
/// used (checked in the UPDATE, so two requests with one code cannot both pass), the session is
/// raised to level `totp` for `ttl`, failures reset, and the sign-in is audited.
pub async fn accept_totp(
    db: &Db,
    account_id: Uuid,
    session_token_hash: &[u8],
    step: i64,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let now_text = timestamp(now);
    let mut tx = db.begin().await?;
    let (credentials, sessions) = on_tx!(&mut tx, conn => async {
        let c = sqlx::query(
            "UPDATE staff_credentials SET totp_last_step = $2, failed_attempts = 0, locked_until = NULL, \
             totp_confirmed_at = COALESCE(totp_confirmed_at, $3) WHERE account_id = $1 AND totp_last_step < $2",
        )
        .bind(account_id).bind(step).bind(&now_text).execute(&mut *conn).await?.rows_affected();
        let s = sqlx::query(
            "UPDATE sessions SET level = 'totp', expires_at = $3 WHERE token_hash = $1 AND account_id = $2 AND level = 'password'",
        )
        .bind(session_token_hash).bind(account_id).bind(timestamp(now + ttl)).execute(&mut *conn).await?.rows_affected();
        Ok::<(u64, u64), sqlx::Error>((c, s))
    }.await)?;
    if credentials != 1 || sessions != 1 {
        return Ok(false);
    }
    super::audit::append(
        &mut tx,
        NewEntry {
            actor: &format!("account:{account_id}"),
            action: "staff.sign_in",
            scope: "staff",
            subject: &account_id.to_string(),
            details: serde_json::json!({ "factors": ["password", "totp"] }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// Invitation and reset links

pub struct NewLink<'a> {
    pub purpose: &'a str,
    pub token_hash: &'a [u8],
    pub identifier_hash: &'a [u8],
    pub identifier_sealed: &'a [u8],
    pub grant: Option<&'a Grant>,
    pub created_by: &'a str,
    pub expires_at: DateTime<Utc>,
    /// The e-mail carrying the link; none when the link is handed over another way (the CLI).
    pub message: Option<NewMessage<'a>>,
    /// The audit scope path of the invitation.
    pub audit_scope: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("too many links for this address")]
    RateLimited,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Links per address within an hour.
pub const MAX_LINKS_PER_HOUR: i64 = 5;

/// Stores a link and queues its message in one transaction (an invitation is audited).
pub async fn create_link(db: &Db, link: NewLink<'_>, now: DateTime<Utc>) -> Result<(), LinkError> {
    let now_text = timestamp(now);
    let since = timestamp(now - Duration::hours(1));
    let mut tx = db.begin().await?;
    let recent: i64 = on_tx!(&mut tx, conn => {
        sqlx::query_scalar("SELECT COUNT(*) FROM staff_links WHERE identifier_hash = $1 AND purpose = $2 AND created_at > $3")
            .bind(link.identifier_hash).bind(link.purpose).bind(&since).fetch_one(conn).await
    })
    .map_err(StorageError::from)?;
    if recent >= MAX_LINKS_PER_HOUR {
        return Err(LinkError::RateLimited);
    }
    let (region, mpp, tenant) = link
        .grant
        .map_or((None, None, None), |g| scope_columns(&g.scope));
    let id = Uuid::now_v7();
    on_tx!(&mut tx, conn => async {
        sqlx::query(
            "INSERT INTO staff_links (id, purpose, token_hash, identifier_hash, identifier_sealed, role, region_code, \
             mpp_id, tenant_id, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id).bind(link.purpose).bind(link.token_hash).bind(link.identifier_hash).bind(link.identifier_sealed)
        .bind(link.grant.map(|g| g.role.as_str())).bind(region).bind(mpp).bind(tenant)
        .bind(link.created_by).bind(&now_text).bind(timestamp(link.expires_at))
        .execute(&mut *conn).await?;
        if let Some(message) = &link.message {
            sqlx::query(
                "INSERT INTO outbox (id, channel, recipient_sealed, subject, body_sealed, created_at, attempts) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0)",
            )
            .bind(Uuid::now_v7()).bind(message.channel).bind(message.recipient_sealed)
            .bind(message.subject).bind(message.body_sealed).bind(&now_text)
            .execute(&mut *conn).await?;
        }
        Ok::<(), sqlx::Error>(())
    }.await)
    .map_err(StorageError::from)?;
    if let Some(grant) = link.grant {
        super::audit::append(
            &mut tx,
            NewEntry {
                actor: link.created_by,
                action: "staff.invite",
                scope: link.audit_scope,
                subject: &id.to_string(),
                details: serde_json::json!({ "role": grant.role.as_str() }),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkRow {
    pub id: Uuid,
    pub purpose: String,
    pub identifier_hash: Vec<u8>,
    pub identifier_sealed: Vec<u8>,
    pub role: Option<String>,
    pub region_code: Option<String>,
    pub mpp_id: Option<Uuid>,
    pub tenant_id: Option<Uuid>,
    /// `cli`, or `account:{id}` of the inviter.
    pub created_by: String,
}

impl LinkRow {
    pub fn grant(&self) -> Option<Grant> {
        GrantRow {
            id: self.id,
            account_id: self.id,
            role: self.role.clone()?,
            region_code: self.region_code.clone(),
            mpp_id: self.mpp_id,
            tenant_id: self.tenant_id,
            created_at: String::new(),
        }
        .grant()
    }
}

/// A link that is still usable.
pub async fn live_link(
    db: &Db,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<LinkRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT id, purpose, identifier_hash, identifier_sealed, role, region_code, mpp_id, tenant_id, created_by FROM staff_links \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash).bind(timestamp(now)).fetch_optional(pool).await
    })?)
}

/// Uses a link once: sets the password; for an invitation, creates the account if needed and
/// grants the role; for a reset, ends every session of the account. False when the link was used
/// meanwhile (a double submit).
/// Uses a link once: an invitation adds its role (and sets the password of an account that has
/// none: `password_hash` is `None` for an account that already has one, which keeps it); a
/// reset sets the password and ends everything the old one opened.
pub async fn use_link(
    db: &Db,
    link: &LinkRow,
    password_hash: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, StorageError> {
    let now_text = timestamp(now);
    let mut tx = db.begin().await?;
    let claimed = on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE staff_links SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
            .bind(link.id).bind(&now_text).execute(conn).await.map(|r| r.rows_affected())
    })?;
    if claimed != 1 {
        return Ok(None);
    }
    let account_id = account_for(
        &mut tx,
        &link.identifier_hash,
        &link.identifier_sealed,
        &now_text,
    )
    .await?;
    if let Some(hash) = password_hash {
        set_password(&mut tx, account_id, hash, &now_text).await?;
    }
    let action = if let Some(grant) = link.grant() {
        insert_grant(
            &mut tx,
            account_id,
            &grant,
            &format!("link:{}", link.id),
            &now_text,
        )
        .await?;
        "staff.invitation.accept"
    } else {
        // A reset is what someone does when the account may be in other hands: every session,
        // every API token and every other pending reset link of the account ends with it.
        on_tx!(&mut tx, conn => async {
            sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(account_id).execute(&mut *conn).await?;
            sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL")
                .bind(account_id).bind(&now_text).execute(&mut *conn).await?;
            sqlx::query("UPDATE staff_links SET used_at = $2 WHERE identifier_hash = $1 AND purpose = 'reset' AND used_at IS NULL")
                .bind(&link.identifier_hash).bind(&now_text).execute(&mut *conn).await?;
            Ok::<(), sqlx::Error>(())
        }.await)?;
        "staff.password.reset"
    };
    super::audit::append(
        &mut tx,
        NewEntry {
            actor: &format!("account:{account_id}"),
            action,
            scope: "staff",
            subject: &link.id.to_string(),
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some(account_id))
}

/// Whether an account with this identifier holds a staff password (for resets).
pub async fn staff_account_by_identifier(
    db: &Db,
    identifier_hash: &[u8],
) -> Result<Option<Uuid>, StorageError> {
    Ok(login(db, identifier_hash).await?.map(|l| l.account_id))
}

// ---------------------------------------------------------------------------------------------
// API tokens

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub scopes: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

pub struct NewToken<'a> {
    pub account_id: Uuid,
    pub name: &'a str,
    pub token_hash: &'a [u8],
    pub scopes: &'a str,
    pub expires_at: DateTime<Utc>,
}

pub async fn create_token(db: &Db, token: NewToken<'_>) -> Result<Uuid, StorageError> {
    let id = Uuid::now_v7();
    let now = timestamp(Utc::now());
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, conn => {
        sqlx::query(
            "INSERT INTO api_tokens (id, account_id, name, token_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id).bind(token.account_id).bind(token.name).bind(token.token_hash).bind(token.scopes)
        .bind(&now).bind(timestamp(token.expires_at)).execute(conn).await.map(|_| ())
    })?;
    super::audit::append(
        &mut tx,
        NewEntry {
            actor: &format!("account:{}", token.account_id),
            action: "api_token.create",
            scope: "staff",
            subject: &id.to_string(),
            details: serde_json::json!({ "scopes": token.scopes }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn tokens(db: &Db, account_id: Uuid) -> Result<Vec<TokenRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT id, account_id, name, scopes, created_at, expires_at, revoked_at, last_used_at FROM api_tokens \
             WHERE account_id = $1 ORDER BY created_at DESC",
        )
        .bind(account_id).fetch_all(pool).await
    })?)
}

/// Revokes one of the account's own tokens; false when there is no such live token.
pub async fn revoke_token(db: &Db, account_id: Uuid, token_id: Uuid) -> Result<bool, StorageError> {
    let mut tx = db.begin().await?;
    let done = on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL")
            .bind(token_id).bind(account_id).bind(timestamp(Utc::now())).execute(conn).await.map(|r| r.rows_affected())
    })?;
    if done == 1 {
        super::audit::append(
            &mut tx,
            NewEntry {
                actor: &format!("account:{account_id}"),
                action: "api_token.revoke",
                scope: "staff",
                subject: &token_id.to_string(),
                details: serde_json::json!({}),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(done == 1)
}

/// The live token with this hash; its last use is recorded (at most once a minute).
pub async fn token_by_hash(
    db: &Db,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<TokenRow>, StorageError> {
    let now_text = timestamp(now);
    let row: Option<TokenRow> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT id, account_id, name, scopes, created_at, expires_at, revoked_at, last_used_at FROM api_tokens \
             WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash).bind(&now_text).fetch_optional(pool).await
    })?;
    if let Some(row) = &row {
        let stale = row
            .last_used_at
            .as_deref()
            .is_none_or(|t| t < timestamp(now - Duration::minutes(1)).as_str());
        if stale {
            on_pool!(db, pool => {
                sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1").bind(row.id).bind(&now_text).execute(pool).await.map(|_| ())
            })?;
        }
    }
    Ok(row)
}

/// One grant, by id.
pub async fn grant_by_id(db: &Db, id: Uuid) -> Result<Option<GrantRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", grant_columns!(), " FROM role_grants WHERE id = $1"))
            .bind(id).fetch_optional(pool).await
    })?)
}

/// Removes a grant and audits it; the person keeps their account (and any other grants), and
/// loses the role at their next request.
pub async fn revoke_grant(
    db: &Db,
    id: Uuid,
    actor: &str,
    audit_scope: &str,
) -> Result<bool, StorageError> {
    let mut tx = db.begin().await?;
    let row: Option<GrantRow> = on_tx!(&mut tx, conn => {
        sqlx::query_as(concat!("SELECT ", grant_columns!(), " FROM role_grants WHERE id = $1"))
            .bind(id).fetch_optional(conn).await
    })?;
    let Some(row) = row else {
        return Ok(false);
    };
    on_tx!(&mut tx, conn => {
        sqlx::query("DELETE FROM role_grants WHERE id = $1").bind(id).execute(conn).await.map(|_| ())
    })?;
    super::audit::append(
        &mut tx,
        NewEntry {
            actor,
            action: "staff.revoke",
            scope: audit_scope,
            subject: &row.account_id.to_string(),
            details: serde_json::json!({ "role": row.role, "grant": id }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
