//! Storage of applications: forms per service, applications, and the history of their steps.
//!
//! A step is decided by `domain::application` on the state read inside the step's transaction,
//! after the row is locked (its first statement is a write), so two officers taking the same
//! application at once cannot both succeed, and no step the domain refuses is ever written.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::accounts::NewMessage;
use super::accounts::timestamp;
use super::audit::NewEntry;
use super::{Db, StorageError, Tx, on_pool, on_tx};
use crate::domain::application::{ApplicationAction, ApplicationState, Entered, IllegalStep};

/// A service's form definition (JSON of `domain::form::FormDef`) and its version.
pub async fn form(db: &Db, service_id: Uuid) -> Result<Option<(String, i32)>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT definition, version FROM application_forms WHERE service_id = $1")
            .bind(service_id).fetch_optional(pool).await
    })?)
}

/// Every service's current form (for the catalog export); a definition that no longer reads is
/// left out.
pub async fn current_forms(
    db: &Db,
) -> Result<std::collections::HashMap<Uuid, crate::domain::form::FormDef>, StorageError> {
    let rows: Vec<(Uuid, String)> = on_pool!(db, pool => {
        sqlx::query_as("SELECT service_id, definition FROM application_forms").fetch_all(pool).await
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, json)| Some((id, serde_json::from_str(&json).ok()?)))
        .collect())
}

/// A service's form as it was at `version` (what an application made with it is checked by).
pub async fn form_at(
    db: &Db,
    service_id: Uuid,
    version: i32,
) -> Result<Option<String>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_scalar("SELECT definition FROM application_form_versions WHERE service_id = $1 AND version = $2")
            .bind(service_id).bind(version).fetch_optional(pool).await
    })?)
}

/// Saves a service's form as its next version (audited); returns the version. Earlier versions
/// stay readable with `form_at`.
pub async fn save_form(
    db: &Db,
    service_id: Uuid,
    definition: &str,
    actor: &str,
    audit_scope: &str,
) -> Result<i32, StorageError> {
    let mut tx = db.begin().await?;
    let version = write_form(&mut tx, service_id, definition, actor, audit_scope).await?;
    tx.commit().await?;
    Ok(version)
}

/// A service's current form read inside a transaction.
pub(super) async fn form_in(tx: &mut Tx, service_id: Uuid) -> Result<Option<String>, StorageError> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT definition FROM application_forms WHERE service_id = $1")
            .bind(service_id).fetch_optional(&mut *conn).await
    })?)
}

/// Writes a service's form as its next version, kept in the versions, and its audit entry.
pub(super) async fn write_form(
    tx: &mut Tx,
    service_id: Uuid,
    definition: &str,
    actor: &str,
    audit_scope: &str,
) -> Result<i32, StorageError> {
    let now = timestamp(Utc::now());
    let version: i32 = on_tx!(tx, conn => {
        let version: i32 = sqlx::query_scalar(
            "INSERT INTO application_forms (service_id, definition, version, updated_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (service_id) DO UPDATE SET definition = excluded.definition, \
             version = application_forms.version + 1, updated_at = excluded.updated_at RETURNING version",
        )
        .bind(service_id).bind(definition).bind(&now).fetch_one(&mut *conn).await?;
        sqlx::query("INSERT INTO application_form_versions (service_id, version, definition, created_at) \
                     VALUES ($1, $2, $3, $4)")
            .bind(service_id).bind(version).bind(definition).bind(&now)
            .execute(&mut *conn).await.map(|_| version)
    })?;
    super::audit::append(
        tx,
        NewEntry {
            actor,
            action: "service.form",
            scope: audit_scope,
            subject: &service_id.to_string(),
            details: serde_json::json!({ "version": version }),
        },
    )
    .await?;
    Ok(version)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApplicationRow {
    pub id: Uuid,
    pub tracking_code: String,
    pub service_id: Uuid,
    pub tenant_id: Uuid,
    pub mpp_id: Uuid,
    pub account_id: Option<Uuid>,
    pub state: String,
    pub answers_sealed: Vec<u8>,
    pub form_version: i32,
    pub assignee_id: Option<Uuid>,
    pub limit_days: Option<i32>,
    pub due_on: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The citizen's bundle application this one was made in, if any.
    pub bundle_application_id: Option<Uuid>,
}

macro_rules! application_columns {
    () => {
        "id, tracking_code, service_id, tenant_id, mpp_id, account_id, state, answers_sealed, form_version, \
         assignee_id, limit_days, due_on, created_at, updated_at, bundle_application_id"
    };
}

pub struct NewApplication<'a> {
    pub service_id: Uuid,
    pub tenant_id: Uuid,
    pub mpp_id: Uuid,
    pub account_id: Uuid,
    pub tracking_code: &'a str,
    pub answers_sealed: &'a [u8],
    pub form_version: i32,
    pub limit_days: Option<i32>,
    /// A retried request with the same key returns the draft the first one made.
    pub idempotency_key: &'a str,
}

/// Starts a draft (or returns the one this key already started).
pub async fn create_draft(
    db: &Db,
    new: NewApplication<'_>,
    now: DateTime<Utc>,
) -> Result<ApplicationRow, StorageError> {
    let now_text = timestamp(now);
    let inserted: Result<ApplicationRow, sqlx::Error> = on_pool!(db, pool => {
        sqlx::query_as(concat!(
            "INSERT INTO applications (id, tracking_code, service_id, tenant_id, mpp_id, account_id, state, answers_sealed, \
             form_version, limit_days, idempotency_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8, $9, $10, $11, $11) RETURNING ", application_columns!()))
        .bind(Uuid::now_v7()).bind(new.tracking_code).bind(new.service_id).bind(new.tenant_id).bind(new.mpp_id)
        .bind(new.account_id).bind(new.answers_sealed).bind(new.form_version).bind(new.limit_days)
        .bind(new.idempotency_key).bind(&now_text)
        .fetch_one(pool).await
    });
    match inserted {
        Ok(row) => Ok(row),
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            let existing: Option<ApplicationRow> = on_pool!(db, pool => {
                sqlx::query_as(concat!("SELECT ", application_columns!(), " FROM applications WHERE account_id = $1 AND idempotency_key = $2"))
                    .bind(new.account_id).bind(new.idempotency_key).fetch_optional(pool).await
            })?;
            existing.ok_or(StorageError::Sql(sqlx::Error::Database(d)))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn application(db: &Db, id: Uuid) -> Result<Option<ApplicationRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", application_columns!(), " FROM applications WHERE id = $1"))
            .bind(id).fetch_optional(pool).await
    })?)
}

/// New answers for one application the citizen holds, checked with its form `form_version`.
pub struct Answers<'a> {
    pub id: Uuid,
    pub sealed: &'a [u8],
    pub form_version: i32,
}

/// Replaces the answers of one's own applications while the citizen holds them (drafts, or
/// ones sent back for revision), all or none in one transaction. A draft moves to the form
/// version it was checked with; an application already sent keeps the version it was sent with.
/// False when any is not held: nothing is written.
pub async fn save_answers(
    db: &Db,
    account_id: Uuid,
    answers: &[Answers<'_>],
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let mut tx = db.begin().await?;
    for a in answers {
        let done = on_tx!(&mut tx, conn => {
            sqlx::query("UPDATE applications SET answers_sealed = $3, updated_at = $4, \
                         form_version = CASE WHEN state = 'draft' THEN $5 ELSE form_version END \
                         WHERE id = $1 AND account_id = $2 AND state IN ('draft', 'needs_revision')")
                .bind(a.id).bind(account_id).bind(a.sealed).bind(timestamp(now)).bind(a.form_version)
                .execute(conn).await.map(|r| r.rows_affected())
        })?;
        if done != 1 {
            return Ok(false);
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// One step of an application's life.
pub struct Step<'a> {
    pub action: ApplicationAction,
    /// `account:{id}` or `token:{id}`, as in the audit log.
    pub actor: &'a str,
    /// For a citizen's step: the account that must own the application (someone else's is
    /// not found).
    pub owner: Option<Uuid>,
    /// The officer who takes it (for `take`).
    pub assignee: Option<Uuid>,
    /// What to fix, or why rejected: sealed.
    pub note_sealed: Option<&'a [u8]>,
    /// The MPP's local date of the step.
    pub day: NaiveDate,
    /// The due date from the history including this step (`domain::application::due_date`
    /// with the application's calendar), computed inside the step's transaction.
    pub due: &'a (dyn Fn(&[Entered]) -> Option<NaiveDate> + Sync),
    /// The output document attached with this step.
    pub document: Option<NewDocument<'a>>,
    /// The message telling the citizen, queued in the same transaction.
    pub notice: Option<NewMessage<'a>>,
    pub audit_scope: &'a str,
    /// For sending: the application as the sending check read it.
    pub checked: Option<Checked<'a>>,
}

/// What a sending check was made on. The step is refused (`StepError::Changed`) when the
/// application changed since (answers or uploads saved in between would be sent unchecked),
/// and a draft moves to the form version it was checked with.
pub struct Checked<'a> {
    pub updated_at: &'a str,
    pub form_version: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("no such application")]
    NotFound,
    #[error("the application changed since it was checked")]
    Changed,
    #[error(transparent)]
    Illegal(#[from] IllegalStep),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sqlx::Error> for StepError {
    fn from(e: sqlx::Error) -> StepError {
        StepError::Storage(e.into())
    }
}

/// Takes one step, if the application's state allows it; writes the new state, the due date,
/// the history entry, any document and notice, and the audit entry together.
pub async fn step(
    db: &Db,
    id: Uuid,
    step: Step<'_>,
    now: DateTime<Utc>,
) -> Result<ApplicationRow, StepError> {
    let mut tx = db.begin().await?;
    let row = step_in(&mut tx, id, step, now).await?;
    tx.commit().await?;
    Ok(row)
}

/// Several steps in one transaction: all are taken, or none (a bundle's applications are sent
/// together).
pub async fn step_all(
    db: &Db,
    steps: Vec<(Uuid, Step<'_>)>,
    now: DateTime<Utc>,
) -> Result<Vec<ApplicationRow>, StepError> {
    let mut tx = db.begin().await?;
    let mut rows = Vec::with_capacity(steps.len());
    for (id, step) in steps {
        rows.push(step_in(&mut tx, id, step, now).await?);
    }
    tx.commit().await?;
    Ok(rows)
}

/// [`step`] inside a caller's transaction (a bundle sends all its applications in one).
pub async fn step_in(
    tx: &mut super::Tx,
    id: Uuid,
    step: Step<'_>,
    now: DateTime<Utc>,
) -> Result<ApplicationRow, StepError> {
    let now_text = timestamp(now);
    // A write first (changing nothing yet): the row is ours until the commit.
    let current: Option<ApplicationRow> = on_tx!(tx, conn => {
        sqlx::query_as(concat!("UPDATE applications SET updated_at = updated_at WHERE id = $1 \
                                AND ($2 IS NULL OR account_id = $2) RETURNING ", application_columns!()))
            .bind(id).bind(step.owner).fetch_optional(conn).await
    })?;
    let current = current.ok_or(StepError::NotFound)?;
    let from = ApplicationState::parse(&current.state).ok_or(StepError::NotFound)?;
    let next = from.apply(step.action)?;
    if let Some(checked) = &step.checked
        && checked.updated_at != current.updated_at
    {
        return Err(StepError::Changed);
    }
    let form_version = match (&step.checked, from) {
        (Some(checked), ApplicationState::Draft) => checked.form_version,
        _ => current.form_version,
    };
    let assignee = match step.action {
        ApplicationAction::Take => step.assignee,
        ApplicationAction::Release => None,
        _ => current.assignee_id,
    };
    let past: Vec<(String, String)> = on_tx!(tx, conn => {
        sqlx::query_as("SELECT state, day FROM application_events WHERE application_id = $1 ORDER BY at, id")
            .bind(id).fetch_all(conn).await
    })?;
    let mut entered: Vec<Entered> = past
        .iter()
        .filter_map(|(state, day)| {
            Some(Entered {
                state: ApplicationState::parse(state)?,
                day: NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?,
            })
        })
        .collect();
    entered.push(Entered {
        state: next,
        day: step.day,
    });
    let due_on = (step.due)(&entered).map(|d| d.format("%Y-%m-%d").to_string());
    let updated: ApplicationRow = on_tx!(tx, conn => {
        // A new due date (a resubmission moved it) is watched afresh.
        sqlx::query_as(concat!("UPDATE applications SET state = $2, assignee_id = $3, due_on = $4, \
                                sla_flag = CASE WHEN due_on IS NOT DISTINCT FROM $4 THEN sla_flag ELSE NULL END, \
                                updated_at = $5, form_version = $6 WHERE id = $1 RETURNING ", application_columns!()))
            .bind(id).bind(next.as_str()).bind(assignee).bind(&due_on).bind(&now_text).bind(form_version)
            .fetch_one(conn).await
    })?;
    on_tx!(tx, conn => {
        sqlx::query("INSERT INTO application_events (id, application_id, at, day, action, state, actor, note_sealed) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(Uuid::now_v7()).bind(id).bind(&now_text).bind(step.day.format("%Y-%m-%d").to_string())
            .bind(step.action.as_str()).bind(next.as_str()).bind(step.actor).bind(step.note_sealed)
            .execute(conn).await.map(|_| ())
    })?;
    if let Some(doc) = &step.document {
        insert_document(tx, id, doc, &now_text).await?;
    }
    if let Some(notice) = &step.notice {
        super::accounts::queue_message(tx, notice, &now_text).await?;
    }
    super::audit::append(
        tx,
        NewEntry {
            actor: step.actor,
            action: &format!("application.{}", step.action.as_str()),
            scope: step.audit_scope,
            subject: &id.to_string(),
            details: serde_json::json!({ "from": from.as_str(), "to": next.as_str() }),
        },
    )
    .await?;
    Ok(updated)
}

/// A document to record (its bytes are already durable in the blob store).
pub struct NewDocument<'a> {
    pub field_key: &'a str,
    /// `input` (the citizen's) or `output` (the officer's result).
    pub kind: &'a str,
    pub sha256: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub name_sealed: &'a [u8],
    pub uploaded_by: &'a str,
}

async fn insert_document(
    tx: &mut super::Tx,
    application_id: Uuid,
    doc: &NewDocument<'_>,
    now_text: &str,
) -> Result<(), StorageError> {
    on_tx!(tx, conn => async {
        // While a draft, a replaced upload is not part of any record: its row goes (and its
        // bytes with the orphan sweep). Once sent, the earlier document stays as history.
        sqlx::query("DELETE FROM documents WHERE application_id = $1 AND field_key = $2 AND kind = $3 \
                     AND replaced_at IS NULL AND (SELECT state FROM applications WHERE id = $1) = 'draft'")
            .bind(application_id).bind(doc.field_key).bind(doc.kind).execute(&mut *conn).await?;
        sqlx::query("UPDATE documents SET replaced_at = $3 WHERE application_id = $1 AND field_key = $2 AND kind = $4 \
                     AND replaced_at IS NULL")
            .bind(application_id).bind(doc.field_key).bind(now_text).bind(doc.kind).execute(&mut *conn).await?;
        sqlx::query("INSERT INTO documents (id, application_id, field_key, kind, sha256, content_type, size_bytes, \
                     name_sealed, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(Uuid::now_v7()).bind(application_id).bind(doc.field_key).bind(doc.kind).bind(doc.sha256)
            .bind(doc.content_type).bind(doc.size_bytes).bind(doc.name_sealed).bind(doc.uploaded_by).bind(now_text)
            .execute(&mut *conn).await?;
        Ok::<(), sqlx::Error>(())
    }.await)?;
    Ok(())
}

/// Documents an application may have recorded in all (current and replaced): enough for any
/// form and its revisions, not for filling a disk.
pub const MAX_DOCUMENTS_PER_APPLICATION: i64 = 60;

/// What became of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Yes,
    /// Not the citizen's, or not theirs to change any more: nothing written.
    NotHeld,
    /// The application has [`MAX_DOCUMENTS_PER_APPLICATION`] already: nothing written.
    TooMany,
}

/// Records a citizen's upload to a document field of their own application while they hold
/// it (draft, or sent back for revision); it takes the place of the field's earlier document.
pub async fn add_document(
    db: &Db,
    application_id: Uuid,
    account_id: Uuid,
    doc: NewDocument<'_>,
    now: DateTime<Utc>,
) -> Result<Added, StorageError> {
    add_document_to_all(db, &[application_id], account_id, doc, now).await
}

/// Whether the citizen holds the application now (draft, or sent back for a fix): checked
/// before an upload's bytes are stored.
pub async fn held_by(
    db: &Db,
    application_id: Uuid,
    account_id: Uuid,
) -> Result<bool, StorageError> {
    let n: i64 = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM applications WHERE id = $1 AND account_id = $2 \
                            AND state IN ('draft', 'needs_revision')")
            .bind(application_id).bind(account_id).fetch_one(pool).await
    })?;
    Ok(n == 1)
}

/// Deletes a citizen's own draft that was never sent, with its documents' rows (their bytes
/// go with the orphan sweep): nothing of it was ever received, so nothing of it is kept.
pub async fn discard_draft(db: &Db, id: Uuid, account_id: Uuid) -> Result<bool, StorageError> {
    let mut tx = db.begin().await?;
    let n = on_tx!(&mut tx, conn => async {
        let n = sqlx::query("UPDATE applications SET updated_at = updated_at WHERE id = $1 AND account_id = $2 AND state = 'draft'")
            .bind(id).bind(account_id).execute(&mut *conn).await?.rows_affected();
        if n == 1 {
            sqlx::query("DELETE FROM documents WHERE application_id = $1").bind(id).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM applications WHERE id = $1").bind(id).execute(&mut *conn).await?;
        }
        Ok::<u64, sqlx::Error>(n)
    }.await)?;
    tx.commit().await?;
    Ok(n == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocumentRow {
    pub id: Uuid,
    pub application_id: Uuid,
    pub field_key: String,
    pub kind: String,
    pub sha256: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub name_sealed: Vec<u8>,
    pub uploaded_at: String,
}

macro_rules! document_columns {
    () => {
        "id, application_id, field_key, kind, sha256, content_type, size_bytes, name_sealed, uploaded_at"
    };
}

/// An application's current documents (not replaced), oldest first.
pub async fn documents(db: &Db, application_id: Uuid) -> Result<Vec<DocumentRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", document_columns!(), " FROM documents \
                                WHERE application_id = $1 AND replaced_at IS NULL ORDER BY uploaded_at, id"))
            .bind(application_id).fetch_all(pool).await
    })?)
}

pub async fn document(db: &Db, id: Uuid) -> Result<Option<DocumentRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", document_columns!(), " FROM documents WHERE id = $1"))
            .bind(id).fetch_optional(pool).await
    })?)
}

/// Whether any document row names the blob `sha256` (the orphan sweep keeps those).
pub async fn blob_in_use(db: &Db, sha256: &str) -> Result<bool, StorageError> {
    let n: i64 = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM documents WHERE sha256 = $1").bind(sha256).fetch_one(pool).await
    })?;
    Ok(n > 0)
}

/// The services that take applications online (they have a form).
pub async fn services_with_forms(db: &Db) -> Result<Vec<Uuid>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_scalar("SELECT service_id FROM application_forms").fetch_all(pool).await
    })?)
}

/// A citizen's applications, newest first.
pub async fn of_account(db: &Db, account_id: Uuid) -> Result<Vec<ApplicationRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", application_columns!(), " FROM applications WHERE account_id = $1 \
                                ORDER BY created_at DESC LIMIT 200"))
            .bind(account_id).fetch_all(pool).await
    })?)
}

pub async fn by_tracking_code(db: &Db, code: &str) -> Result<Option<ApplicationRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", application_columns!(), " FROM applications WHERE tracking_code = $1"))
            .bind(code).fetch_optional(pool).await
    })?)
}

/// One page of a UPP's inbox: its applications in every state still open to the office (or in
/// `state`), the earliest due first; with the number in the whole list.
pub async fn inbox(
    db: &Db,
    tenant_id: Uuid,
    state: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<ApplicationRow>, i64), StorageError> {
    Ok(on_pool!(db, pool => async {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications WHERE tenant_id = $1 \
                AND (($2 IS NULL AND state IN ('submitted', 'in_review', 'needs_revision', 'approved', 'ready')) \
                OR state = $2)")
            .bind(tenant_id).bind(state).fetch_one(pool).await?;
        let rows: Vec<ApplicationRow> = sqlx::query_as(concat!("SELECT ", application_columns!(), " FROM applications WHERE tenant_id = $1 \
                                AND (($2 IS NULL AND state IN ('submitted', 'in_review', 'needs_revision', 'approved', 'ready')) \
                                OR state = $2) ORDER BY due_on IS NULL, due_on, created_at, id LIMIT $3 OFFSET $4"))
            .bind(tenant_id).bind(state).bind(limit).bind(offset).fetch_all(pool).await?;
        Ok::<_, sqlx::Error>((rows, total))
    }.await)?)
}

/// How many of a UPP's applications whose clock runs (`ApplicationState::clock_runs`) fall due on each day (for the inbox's
/// counts of late and due-soon ones, over the whole list rather than one page).
pub async fn due_days(db: &Db, tenant_id: Uuid) -> Result<Vec<(String, i64)>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT due_on, COUNT(*) FROM applications WHERE tenant_id = $1 \
                        AND state IN ('submitted', 'in_review', 'approved') AND due_on IS NOT NULL \
                        GROUP BY due_on")
            .bind(tenant_id).fetch_all(pool).await
    })?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub at: String,
    pub day: String,
    pub action: String,
    pub state: String,
    pub actor: String,
    pub note_sealed: Option<Vec<u8>>,
}

/// An application's steps, oldest first.
pub async fn history(db: &Db, id: Uuid) -> Result<Vec<EventRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT id, at, day, action, state, actor, note_sealed FROM application_events \
                        WHERE application_id = $1 ORDER BY at, id")
            .bind(id).fetch_all(pool).await
    })?)
}

/// The applications a citizen's bundle application fanned out into, in the bundle's order.
pub async fn of_bundle(
    db: &Db,
    bundle_application_id: Uuid,
) -> Result<Vec<ApplicationRow>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as(concat!("SELECT ", application_columns!(), " FROM applications WHERE bundle_application_id = $1 \
                                ORDER BY idempotency_key"))
            .bind(bundle_application_id).fetch_all(pool).await
    })?)
}

/// Starts a citizen's bundle application and one draft per service, in one transaction; a
/// retried request with the same key returns the bundle application the first one made.
/// Deletes one's own bundle application while every member is still a draft: the members with
/// their documents' rows (the bytes go with the orphan sweep), then the bundle application, in
/// one transaction. False, with nothing written, once any member was sent.
pub async fn discard_bundle(
    db: &Db,
    bundle_application_id: Uuid,
    account_id: Uuid,
) -> Result<bool, StorageError> {
    let mut tx = db.begin().await?;
    let done = on_tx!(&mut tx, conn => async {
        let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bundle_applications WHERE id = $1 AND account_id = $2")
            .bind(bundle_application_id).bind(account_id).fetch_one(&mut *conn).await?;
        if owned != 1 {
            return Ok::<bool, sqlx::Error>(false);
        }
        // Locks the drafts; any member past draft keeps the whole bundle.
        let drafts = sqlx::query("UPDATE applications SET updated_at = updated_at WHERE bundle_application_id = $1 \
                                  AND account_id = $2 AND state = 'draft'")
            .bind(bundle_application_id).bind(account_id).execute(&mut *conn).await?.rows_affected();
        let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications WHERE bundle_application_id = $1")
            .bind(bundle_application_id).fetch_one(&mut *conn).await?;
        if i64::try_from(drafts).unwrap_or(-1) != all {
            return Ok(false);
        }
        sqlx::query("DELETE FROM documents WHERE application_id IN \
                     (SELECT id FROM applications WHERE bundle_application_id = $1)")
            .bind(bundle_application_id).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM applications WHERE bundle_application_id = $1")
            .bind(bundle_application_id).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM bundle_applications WHERE id = $1")
            .bind(bundle_application_id).execute(&mut *conn).await?;
        Ok(true)
    }.await)?;
    if done {
        tx.commit().await?;
    }
    Ok(done)
}

pub async fn start_bundle(
    db: &Db,
    bundle_id: Uuid,
    account_id: Uuid,
    key: &str,
    drafts: &[NewApplication<'_>],
    now: DateTime<Utc>,
) -> Result<Uuid, StorageError> {
    let now_text = timestamp(now);
    let id = Uuid::now_v7();
    let mut tx = db.begin().await?;
    let inserted = on_tx!(&mut tx, conn => {
        sqlx::query("INSERT INTO bundle_applications (id, bundle_id, account_id, idempotency_key, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, idempotency_key) DO NOTHING")
            .bind(id).bind(bundle_id).bind(account_id).bind(key).bind(&now_text)
            .execute(conn).await.map(|r| r.rows_affected())
    })?;
    if inserted == 0 {
        drop(tx);
        let existing: Uuid = on_pool!(db, pool => {
            sqlx::query_scalar("SELECT id FROM bundle_applications WHERE account_id = $1 AND idempotency_key = $2")
                .bind(account_id).bind(key).fetch_one(pool).await
        })?;
        return Ok(existing);
    }
    for new in drafts {
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO applications (id, tracking_code, service_id, tenant_id, mpp_id, account_id, state, answers_sealed, \
                 form_version, limit_days, idempotency_key, created_at, updated_at, bundle_application_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8, $9, $10, $11, $11, $12)")
            .bind(Uuid::now_v7()).bind(new.tracking_code).bind(new.service_id).bind(new.tenant_id).bind(new.mpp_id)
            .bind(new.account_id).bind(new.answers_sealed).bind(new.form_version).bind(new.limit_days)
            .bind(new.idempotency_key).bind(&now_text).bind(id)
            .execute(conn).await.map(|_| ())
        })?;
    }
    tx.commit().await?;
    Ok(id)
}

/// A bundle application: (bundle, owner).
pub async fn bundle_application(
    db: &Db,
    id: Uuid,
) -> Result<Option<(Uuid, Option<Uuid>)>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT bundle_id, account_id FROM bundle_applications WHERE id = $1")
            .bind(id).fetch_optional(pool).await
    })?)
}

/// A citizen's bundle applications: (id, bundle, created), newest first.
pub async fn bundles_of_account(
    db: &Db,
    account_id: Uuid,
) -> Result<Vec<(Uuid, Uuid, String)>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT id, bundle_id, created_at FROM bundle_applications WHERE account_id = $1 \
                        ORDER BY created_at DESC LIMIT 100")
            .bind(account_id).fetch_all(pool).await
    })?)
}

/// Records one upload for several applications of a bundle (the same bytes, one row each),
/// all or none: each must be the citizen's and still theirs to change.
pub async fn add_document_to_all(
    db: &Db,
    application_ids: &[Uuid],
    account_id: Uuid,
    doc: NewDocument<'_>,
    now: DateTime<Utc>,
) -> Result<Added, StorageError> {
    let now_text = timestamp(now);
    let mut tx = db.begin().await?;
    for &application_id in application_ids {
        let held = on_tx!(&mut tx, conn => {
            sqlx::query("UPDATE applications SET updated_at = $3 WHERE id = $1 AND account_id = $2 \
                         AND state IN ('draft', 'needs_revision')")
                .bind(application_id).bind(account_id).bind(&now_text)
                .execute(conn).await.map(|r| r.rows_affected())
        })?;
        if held != 1 {
            return Ok(Added::NotHeld);
        }
        let count: i64 = on_tx!(&mut tx, conn => {
            sqlx::query_scalar("SELECT COUNT(*) FROM documents WHERE application_id = $1")
                .bind(application_id).fetch_one(conn).await
        })?;
        if count >= MAX_DOCUMENTS_PER_APPLICATION {
            return Ok(Added::TooMany);
        }
        insert_document(&mut tx, application_id, &doc, &now_text).await?;
    }
    tx.commit().await?;
    Ok(Added::Yes)
}

/// An application whose clock runs and that has a due date, for the time-limit watch.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Watched {
    pub id: Uuid,
    pub tracking_code: String,
    pub service_id: Uuid,
    pub tenant_id: Uuid,
    pub mpp_id: Uuid,
    pub due_on: String,
    pub sla_flag: Option<String>,
}

pub async fn watched(db: &Db) -> Result<Vec<Watched>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT id, tracking_code, service_id, tenant_id, mpp_id, due_on, sla_flag FROM applications \
                        WHERE state IN ('submitted', 'in_review', 'approved') AND due_on IS NOT NULL \
                        AND (sla_flag IS NULL OR sla_flag <> 'late')")
            .fetch_all(pool).await
    })?)
}

/// The people told when a tenant's application nears or passes its limit: the UPP's admins
/// and the MPP's managers, as (identifier kind, sealed identifier).
pub async fn watchers(
    db: &Db,
    tenant_id: Uuid,
    mpp_id: Uuid,
) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_as("SELECT DISTINCT a.identifier_kind, a.identifier_sealed FROM role_grants g \
                        JOIN accounts a ON a.id = g.account_id \
                        WHERE (g.role = 'upp_admin' AND g.tenant_id = $1) OR (g.role = 'mpp_manager' AND g.mpp_id = $2)")
            .bind(tenant_id).bind(mpp_id).fetch_all(pool).await
    })?)
}

/// Records that `flag` ('soon' or 'late') was reached and queues its messages, once: false
/// (nothing written) when this or another node recorded it already.
pub async fn raise_flag(
    db: &Db,
    id: Uuid,
    due_on: &str,
    flag: &str,
    messages: &[NewMessage<'_>],
    audit_scope: &str,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let now_text = timestamp(now);
    let mut tx = db.begin().await?;
    // Only upwards: nothing → soon → late.
    let raised = on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE applications SET sla_flag = $2 WHERE id = $1 AND due_on = $3 \
                     AND state IN ('submitted', 'in_review', 'approved') \
                     AND (sla_flag IS NULL OR (sla_flag = 'soon' AND $2 = 'late'))")
            .bind(id).bind(flag).bind(due_on).execute(conn).await.map(|r| r.rows_affected())
    })?;
    if raised != 1 {
        return Ok(false);
    }
    for m in messages {
        super::accounts::queue_message(&mut tx, m, &now_text).await?;
    }
    super::audit::append(
        &mut tx,
        NewEntry {
            actor: "system",
            action: "application.time_limit_warning",
            scope: audit_scope,
            subject: &id.to_string(),
            details: serde_json::json!({ "flag": flag }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
