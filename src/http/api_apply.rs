//! A citizen's app applies through the API with the rules of the pages (`applications`): it
//! reads the service's form, starts a draft (idempotent by key), saves answers, uploads each
//! document (its type judged by its bytes), sends, and withdraws. Every refusal is a
//! problem+json in Indonesian and English; one that concerns fields lists them.
//!
//! Someone else's application is a 404, found only with its owner's session, checked before an
//! upload's body is read (JSON bodies are small and read first, as everywhere in the API).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::AppState;
use super::api_applications::{ApplicationDetail, OutputParams, detail, own, step_error};
use super::applications::{
    Prepared, form_for, form_of, in_bundle, keep_file, new_draft, open_answers, place_of,
    seal_answers, sending_problems, take_step,
};
use super::errors::{ApiError, Messages, Problem};
use super::i18n::Lang;
use crate::domain::application::ApplicationAction;
use crate::domain::form::{FieldKind, FormDef};
use crate::storage::applications::{self as store, Added, ApplicationRow, Checked};

/// The longest answer kept, in characters (as on the pages).
const MAX_ANSWER_CHARS: usize = 4000;

/// A service's application form.
#[derive(Serialize, ToSchema)]
pub struct FormOut {
    pub service_id: Uuid,
    /// Applications record the version they were answered with.
    pub version: i32,
    /// The fields in order, as in the catalog format's `form` (docs/catalog-format.md).
    #[schema(value_type = Vec<Object>)]
    pub fields: serde_json::Value,
    /// The letter officers issue as the output (`{title, body}` with `{placeholders}`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub letter: Option<crate::domain::letter::LetterDef>,
}

#[derive(Deserialize, IntoParams)]
pub struct FormParams {
    /// An earlier version (what an application already sent was answered with); the current
    /// one when absent.
    pub version: Option<i32>,
}

/// The form of a service that takes applications online.
#[utoipa::path(get, path = "/api/v1/services/{id}/form", tag = "applications",
    params(("id" = Uuid, Path, description = "The service id"), FormParams),
    responses((status = 200, body = FormOut),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn service_form(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<FormParams>, QueryRejection>,
) -> Response {
    let not_online = || not_online().into_response();
    let Some(service) = id.ok().and_then(|Path(id)| Uuid::parse_str(&id).ok()) else {
        return not_online();
    };
    let wanted = match params {
        Ok(Query(p)) => p.version,
        Err(_) => {
            return ApiError::bad_parameter(
                "version harus bilangan bulat.",
                "version must be a whole number.",
            )
            .into_response();
        }
    };
    let found = match wanted {
        Some(version) => store::form_at(&app.db, service, version)
            .await
            .map(|f| f.map(|json| (json, version))),
        None => store::form(&app.db, service).await,
    };
    let (json, version) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return not_online(),
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let Ok(def) = serde_json::from_str::<FormDef>(&json) else {
        return not_online();
    };
    let fields = serde_json::to_value(&def.fields).unwrap_or_default();
    let mut response = Json(FormOut {
        service_id: service,
        version,
        fields,
        letter: def.letter,
    })
    .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=60"),
    );
    response
}

fn not_online() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_online",
        "Layanan ini tidak ada atau belum menerima permohonan daring.",
        "This service does not exist or does not take applications online yet.",
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    pub service_id: Uuid,
}

/// Starts a draft application for a service with the current form. A retry with the same
/// `Idempotency-Key` returns the draft the first request made.
#[utoipa::path(post, path = "/api/v1/me/applications", tag = "applications",
    request_body = StartRequest,
    params(("Idempotency-Key" = String, Header, description = "1–64 characters; the same for a retried request")),
    security(("bearer" = [])),
    responses((status = 201, body = ApplicationDetail),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn start(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<StartRequest>, JsonRejection>,
) -> Response {
    let session = match super::api_queue::citizen(&app, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = async {
        let key = super::api_queue::idempotency_key(&headers)?;
        let request = super::api_queue::json_body(body)?;
        let catalog = app.catalog.get();
        let service = catalog.service(request.service_id).ok_or_else(not_online)?;
        let (_, version) = form_of(&app, service.id)
            .await
            .map_err(|_| form_unreadable())?
            .ok_or_else(not_online)?;
        let draft = new_draft(&app, &catalog, service, session.account_id, version, &key)
            .await
            .map_err(|e| ApiError::internal(&*e))?;
        if draft.service_id != service.id {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency-Key ini sudah dipakai untuk permohonan layanan lain.",
                "This Idempotency-Key was already used for an application to another service.",
            ));
        }
        detail(&app, &draft).await
    }
    .await;
    match result {
        Ok(d) => (StatusCode::CREATED, Json(d)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswersRequest {
    /// Every answer by field key (documents are uploaded apart); a key left out is cleared.
    pub answers: BTreeMap<String, String>,
}

/// One field's problem, in both languages.
#[derive(Serialize, ToSchema)]
pub struct FieldProblemOut {
    pub field: String,
    pub messages: Messages,
}

/// A refusal that concerns fields: the problem, and each field's message.
#[derive(Serialize, ToSchema)]
pub struct FieldsRefused {
    #[serde(flatten)]
    pub problem: Problem,
    pub fields: Vec<FieldProblemOut>,
}

fn fields_refused(code: &str, id: &str, en: &str, fields: Vec<FieldProblemOut>) -> Response {
    let body = FieldsRefused {
        problem: Problem {
            kind: format!("urn:mpp:problem:{code}"),
            title: "Unprocessable Entity".to_owned(),
            status: 422,
            code: code.to_owned(),
            detail: id.to_owned(),
            messages: Messages {
                id: id.to_owned(),
                en: en.to_owned(),
            },
        },
        fields,
    };
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        [(header::CONTENT_TYPE, "application/problem+json")],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

/// The form could not be read (never for a client's fault).
fn form_unreadable() -> ApiError {
    ApiError::internal(&std::io::Error::other("reading the form"))
}

fn unknown_document_field() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_field",
        "Formulir tidak memiliki isian dokumen ini.",
        "The form has no such document field.",
    )
}

/// Checks a whole file against its document field, stores it and records it as the field's
/// document: the one-piece upload and the last part of a resumable one end here.
#[allow(clippy::too_many_arguments)]
async fn record_file(
    app: &AppState,
    application_id: Uuid,
    account: Uuid,
    key: &str,
    name: &str,
    bytes: &[u8],
    types: &[crate::domain::form::DocumentType],
    max_bytes: u64,
) -> Result<(), ApiError> {
    let kept = match keep_file(app, name, bytes, types, max_bytes).await {
        Ok(Ok(k)) => k,
        Ok(Err(refusal)) => {
            let code = match refusal.status {
                StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_type",
                _ => "empty_file",
            };
            return Err(ApiError::new(refusal.status, code, refusal.id, refusal.en));
        }
        Err(e) => return Err(super::api_applications::blob_error(&e)),
    };
    let actor = format!("account:{account}");
    let added = store::add_document(
        &app.db,
        application_id,
        account,
        kept.input(key, &actor),
        Utc::now(),
    )
    .await
    .map_err(|e| ApiError::internal(&e))?;
    match added {
        Added::Yes => Ok(()),
        Added::NotHeld => Err(not_held()),
        Added::TooMany => Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_documents",
            "Permohonan ini sudah memuat terlalu banyak dokumen; hubungi MPP.",
            "This application already holds too many documents; contact the MPP.",
        )),
    }
}

fn bundled() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "in_bundle",
        "Permohonan ini bagian dari paket layanan: isi, unggah, dan kirim lewat paketnya di halaman /akun/paket.",
        "This application is part of a bundle: fill, upload and send it through its bundle at /akun/paket.",
    )
}

fn not_held() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "not_held",
        "Permohonan ini sudah dikirim dan tidak dapat diubah lagi.",
        "This application was already sent and can no longer be changed.",
    )
}

/// Replaces the answers of one's own draft, or of an application sent back for a fix. They
/// are checked only when it is sent; keys the form does not have, or document fields, are
/// refused here.
#[utoipa::path(put, path = "/api/v1/me/applications/{id}/answers", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id")),
    request_body = AnswersRequest,
    security(("bearer" = [])),
    responses((status = 200, body = ApplicationDetail),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = FieldsRefused, content_type = "application/problem+json")))]
pub async fn put_answers(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<AnswersRequest>, JsonRejection>,
) -> Response {
    let id = id.map(|Path(p)| p).unwrap_or_default();
    let row = match own(&app, &headers, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if in_bundle(&row) {
        return bundled().into_response();
    }
    let request = match super::api_queue::json_body(body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let Ok((def, version)) = form_for(&app, &row).await else {
        return form_unreadable().into_response();
    };
    let mut wrong = Vec::new();
    for (key, value) in &request.answers {
        match def.fields.iter().find(|f| &f.key == key) {
            None => wrong.push(field_problem(
                key,
                "Formulir tidak memiliki isian ini.",
                "The form has no such field.",
            )),
            Some(f) if matches!(f.kind, FieldKind::Document { .. }) => wrong.push(field_problem(
                key,
                "Dokumen diunggah lewat …/uploads/{isian}, bukan sebagai jawaban.",
                "Documents are uploaded to …/uploads/{field}, not sent as answers.",
            )),
            Some(_) if value.chars().count() > MAX_ANSWER_CHARS => wrong.push(field_problem(
                key,
                "Jawaban terlalu panjang (paling banyak 4000 karakter).",
                "The answer is too long (at most 4,000 characters).",
            )),
            Some(_) => {}
        }
    }
    if !wrong.is_empty() {
        return fields_refused(
            "unknown_fields",
            "Beberapa jawaban tidak sesuai dengan formulir; tidak ada yang disimpan.",
            "Some answers do not fit the form; nothing was saved.",
            wrong,
        );
    }
    let answers: BTreeMap<String, String> = request
        .answers
        .into_iter()
        .map(|(k, v)| (k, v.trim().to_owned()))
        .collect();
    let sealed = match seal_answers(&app, &answers, Lang::Id) {
        Ok(s) => s,
        Err(_) => return ApiError::internal(&std::io::Error::other("sealing")).into_response(),
    };
    let saved = store::save_answers(
        &app.db,
        row.account_id.unwrap_or_default(),
        &[store::Answers {
            id: row.id,
            sealed: &sealed,
            form_version: version,
        }],
        Utc::now(),
    )
    .await;
    match saved {
        Ok(true) => reread(&app, row.id).await,
        Ok(false) => not_held().into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

fn field_problem(field: &str, id: &str, en: &str) -> FieldProblemOut {
    FieldProblemOut {
        field: field.to_owned(),
        messages: Messages {
            id: id.to_owned(),
            en: en.to_owned(),
        },
    }
}

/// The application as it is now.
async fn reread(app: &AppState, id: Uuid) -> Response {
    let row = match store::application(&app.db, id).await {
        Ok(Some(r)) => r,
        Ok(None) => return ApiError::not_found("Permohonan", "Application").into_response(),
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    match detail(app, &row).await {
        Ok(d) => Json(d).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Uploads the document of one field (the request body: the file's bytes, of a type and size
/// the field accepts, judged by its content). A new upload to the same field replaces the old.
#[utoipa::path(put, path = "/api/v1/me/applications/{id}/uploads/{field}", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id"),
           ("field" = String, Path, description = "The document field's key"), OutputParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("bearer" = [])),
    responses((status = 200, body = ApplicationDetail),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 413, body = Problem, content_type = "application/problem+json"),
              (status = 415, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn put_document(
    State(app): State<AppState>,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<OutputParams>, QueryRejection>,
    body: Body,
) -> Response {
    let (id, key) = ids.map(|Path(p)| p).unwrap_or_default();
    // The owner is checked before the body is read.
    let row = match own(&app, &headers, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let account = row.account_id.unwrap_or_default();
    if in_bundle(&row) {
        return bundled().into_response();
    }
    let Ok((def, _)) = form_for(&app, &row).await else {
        return form_unreadable().into_response();
    };
    let Some((types, max_bytes)) = def.document_field(&key) else {
        return unknown_document_field().into_response();
    };
    match store::held_by(&app.db, row.id, account).await {
        Ok(true) => {}
        Ok(false) => return not_held().into_response(),
        Err(e) => return ApiError::internal(&e).into_response(),
    }
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        let limit = super::applications::size_text(i64::try_from(max_bytes).unwrap_or(i64::MAX));
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("Berkas terlalu besar; paling besar {limit}."),
            format!("The file is too large; at most {limit}."),
        )
        .into_response();
    };
    let name = params
        .ok()
        .and_then(|Query(p)| p.name)
        .unwrap_or_else(|| key.clone());
    match record_file(
        &app, row.id, account, &key, &name, &bytes, &types, max_bytes,
    )
    .await
    {
        Ok(()) => reread(&app, row.id).await,
        Err(e) => e.into_response(),
    }
}

/// Sends one's own draft, or sends again one that was sent back for a fix. Every field is
/// checked first; the problems are listed by field (422) and nothing changes.
#[utoipa::path(post, path = "/api/v1/me/applications/{id}/submit", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id")),
    security(("bearer" = [])),
    responses((status = 200, body = ApplicationDetail),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = FieldsRefused, content_type = "application/problem+json")))]
pub async fn submit(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = id.map(|Path(p)| p).unwrap_or_default();
    let row = match own(&app, &headers, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let catalog = app.catalog.get();
    let Some(place) = place_of(&catalog, &row) else {
        return ApiError::not_found("Permohonan", "Application").into_response();
    };
    let action = if row.state == "needs_revision" {
        ApplicationAction::Resubmit
    } else {
        ApplicationAction::Submit
    };
    if !matches!(row.state.as_str(), "draft" | "needs_revision") {
        return not_held().into_response();
    }
    if in_bundle(&row) {
        return bundled().into_response();
    }
    let Ok((def, version)) = form_for(&app, &row).await else {
        return form_unreadable().into_response();
    };
    let answers = open_answers(&app, &row);
    let problems = match sending_problems(&app, &catalog, &place, &row, &def, &answers).await {
        Ok(p) => p,
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    if !problems.is_empty() {
        return fields_refused(
            "incomplete",
            "Permohonan belum dapat dikirim: perbaiki isian yang disebut.",
            "The application cannot be sent yet: fix the fields listed.",
            problems
                .into_iter()
                .map(|p| field_problem(&p.key, &p.id, &p.en))
                .collect(),
        );
    }
    // Sent as checked: refused if answers or uploads changed meanwhile; a draft moves to the
    // form version it was checked with.
    let Ok(prepared) = Prepared::new(&app, &catalog, &place, &row, action, None).await else {
        return ApiError::internal(&std::io::Error::other("preparing the step failed"))
            .into_response();
    };
    let account = row.account_id.unwrap_or_default();
    let actor = format!("account:{account}");
    let mut step = prepared.step(action, &actor, Some(account), None, None);
    step.checked = Some(Checked {
        updated_at: &row.updated_at,
        form_version: version,
    });
    match store::step(&app.db, row.id, step, Utc::now()).await {
        Ok(updated) => match detail(&app, &updated).await {
            Ok(d) => Json(d).into_response(),
            Err(e) => e.into_response(),
        },
        Err(e) => step_error(e).into_response(),
    }
}

/// Takes the citizen's own step on `row` and answers with the application as it then is.
async fn step(app: &AppState, row: &ApplicationRow, action: ApplicationAction) -> Response {
    let catalog = app.catalog.get();
    let Some(place) = place_of(&catalog, row) else {
        return ApiError::not_found("Permohonan", "Application").into_response();
    };
    let account = row.account_id.unwrap_or_default();
    let actor = format!("account:{account}");
    let taken = take_step(
        app,
        &catalog,
        &place,
        row,
        action,
        &actor,
        Some(account),
        None,
        None,
        None,
    )
    .await;
    match taken {
        Ok(Ok(updated)) => match detail(app, &updated).await {
            Ok(d) => Json(d).into_response(),
            Err(e) => e.into_response(),
        },
        Ok(Err(e)) => step_error(e).into_response(),
        Err(_) => {
            ApiError::internal(&std::io::Error::other("preparing the step failed")).into_response()
        }
    }
}

/// Withdraws one's own application. A draft, never received, is deleted with its documents
/// (204); one already sent is withdrawn while no decision has been made (200).
#[utoipa::path(post, path = "/api/v1/me/applications/{id}/withdraw", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id")),
    security(("bearer" = [])),
    responses((status = 200, body = ApplicationDetail),
              (status = 204, description = "The draft was deleted"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn withdraw(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = id.map(|Path(p)| p).unwrap_or_default();
    let row = match own(&app, &headers, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if in_bundle(&row) {
        return bundled().into_response();
    }
    if row.state == "draft" {
        return match store::discard_draft(&app.db, row.id, row.account_id.unwrap_or_default()).await
        {
            Ok(true) => StatusCode::NO_CONTENT.into_response(),
            // Sent in the meantime: withdrawing it is a step like any other.
            Ok(false) => reread_and_withdraw(&app, row.id).await,
            Err(e) => ApiError::internal(&e).into_response(),
        };
    }
    step(&app, &row, ApplicationAction::Withdraw).await
}

async fn reread_and_withdraw(app: &AppState, id: Uuid) -> Response {
    match store::application(&app.db, id).await {
        Ok(Some(row)) => step(app, &row, ApplicationAction::Withdraw).await,
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// Marks one's own ready application collected (the app has its output: `GET …/documents/{doc}`
/// changes nothing, so an app says so here, as the page's download button does).
#[utoipa::path(post, path = "/api/v1/me/applications/{id}/collect", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id")),
    security(("bearer" = [])),
    responses((status = 200, body = ApplicationDetail),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn collect(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = id.map(|Path(p)| p).unwrap_or_default();
    let row = match own(&app, &headers, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    step(&app, &row, ApplicationAction::MarkCollected).await
}

// ---------------------------------------------------------------------------------------------
// Resumable uploads, for a bad network: the document in parts, each acknowledged once stored.

/// The largest part, in bytes.
const PART_LIMIT: usize = 1024 * 1024;

/// Where a resumable upload stands.
#[derive(Serialize, ToSchema)]
pub struct UploadOut {
    pub upload: Uuid,
    /// The bytes received: where the next part starts.
    pub offset: i64,
    /// The whole file's size, as announced.
    pub size: i64,
    /// The largest part the server takes.
    pub part_limit: usize,
    /// An unfinished upload is deleted after this moment.
    pub expires_at: String,
}

fn upload_out(u: &crate::storage::uploads::UploadRow) -> UploadOut {
    UploadOut {
        upload: u.id,
        offset: u.received,
        size: u.size_bytes,
        part_limit: PART_LIMIT,
        expires_at: u.expires_at.clone(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumableRequest {
    /// The file's size in bytes.
    pub size: u64,
    /// The file's name as the citizen knows it.
    pub name: Option<String>,
}

/// Starts a resumable upload of one document field: send the file with `PATCH
/// /api/v1/me/uploads/{upload}` in parts, each with its `Upload-Offset`.
#[utoipa::path(post, path = "/api/v1/me/applications/{id}/uploads/{field}/resumable", tag = "applications",
    params(("id" = Uuid, Path, description = "The application id"),
           ("field" = String, Path, description = "The document field's key")),
    request_body = ResumableRequest,
    security(("bearer" = [])),
    responses((status = 201, body = UploadOut),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 413, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn start_resumable(
    State(app): State<AppState>,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<ResumableRequest>, JsonRejection>,
) -> Response {
    let (id, key) = ids.map(|Path(p)| p).unwrap_or_default();
    let row = match own(&app, &headers, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let result = async {
        let request = super::api_queue::json_body(body)?;
        if in_bundle(&row) {
            return Err(bundled());
        }
        let account = row.account_id.unwrap_or_default();
        let (def, _) = form_for(&app, &row).await.map_err(|_| form_unreadable())?;
        let (_, max_bytes) = def
            .document_field(&key)
            .ok_or_else(unknown_document_field)?;
        if request.size == 0 {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty_file",
                "Berkas kosong tidak dapat diunggah.",
                "An empty file cannot be uploaded.",
            ));
        }
        if request.size > max_bytes {
            let limit =
                super::applications::size_text(i64::try_from(max_bytes).unwrap_or(i64::MAX));
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("Ukuran berkas harus 1 bait sampai {limit}."),
                format!("The file's size must be 1 byte to {limit}."),
            ));
        }
        if !store::held_by(&app.db, row.id, account)
            .await
            .map_err(|e| ApiError::internal(&e))?
        {
            return Err(not_held());
        }
        let name = request.name.unwrap_or_else(|| key.clone());
        let name: String = name.chars().filter(|c| !c.is_control()).take(120).collect();
        let name_sealed = app
            .settings
            .keys
            .seal("document.name", name.as_bytes())
            .map_err(|e| ApiError::internal(&e))?;
        let started = crate::storage::uploads::start(
            &app.db,
            crate::storage::uploads::NewUpload {
                application_id: row.id,
                account_id: account,
                field_key: &key,
                name_sealed: &name_sealed,
                size_bytes: i64::try_from(request.size).unwrap_or(i64::MAX),
            },
            Utc::now(),
        )
        .await
        .map_err(|e| ApiError::internal(&e))?;
        started.ok_or_else(|| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_uploads",
                "Terlalu banyak unggahan yang belum selesai; selesaikan atau tunggu sehari.",
                "Too many unfinished uploads; finish them or wait a day.",
            )
        })
    }
    .await;
    match result {
        Ok(u) => (
            StatusCode::CREATED,
            [(
                axum::http::header::LOCATION,
                format!("/api/v1/me/uploads/{}", u.id),
            )],
            Json(upload_out(&u)),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// One's own upload by its id (404 for anyone else's, or once expired).
async fn own_upload(
    app: &AppState,
    headers: &HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<crate::storage::uploads::UploadRow, Response> {
    let session = super::api_queue::citizen(app, headers).await?;
    let not_found = || ApiError::not_found("Unggahan", "Upload").into_response();
    let id = id
        .ok()
        .and_then(|Path(id)| Uuid::parse_str(&id).ok())
        .ok_or_else(not_found)?;
    crate::storage::uploads::upload(&app.db, id, session.account_id, Utc::now())
        .await
        .map_err(|e| ApiError::internal(&e).into_response())?
        .ok_or_else(not_found)
}

/// How much of an upload has arrived: after a dropped connection, go on from `offset`.
#[utoipa::path(get, path = "/api/v1/me/uploads/{upload}", tag = "applications",
    params(("upload" = Uuid, Path, description = "The upload id")),
    security(("bearer" = [])),
    responses((status = 200, body = UploadOut),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_upload(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    match own_upload(&app, &headers, id).await {
        Ok(u) => Json(upload_out(&u)).into_response(),
        Err(r) => r,
    }
}

fn with_offset(mut response: Response, offset: i64) -> Response {
    if let Ok(v) = axum::http::HeaderValue::from_str(&offset.to_string()) {
        response.headers_mut().insert("upload-offset", v);
    }
    response
}

/// Sends the part of the file that starts at `Upload-Offset` (at most `part_limit` bytes). A
/// part not at the upload's offset is refused (409) with the offset to go on from; nothing is
/// written. The last part finishes the upload: the whole file is checked like any upload and
/// recorded as the field's document (200, the application). An empty part at the end finishes
/// an upload whose last answer was lost.
#[utoipa::path(patch, path = "/api/v1/me/uploads/{upload}", tag = "applications",
    params(("upload" = Uuid, Path, description = "The upload id"),
           ("Upload-Offset" = i64, Header, description = "Where this part starts in the file")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    security(("bearer" = [])),
    responses((status = 200, body = ApplicationDetail, description = "The last part: the document is recorded"),
              (status = 204, description = "Taken; `Upload-Offset` says where the next part starts"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 413, body = Problem, content_type = "application/problem+json"),
              (status = 415, body = Problem, content_type = "application/problem+json")))]
pub async fn patch_upload(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Response {
    // The owner is checked before the body is read.
    let upload = match own_upload(&app, &headers, id).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Some(offset) = headers
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|o| *o >= 0)
    else {
        return ApiError::bad_parameter(
            "Kirim header Upload-Offset: letak awal bagian ini dalam berkas.",
            "Send an Upload-Offset header: where this part starts in the file.",
        )
        .into_response();
    };
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "part_too_large",
            "Bagian terlalu besar (paling besar 1 MB).",
            "The part is too large (at most 1 MB).",
        )
        .into_response()
    };
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > PART_LIMIT) {
        return too_large();
    }
    let part = match axum::body::to_bytes(body, PART_LIMIT).await {
        Ok(part) => part,
        // Without a length announced, a body over the limit; else the connection broke.
        Err(_) if announced.is_none() => return too_large(),
        Err(_) => {
            return ApiError::bad_parameter(
                "Bagian ini tidak tiba utuh; tanyakan posisi unggahan lalu kirim lagi.",
                "This part did not arrive whole; ask where the upload stands and send it again.",
            )
            .into_response();
        }
    };
    // An empty part finishes an upload that is whole (its last answer was lost); nothing else.
    if part.is_empty() {
        if offset == upload.size_bytes && upload.received == upload.size_bytes {
            return with_offset(finish(&app, &upload).await, upload.received);
        }
        return ApiError::bad_parameter(
            "Bagian kosong hanya untuk menyelesaikan unggahan yang sudah lengkap.",
            "An empty part only finishes an upload that is complete.",
        )
        .into_response();
    }
    let sealed = match app.settings.keys.seal("document.part", &part) {
        Ok(s) => s,
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let len = i64::try_from(part.len()).unwrap_or(i64::MAX);
    let appended = crate::storage::uploads::append(
        &app.db,
        upload.id,
        upload.account_id,
        offset,
        len,
        &sealed,
        Utc::now(),
    )
    .await;
    use crate::storage::uploads::Appended;
    match appended {
        Ok(Appended::Received(n)) if n < upload.size_bytes => {
            with_offset(StatusCode::NO_CONTENT.into_response(), n)
        }
        Ok(Appended::Received(n)) => with_offset(finish(&app, &upload).await, n),
        Ok(Appended::WrongOffset(current)) => with_offset(
            ApiError::new(
                StatusCode::CONFLICT,
                "offset_mismatch",
                format!("Bagian ini tidak dimulai di {current}; lanjutkan dari sana."),
                format!("This part does not start at {current}; go on from there."),
            )
            .into_response(),
            current,
        ),
        Ok(Appended::TooLong) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "past_the_end",
            "Bagian ini melewati ukuran berkas yang diumumkan.",
            "This part goes past the file's announced size.",
        )
        .into_response(),
        Ok(Appended::NotFound) => ApiError::not_found("Unggahan", "Upload").into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// The whole file is here: checked as any upload, stored, and recorded as the field's document;
/// the upload is then deleted (also when the file is refused).
async fn finish(app: &AppState, upload: &crate::storage::uploads::UploadRow) -> Response {
    use crate::storage::uploads;
    // One request finishes an upload; another sent meanwhile is told to look again.
    match uploads::claim(&app.db, upload.id, upload.account_id, Utc::now()).await {
        Ok(true) => {}
        Ok(false) => {
            return ApiError::new(
                StatusCode::CONFLICT,
                "being_finished",
                "Unggahan ini sedang diselesaikan; periksa permohonannya sebentar lagi.",
                "This upload is being finished; look at the application again shortly.",
            )
            .into_response();
        }
        Err(e) => return ApiError::internal(&e).into_response(),
    }
    let finished = finish_claimed(app, upload).await;
    // Not recorded for a reason that may pass (an outage): the client may finish it again.
    if finished.status().is_server_error()
        && let Err(e) = uploads::release(&app.db, upload.id).await
    {
        tracing::warn!(error = %e, "an upload's finishing claim was not released");
    }
    finished
}

async fn finish_claimed(app: &AppState, upload: &crate::storage::uploads::UploadRow) -> Response {
    let refuse = |e: ApiError| e.into_response();
    let parts = match crate::storage::uploads::parts(&app.db, upload.id).await {
        Ok(p) => p,
        Err(e) => return refuse(ApiError::internal(&e)),
    };
    let mut bytes = Vec::with_capacity(usize::try_from(upload.size_bytes).unwrap_or(0));
    for sealed in parts {
        match app.settings.keys.open("document.part", &sealed) {
            Ok(plain) => bytes.extend_from_slice(&plain),
            Err(e) => return refuse(ApiError::internal(&e)),
        }
    }
    if i64::try_from(bytes.len()).ok() != Some(upload.size_bytes) {
        return refuse(ApiError::internal(&std::io::Error::other(format!(
            "upload {} holds {} bytes of {}",
            upload.id,
            bytes.len(),
            upload.size_bytes
        ))));
    }
    let row = match store::application(&app.db, upload.application_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return refuse(ApiError::not_found("Permohonan", "Application")),
        Err(e) => return refuse(ApiError::internal(&e)),
    };
    let Ok((def, _)) = form_for(app, &row).await else {
        return refuse(form_unreadable());
    };
    let Some((types, max_bytes)) = def.document_field(&upload.field_key) else {
        let _ = crate::storage::uploads::remove(&app.db, upload.id).await;
        return refuse(unknown_document_field());
    };
    let name = app
        .settings
        .keys
        .open("document.name", &upload.name_sealed)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| upload.field_key.clone());
    let recorded = record_file(
        app,
        row.id,
        upload.account_id,
        &upload.field_key,
        &name,
        &bytes,
        &types,
        max_bytes,
    )
    .await;
    // Refused for good (a wrong file, not the citizen's to change): the parts go. After a
    // server-side failure they stay, for the client to finish again.
    if recorded
        .as_ref()
        .map_or_else(|e| e.status.is_client_error(), |()| true)
        && let Err(e) = crate::storage::uploads::remove(&app.db, upload.id).await
    {
        tracing::warn!(error = %e, "a finished upload's parts were not deleted");
    }
    match recorded {
        Ok(()) => reread(app, row.id).await,
        Err(e) => refuse(e),
    }
}
