//! The applications API under `/api/v1`: an agency's own system pulls its UPP's inbox, reads
//! applications with their answers and documents, takes the officers' steps and attaches the
//! output, with a staff API token of scope `applications:process`; anyone follows an
//! application by its tracking code. The rules are the pages' own: steps go through the same
//! preparation and `storage::applications::step`.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::AppState;
use super::api::token_holder;
use super::applications::{Prepared, open_answers, place_of, standing_of};
use super::errors::{ApiError, Problem};
use crate::domain::application::{self as rules, ApplicationAction, ApplicationState, Standing};
use crate::domain::form::DocumentType;
use crate::domain::roles::{Action, permits};
use crate::storage::applications::{self as store, ApplicationRow, NewDocument, StepError};

const SCOPE: &str = "applications:process";

fn standing_code(s: Standing) -> &'static str {
    match s {
        Standing::OnTime => "on_time",
        Standing::DueSoon => "due_soon",
        Standing::Late => "late",
    }
}

/// One application as an agency system sees it in a list.
#[derive(Serialize, ToSchema)]
pub struct ApplicationSummary {
    pub id: Uuid,
    pub tracking_code: String,
    pub service_id: Uuid,
    pub tenant_id: Uuid,
    /// `submitted`, `in_review`, `needs_revision`, `approved`, `ready`, `collected`,
    /// `rejected` or `withdrawn`.
    pub state: String,
    /// The MPP's local date the time limit ends (`YYYY-MM-DD`).
    pub due_on: Option<String>,
    /// `on_time`, `due_soon` or `late` while the clock runs.
    pub standing: Option<String>,
    /// The officer who took it, if any.
    pub assignee_id: Option<Uuid>,
    pub created_at: String,
    /// The citizen's bundle application it belongs to, if any.
    pub bundle_application_id: Option<Uuid>,
}

fn summary(app: &AppState, row: &ApplicationRow) -> ApplicationSummary {
    let catalog = app.catalog.get();
    let standing = place_of(&catalog, row)
        .and_then(|place| standing_of(app, &catalog, &place, row))
        .map(|s| standing_code(s).to_owned());
    ApplicationSummary {
        id: row.id,
        tracking_code: row.tracking_code.clone(),
        service_id: row.service_id,
        tenant_id: row.tenant_id,
        state: row.state.clone(),
        due_on: row.due_on.clone(),
        standing,
        assignee_id: row.assignee_id,
        created_at: row.created_at.clone(),
        bundle_application_id: row.bundle_application_id,
    }
}

#[derive(Deserialize, IntoParams)]
pub struct InboxParams {
    /// One state only; without it, every state still open to the office.
    pub state: Option<String>,
}

/// A UPP's inbox: applications in every open state (or in `state`), the earliest due first.
/// Needs a token with scope `applications:process` whose owner may process the UPP's
/// applications.
#[utoipa::path(get, path = "/api/v1/tenants/{id}/applications", tag = "applications",
    params(("id" = Uuid, Path, description = "The UPP (tenant) id"), InboxParams, super::api::Paging),
    security(("bearer" = ["applications:process"])),
    responses((status = 200, body = super::api::Page<ApplicationSummary>),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn inbox(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<InboxParams>, QueryRejection>,
    paging: Result<Query<super::api::Paging>, QueryRejection>,
) -> Response {
    let holder = match token_holder(&app, &headers, SCOPE).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let Some(tenant) = id.ok().and_then(|Path(p)| Uuid::parse_str(&p).ok()) else {
        return ApiError::bad_parameter("id UPP harus UUID.", "The UPP id must be a UUID.")
            .into_response();
    };
    let catalog = app.catalog.get();
    let Some(t) = catalog.tenant_by_id(tenant) else {
        return ApiError::not_found("UPP", "UPP").into_response();
    };
    let place = catalog.place(&catalog.mpps[t.mpp], Some(t));
    if !permits(&holder.grants, Action::ProcessApplications, &place) {
        return super::api::forbidden_api().into_response();
    }
    let state = match params {
        Ok(Query(p)) => p.state,
        Err(_) => None,
    };
    if let Some(s) = &state
        && ApplicationState::parse(s).is_none_or(|s| s == ApplicationState::Draft)
    {
        return ApiError::bad_parameter(
            "state tidak dikenal.",
            "Unknown state (submitted, in_review, needs_revision, approved, ready, collected, rejected, withdrawn).",
        )
        .into_response();
    }
    let resolved = match paging {
        Ok(Query(p)) => super::api::Paging::resolve(p.page, p.per_page),
        Err(_) => Err(ApiError::bad_parameter(
            "page dan per_page berupa bilangan bulat.",
            "page and per_page are whole numbers.",
        )),
    };
    let (page, per_page) = match resolved {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let offset = i64::from(page - 1) * i64::from(per_page);
    match store::inbox(&app.db, t.id, state.as_deref(), offset, i64::from(per_page)).await {
        Ok((rows, total)) => Json(super::api::Page {
            items: rows.iter().map(|r| summary(&app, r)).collect::<Vec<_>>(),
            total: usize::try_from(total).unwrap_or(0),
            page,
            per_page,
        })
        .into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// The application, if the token's owner may process it; someone else's is a 404 (its
/// existence is not told).
async fn processable(
    app: &AppState,
    headers: &HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<(ApplicationRow, String, Uuid), Response> {
    let holder = token_holder(app, headers, SCOPE).await?;
    let not_found = || ApiError::not_found("Permohonan", "Application").into_response();
    let id = id
        .ok()
        .and_then(|Path(p)| Uuid::parse_str(&p).ok())
        .ok_or_else(not_found)?;
    let row = store::application(&app.db, id)
        .await
        .map_err(|e| ApiError::internal(&e).into_response())?
        .filter(|r| r.state != "draft")
        .ok_or_else(not_found)?;
    let catalog = app.catalog.get();
    let place = place_of(&catalog, &row).ok_or_else(not_found)?;
    if !permits(
        &holder.grants,
        Action::ProcessApplications,
        &catalog.place(place.mpp, Some(place.tenant)),
    ) {
        return Err(not_found());
    }
    Ok((row, format!("token:{}", holder.token_id), holder.account_id))
}

#[derive(Serialize, ToSchema)]
pub struct DocumentOut {
    pub id: Uuid,
    /// The form's document field, or `output`.
    pub field: String,
    /// `input` (the citizen's) or `output` (the UPP's result).
    pub kind: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub name: String,
    pub uploaded_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct StepOut {
    pub at: String,
    /// The MPP's local date of the step.
    pub day: String,
    pub action: String,
    /// The state it led to.
    pub state: String,
    /// What to fix, or why rejected.
    pub note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApplicationDetail {
    #[serde(flatten)]
    pub summary: ApplicationSummary,
    /// The citizen's answers by field key.
    pub answers: BTreeMap<String, String>,
    /// The version of the service's form the answers were given for (a draft: the current one).
    pub form_version: i32,
    pub documents: Vec<DocumentOut>,
    pub history: Vec<StepOut>,
}

/// An application with its answers, documents and history.
#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id")),
    security(("bearer" = ["applications:process"])),
    responses((status = 200, body = ApplicationDetail),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_application(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let (row, _, _) = match processable(&app, &headers, id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match detail(&app, &row).await {
        Ok(d) => Json(d).into_response(),
        Err(e) => e.into_response(),
    }
}

pub(super) async fn detail(
    app: &AppState,
    row: &ApplicationRow,
) -> Result<ApplicationDetail, ApiError> {
    let keys = &app.settings.keys;
    let documents = store::documents(&app.db, row.id)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .into_iter()
        .map(|d| DocumentOut {
            name: keys
                .open("document.name", &d.name_sealed)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default(),
            id: d.id,
            field: d.field_key,
            kind: d.kind,
            content_type: d.content_type,
            size_bytes: d.size_bytes,
            uploaded_at: d.uploaded_at,
        })
        .collect();
    let history = store::history(&app.db, row.id)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .into_iter()
        .map(|e| StepOut {
            note: e
                .note_sealed
                .as_deref()
                .and_then(|n| keys.open("application.note", n).ok())
                .and_then(|b| String::from_utf8(b).ok()),
            at: e.at,
            day: e.day,
            action: e.action,
            state: e.state,
        })
        .collect();
    Ok(ApplicationDetail {
        summary: summary(app, row),
        answers: open_answers(app, row),
        form_version: row.form_version,
        documents,
        history,
    })
}

/// A document's bytes (the citizen's upload or the output), with its type.
#[utoipa::path(get, path = "/api/v1/applications/{id}/documents/{document}", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id"),
           ("document" = Uuid, Path, description = "The document id")),
    security(("bearer" = ["applications:process"])),
    responses((status = 200, description = "The document's bytes", content_type = "application/octet-stream"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_document(
    State(app): State<AppState>,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let (id, doc) = match ids {
        Ok(Path(pair)) => pair,
        Err(_) => return ApiError::not_found("Dokumen", "Document").into_response(),
    };
    let (row, _, _) = match processable(&app, &headers, Ok(Path(id))).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    send(&app, &row, &doc).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepIn {
    /// `take`, `release`, `request_revision`, `approve`, `reject` or `mark_collected`
    /// (attaching the output is `PUT …/output`).
    pub action: String,
    /// For the citizen: what to fix (`request_revision`) or why (`reject`); required there.
    pub note: Option<String>,
}

pub(super) fn step_error(e: StepError) -> ApiError {
    match e {
        StepError::NotFound => ApiError::not_found("Permohonan", "Application"),
        StepError::Changed => ApiError::new(
            StatusCode::CONFLICT,
            "changed",
            "Permohonan berubah saat diperiksa (jawaban atau dokumen disimpan bersamaan). Kirim lagi.",
            "The application changed while it was checked (answers or documents saved at the same time). Send it again.",
        ),
        StepError::Illegal(illegal) => ApiError::new(
            StatusCode::CONFLICT,
            "illegal_transition",
            format!(
                "Permohonan berstatus {} tidak dapat diberi langkah {}.",
                illegal.from.as_str(),
                illegal.action.as_str()
            ),
            format!(
                "An application that is {} cannot be given {}.",
                illegal.from.as_str(),
                illegal.action.as_str()
            ),
        ),
        StepError::Storage(e) => ApiError::internal(&e),
    }
}

async fn take(
    app: &AppState,
    row: &ApplicationRow,
    action: ApplicationAction,
    (actor, officer): (&str, Uuid),
    note: Option<&str>,
    document: Option<NewDocument<'_>>,
) -> Result<ApplicationSummary, ApiError> {
    let catalog = app.catalog.get();
    let place = place_of(&catalog, row).ok_or_else(|| ApiError::not_found("Layanan", "Service"))?;
    let prepared = Prepared::new(app, &catalog, &place, row, action, note)
        .await
        .map_err(|_| ApiError::internal(&std::io::Error::other("preparing the step failed")))?;
    let updated = store::step(
        &app.db,
        row.id,
        prepared.step(action, actor, None, Some(officer), document),
        Utc::now(),
    )
    .await
    .map_err(step_error)?;
    Ok(summary(app, &updated))
}

/// Takes an officer's step. Every step is decided by the application's state machine; one the
/// state does not allow is a 409 and changes nothing.
#[utoipa::path(post, path = "/api/v1/applications/{id}/steps", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id")),
    request_body = StepIn,
    security(("bearer" = ["applications:process"])),
    responses((status = 200, body = ApplicationSummary),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn post_step(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<StepIn>, JsonRejection>,
) -> Response {
    let (row, actor, officer) = match processable(&app, &headers, id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let body = match body {
        Ok(Json(b)) => b,
        Err(e) => {
            return ApiError::bad_parameter(
                format!("Isi permintaan bukan JSON yang benar: {}", e.body_text()),
                format!("The request body is not valid JSON: {}", e.body_text()),
            )
            .into_response();
        }
    };
    let Some(action) = ApplicationAction::parse(&body.action)
        .filter(|a| a.actor() == rules::Actor::Officer && *a != ApplicationAction::AttachOutput)
    else {
        return ApiError::bad_parameter(
            "action tidak dikenal.",
            "Unknown action (take, release, request_revision, approve, reject, mark_collected).",
        )
        .into_response();
    };
    let note: String = body
        .note
        .unwrap_or_default()
        .trim()
        .chars()
        .take(2000)
        .collect();
    if action.needs_note() && note.is_empty() {
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "note_required",
            "Langkah ini perlu catatan untuk pemohon.",
            "This step needs a note for the applicant.",
        )
        .into_response();
    }
    // A note is for the citizen, and only where the step calls for one.
    let note = (action.needs_note() && !note.is_empty()).then_some(note.as_str());
    match take(&app, &row, action, (&actor, officer), note, None).await {
        Ok(s) => Json(s).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct OutputParams {
    /// The file's name as the citizen sees it.
    pub name: Option<String>,
}

/// Attaches the output document (the request body: a PDF, JPEG or PNG of at most 10 MB, its
/// type judged by its bytes) to an approved application, which becomes ready; the citizen is
/// told.
#[utoipa::path(put, path = "/api/v1/applications/{id}/output", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id"), OutputParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("bearer" = ["applications:process"])),
    responses((status = 200, body = ApplicationSummary),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 413, body = Problem, content_type = "application/problem+json"),
              (status = 415, body = Problem, content_type = "application/problem+json")))]
pub async fn put_output(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<OutputParams>, QueryRejection>,
    body: Body,
) -> Response {
    // The token is checked before the body is read.
    let (row, actor, officer) = match processable(&app, &headers, id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let limit = usize::try_from(crate::domain::form::MAX_DOCUMENT_BYTES).unwrap_or(usize::MAX);
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "Berkas terlalu besar (paling besar 10 MB).",
            "The file is too large (at most 10 MB).",
        )
        .into_response();
    };
    let Some(kind) = crate::documents::sniff(&body) else {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
            "Isi berkas bukan PDF, JPEG, atau PNG.",
            "The file's content is not a PDF, JPEG or PNG.",
        )
        .into_response();
    };
    if row.state != "approved" {
        return step_error(StepError::Illegal(rules::IllegalStep {
            from: ApplicationState::parse(&row.state).unwrap_or(ApplicationState::Draft),
            action: ApplicationAction::AttachOutput,
        }))
        .into_response();
    }
    let name = params.ok().and_then(|Query(p)| p.name).unwrap_or_else(|| {
        match kind {
            DocumentType::Pdf => "hasil.pdf",
            DocumentType::Jpeg => "hasil.jpg",
            DocumentType::Png => "hasil.png",
        }
        .to_owned()
    });
    let kept = match super::applications::keep_file(
        &app,
        &name,
        &body,
        &[DocumentType::Pdf, DocumentType::Jpeg, DocumentType::Png],
        crate::domain::form::MAX_DOCUMENT_BYTES,
    )
    .await
    {
        Ok(Ok(k)) => k,
        Ok(Err(refusal)) => {
            return ApiError::new(refusal.status, "unsupported_type", refusal.id, refusal.en)
                .into_response();
        }
        Err(e) => return blob_error(&e).into_response(),
    };
    let document = kept.output(&actor);
    match take(
        &app,
        &row,
        ApplicationAction::AttachOutput,
        (&actor, officer),
        None,
        Some(document),
    )
    .await
    {
        Ok(s) => Json(s).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Issues the service's letter (its template filled with the application's answers, as a
/// PDF) as the output of an approved application, which becomes ready; the citizen is told.
#[utoipa::path(post, path = "/api/v1/applications/{id}/letter", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id")),
    security(("bearer" = ["applications:process"])),
    responses((status = 200, body = ApplicationSummary),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn post_letter(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let (row, actor, _) = match processable(&app, &headers, id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let catalog = app.catalog.get();
    let Some(place) = place_of(&catalog, &row) else {
        return ApiError::not_found("Permohonan", "Application").into_response();
    };
    let Ok((def, _)) = super::applications::form_for(&app, &row).await else {
        return ApiError::internal(&std::io::Error::other("reading the form")).into_response();
    };
    match super::applications::issue_letter(&app, &catalog, &place, &row, &def, &actor).await {
        Ok(Some(Ok(updated))) => Json(summary(&app, &updated)).into_response(),
        Ok(Some(Err(e))) => step_error(e).into_response(),
        Ok(None) => ApiError::new(
            StatusCode::CONFLICT,
            "no_letter",
            "Layanan ini tidak memiliki templat surat; lampirkan hasil dengan PUT …/output.",
            "This service has no letter template; attach the output with PUT …/output.",
        )
        .into_response(),
        Err(super::applications::LetterError::Store(e)) => blob_error(&e).into_response(),
        Err(super::applications::LetterError::Other(e)) => ApiError::internal(&*e).into_response(),
    }
}

/// What anyone may know of an application by its tracking code: no personal data.
#[derive(Serialize, ToSchema)]
pub struct Tracked {
    pub tracking_code: String,
    pub service: String,
    pub tenant: String,
    pub mpp: String,
    pub state: String,
    /// The MPP's local date it was received (`YYYY-MM-DD`).
    pub received_on: Option<String>,
    pub due_on: Option<String>,
    pub standing: Option<String>,
}

/// Follows an application by its tracking code (`PMH-XXXX-XXXX-XXXX`, any case, spaces or
/// dashes), without signing in. Rate-limited per client address.
#[utoipa::path(get, path = "/api/v1/tracking/{code}", tag = "applications",
    params(("code" = String, Path, description = "The tracking code")),
    responses((status = 200, body = Tracked),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn track(
    State(app): State<AppState>,
    code: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(code) = code.ok().and_then(|Path(c)| rules::parse_tracking_code(&c)) else {
        return ApiError::bad_parameter(
            "Kode pelacakan berbentuk PMH-XXXX-XXXX-XXXX.",
            "A tracking code looks like PMH-XXXX-XXXX-XXXX.",
        )
        .into_response();
    };
    let row = match store::by_tracking_code(&app.db, &code).await {
        Ok(Some(r)) if r.state != "draft" => r,
        Ok(_) => return ApiError::not_found("Permohonan", "Application").into_response(),
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let catalog = app.catalog.get();
    let Some(place) = place_of(&catalog, &row) else {
        return ApiError::not_found("Permohonan", "Application").into_response();
    };
    let received = match store::history(&app.db, row.id).await {
        Ok(h) => h.into_iter().find(|e| e.action == "submit").map(|e| e.day),
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    Json(Tracked {
        tracking_code: row.tracking_code.clone(),
        service: place.service.name.clone(),
        tenant: place.tenant.name.clone(),
        mpp: place.mpp.name.clone(),
        state: row.state.clone(),
        received_on: received,
        due_on: row.due_on.clone(),
        standing: standing_of(&app, &catalog, &place, &row).map(|s| standing_code(s).to_owned()),
    })
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// A citizen's app follows their own applications.

/// The signed-in citizen's applications (drafts too), newest first.
#[utoipa::path(get, path = "/api/v1/me/applications", tag = "applications",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ApplicationSummary>),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn my_applications(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let session = match super::api_queue::citizen(&app, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match store::of_account(&app.db, session.account_id).await {
        Ok(rows) => Json(rows.iter().map(|r| summary(&app, r)).collect::<Vec<_>>()).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// One's own application, or a 404 (also for someone else's).
pub(super) async fn own(
    app: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<ApplicationRow, Response> {
    let session = super::api_queue::citizen(app, headers).await?;
    let not_found = || ApiError::not_found("Permohonan", "Application").into_response();
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    store::application(&app.db, id)
        .await
        .map_err(|e| ApiError::internal(&e).into_response())?
        .filter(|r| r.account_id == Some(session.account_id))
        .ok_or_else(not_found)
}

/// One of the citizen's own applications with its answers, documents and history (what to
/// fix is in the history's notes).
#[utoipa::path(get, path = "/api/v1/me/applications/{id}", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id")),
    security(("bearer" = [])),
    responses((status = 200, body = ApplicationDetail),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn my_application(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = id.map(|Path(p)| p).unwrap_or_default();
    let row = match own(&app, &headers, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    match detail(&app, &row).await {
        Ok(d) => Json(d).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A document of one's own application (an upload, or the output once ready).
#[utoipa::path(get, path = "/api/v1/me/applications/{id}/documents/{document}", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id"),
           ("document" = Uuid, Path, description = "The document id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The document's bytes", content_type = "application/octet-stream"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn my_document(
    State(app): State<AppState>,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let (id, doc) = ids.map(|Path(p)| p).unwrap_or_default();
    let row = match own(&app, &headers, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    send(&app, &row, &doc).await
}

/// A document of `row` as a download.
async fn send(app: &AppState, row: &ApplicationRow, doc: &str) -> Response {
    let found = match Uuid::parse_str(doc) {
        Ok(d) => store::document(&app.db, d).await,
        Err(_) => Ok(None),
    };
    let doc = match found {
        Ok(Some(d)) if d.application_id == row.id => d,
        Ok(_) => return ApiError::not_found("Dokumen", "Document").into_response(),
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    match app
        .settings
        .blobs
        .get(&app.settings.keys, &doc.sha256)
        .await
    {
        Ok(bytes) => {
            let mut response = bytes.into_response();
            if let Ok(v) = HeaderValue::from_str(&doc.content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            response.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment"),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => blob_error(&e).into_response(),
    }
}

/// A failure of the documents' store as an answer: 503 when the bucket is out, else 500.
pub(super) fn blob_error(e: &crate::documents::DocumentError) -> ApiError {
    if e.is_outage() {
        ApiError::unavailable(e)
    } else {
        ApiError::internal(e)
    }
}
