//! Applications (permohonan): the citizen's journey (start, fill and save, upload documents,
//! submit, receipt, follow, fix and resubmit, download the output), the back office's inbox
//! and steps, and public tracking by code.
//!
//! Every change of state goes through `storage::applications::step`, which asks
//! `domain::application` on the locked row; a handler never decides a transition itself. A
//! citizen's application is found only with its owner's session (someone else's is a 404); a
//! staff member's only where `domain::roles::permits` allows `ProcessApplications` at its tenant,
//! checked before the application is even looked up.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::account::{
    PairsForm, PlainForm, check_csrf, checked_form, csrf, csrf_forms, render, signed_in,
};
use super::errors::PageError;
use super::i18n::{Lang, Texts};
use crate::booking_desk::local_now;
use crate::catalog::{Catalog, Mpp, Service, Tenant};
use crate::domain::application::{
    self as rules, ApplicationAction, ApplicationState, Entered, Standing,
};
use crate::domain::form::{DocumentType, FieldKind, FormDef};
use crate::domain::roles::Action;
use crate::storage::accounts::{self, NewMessage};
use crate::storage::applications::{self as store, ApplicationRow, NewDocument, Step, StepError};

const ANSWERS: &str = "application.answers";
const NOTE: &str = "application.note";
const DOC_NAME: &str = "document.name";

/// Which services take applications online: a copy of the forms' service ids, at most five
/// seconds old, so the service page does not ask the database on every view.
#[derive(Default)]
pub struct OfferedForms {
    inner: std::sync::RwLock<Option<(std::time::Instant, Arc<HashSet<Uuid>>)>>,
}

impl OfferedForms {
    /// Forgets the copy (this node saved a form: the next read asks the database).
    pub fn forget(&self) {
        if let Ok(mut g) = self.inner.write() {
            *g = None;
        }
    }

    pub async fn offers(&self, db: &crate::storage::Db, service: Uuid) -> bool {
        let fresh = self.inner.read().ok().and_then(|g| {
            g.as_ref()
                .filter(|(at, _)| at.elapsed() < std::time::Duration::from_secs(5))
                .map(|(_, set)| set.clone())
        });
        let set = match fresh {
            Some(set) => set,
            None => {
                let ids = store::services_with_forms(db).await.unwrap_or_default();
                let set = Arc::new(ids.into_iter().collect::<HashSet<Uuid>>());
                if let Ok(mut g) = self.inner.write() {
                    *g = Some((std::time::Instant::now(), set.clone()));
                }
                set
            }
        };
        set.contains(&service)
    }
}

/// What the state means to the citizen (and on the public tracking page).
pub fn state_words(state: &str, lang: Lang) -> &'static str {
    match state {
        "draft" => lang.pick("Draf, belum dikirim", "Draft, not sent"),
        "submitted" => lang.pick(
            "Diterima, menunggu diperiksa",
            "Received, waiting to be checked",
        ),
        "in_review" => lang.pick("Sedang diperiksa petugas", "Being checked by an officer"),
        "needs_revision" => lang.pick(
            "Perlu diperbaiki pemohon",
            "Waiting for the applicant's fix",
        ),
        "approved" => lang.pick(
            "Disetujui, hasil disiapkan",
            "Approved, output being prepared",
        ),
        "ready" => lang.pick(
            "Hasil siap diambil/diunduh",
            "Output ready to collect or download",
        ),
        "collected" => lang.pick("Selesai", "Done"),
        "rejected" => lang.pick("Ditolak", "Rejected"),
        _ => lang.pick("Dibatalkan pemohon", "Withdrawn by the applicant"),
    }
}

fn action_words(action: &str, lang: Lang) -> &'static str {
    match action {
        "submit" => lang.pick("Permohonan dikirim", "Application sent"),
        "take" => lang.pick("Mulai diperiksa petugas", "An officer began checking it"),
        "release" => lang.pick("Dikembalikan ke antrean", "Put back in the queue"),
        "request_revision" => lang.pick("Diminta perbaikan", "A fix was asked for"),
        "resubmit" => lang.pick("Perbaikan dikirim", "The fix was sent"),
        "approve" => lang.pick("Disetujui", "Approved"),
        "reject" => lang.pick("Ditolak", "Rejected"),
        "attach_output" => lang.pick("Hasil dilampirkan", "Output attached"),
        "mark_collected" => lang.pick("Hasil diambil/diunduh", "Output collected or downloaded"),
        _ => lang.pick("Dibatalkan pemohon", "Withdrawn by the applicant"),
    }
}

pub(super) fn standing_words(standing: Standing, lang: Lang) -> (&'static str, &'static str) {
    match standing {
        Standing::OnTime => ("ontime", lang.pick("sesuai jadwal", "on time")),
        Standing::DueSoon => ("soon", lang.pick("mendekati batas waktu", "due soon")),
        Standing::Late => (
            "late",
            lang.pick("melewati batas waktu", "past its time limit"),
        ),
    }
}

pub(super) fn day_text(day: &str) -> String {
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map(|d| d.format("%d-%m-%Y").to_string())
        .unwrap_or_else(|_| day.to_owned())
}

pub(super) fn size_text(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", (bytes + 1023) / 1024)
    }
}

/// Where an application belongs in the catalog.
pub(super) struct Place<'c> {
    pub(super) service: &'c Service,
    pub(super) tenant: &'c Tenant,
    pub(super) mpp: &'c Mpp,
}

pub(super) fn place_of<'c>(catalog: &'c Catalog, row: &ApplicationRow) -> Option<Place<'c>> {
    let service = catalog.service(row.service_id)?;
    Some(Place {
        service,
        tenant: &catalog.tenants[service.tenant],
        mpp: &catalog.mpps[service.mpp],
    })
}

/// The MPP's local date now.
pub(super) fn today(app: &AppState, mpp: &Mpp) -> NaiveDate {
    local_now(mpp, app.settings.clock.now()).date()
}

/// The due date of an application with this history, on its tenant's calendar as known today.
fn due_rule(
    catalog: &Catalog,
    place: &Place<'_>,
    limit_days: Option<i32>,
    today: NaiveDate,
) -> impl Fn(&[Entered]) -> Option<NaiveDate> + Sync + use<> {
    let calendar = catalog.calendar(place.mpp, today, place.tenant.observes_cuti_bersama);
    move |history: &[Entered]| {
        let limit = u32::try_from(limit_days?).ok()?;
        rules::due_date(&calendar, limit, history)
    }
}

pub(super) fn standing_of(
    app: &AppState,
    catalog: &Catalog,
    place: &Place<'_>,
    row: &ApplicationRow,
) -> Option<Standing> {
    let state = ApplicationState::parse(&row.state)?;
    if !state.clock_runs() {
        return None;
    }
    let due = NaiveDate::parse_from_str(row.due_on.as_deref()?, "%Y-%m-%d").ok()?;
    let today = today(app, place.mpp);
    let calendar = catalog.calendar(place.mpp, today, place.tenant.observes_cuti_bersama);
    Some(rules::standing(&calendar, today, due))
}

pub(super) async fn form_of(
    app: &AppState,
    service: Uuid,
) -> Result<Option<(FormDef, i32)>, PageError> {
    let found = store::form(&app.db, service)
        .await
        .map_err(|e| PageError::internal(Lang::Id, "/", &e))?;
    Ok(found.and_then(|(json, version)| {
        serde_json::from_str::<FormDef>(&json)
            .ok()
            .map(|f| (f, version))
    }))
}

/// A draft made in a bundle: it is filled and sent with the bundle's other applications, on
/// the bundle's page, never alone.
pub(super) fn in_bundle(row: &ApplicationRow) -> bool {
    row.state == "draft" && row.bundle_application_id.is_some()
}

fn bundled(lang: Lang) -> PageError {
    PageError::status(
        lang,
        StatusCode::CONFLICT,
        "Permohonan ini bagian dari paket layanan: isi, unggah, dan kirim lewat halaman paketnya.",
        "This application is part of a bundle: fill, upload and send it on the bundle's page.",
    )
}

/// The form an application is shown and checked with: a draft follows the service's current
/// form (it moves to that version when saved); an application already sent keeps the version
/// it was sent with, so a later change of the form neither hides its answers nor asks for
/// fields it never had. With the version number.
pub(super) async fn form_for(
    app: &AppState,
    row: &ApplicationRow,
) -> Result<(FormDef, i32), PageError> {
    if row.state != "draft" {
        let found = store::form_at(&app.db, row.service_id, row.form_version)
            .await
            .map_err(|e| PageError::internal(Lang::Id, "/", &e))?;
        if let Some(def) = found.and_then(|json| serde_json::from_str::<FormDef>(&json).ok()) {
            return Ok((def, row.form_version));
        }
    }
    // Sent with a version no longer kept (made before versions were): the current form.
    form_of(app, row.service_id).await?.ok_or_else(|| {
        PageError::internal(
            Lang::Id,
            "/",
            &std::io::Error::other(format!("service {} has no readable form", row.service_id)),
        )
    })
}

pub(super) fn open_answers(app: &AppState, row: &ApplicationRow) -> BTreeMap<String, String> {
    app.settings
        .keys
        .open(ANSWERS, &row.answers_sealed)
        .ok()
        .and_then(|plain| serde_json::from_slice(&plain).ok())
        .unwrap_or_default()
}

pub(super) fn seal_answers(
    app: &AppState,
    answers: &BTreeMap<String, String>,
    lang: Lang,
) -> Result<Vec<u8>, PageError> {
    let json = serde_json::to_vec(answers).map_err(|e| PageError::internal(lang, "/akun", &e))?;
    app.settings
        .keys
        .seal(ANSWERS, &json)
        .map_err(|e| PageError::internal(lang, "/akun", &e))
}

/// A message for the outbox, sealed.
struct Notice {
    channel: &'static str,
    subject: String,
    recipient_sealed: Vec<u8>,
    body_sealed: Vec<u8>,
}

/// The message telling the citizen of `row` about a step; none when the account is gone.
async fn notice_for(
    app: &AppState,
    row: &ApplicationRow,
    subject: &str,
    body: &str,
) -> Result<Option<Notice>, PageError> {
    let Some(account) = row.account_id else {
        return Ok(None);
    };
    let internal = |e: &dyn std::error::Error| PageError::internal(Lang::Id, "/", e);
    let Some(profile) = accounts::profile(&app.db, account)
        .await
        .map_err(|e| internal(&e))?
    else {
        return Ok(None);
    };
    let keys = &app.settings.keys;
    let identifier = keys
        .open("account.identifier", &profile.identifier_sealed)
        .map_err(|e| internal(&e))?;
    let link = format!(
        "{}/akun/permohonan/{}",
        app.settings.public_url.trim_end_matches('/'),
        row.id
    );
    let text = format!("{body}\n\n{} · {link}", row.tracking_code);
    Ok(Some(Notice {
        channel: if profile.identifier_kind == "email" {
            "email"
        } else {
            "sms"
        },
        subject: format!("{subject} ({})", row.tracking_code),
        recipient_sealed: keys
            .seal("outbox.recipient", &identifier)
            .map_err(|e| internal(&e))?,
        body_sealed: keys
            .seal("outbox.body", text.as_bytes())
            .map_err(|e| internal(&e))?,
    }))
}

/// What the citizen is told after each step that concerns them: (subject, body), both languages.
fn notice_words(action: ApplicationAction) -> Option<(&'static str, &'static str)> {
    Some(match action {
        ApplicationAction::Submit | ApplicationAction::Resubmit => (
            "Permohonan diterima / Application received",
            "Permohonan Anda sudah diterima MPP Digital. Ikuti prosesnya dengan kode pelacakan di bawah.\n\
             Your application was received. Follow it with the tracking code below.",
        ),
        ApplicationAction::RequestRevision => (
            "Permohonan perlu diperbaiki / Your application needs a fix",
            "Petugas meminta perbaikan permohonan Anda. Buka permohonan untuk melihat apa yang perlu diperbaiki, lalu kirim ulang.\n\
             An officer asked for a fix. Open the application to see what to fix, then send it again.",
        ),
        ApplicationAction::Approve => (
            "Permohonan disetujui / Application approved",
            "Permohonan Anda disetujui; hasilnya sedang disiapkan.\nYour application was approved; its output is being prepared.",
        ),
        ApplicationAction::Reject => (
            "Permohonan ditolak / Application rejected",
            "Permohonan Anda ditolak. Alasannya ada di halaman permohonan.\nYour application was rejected. The reason is on its page.",
        ),
        ApplicationAction::AttachOutput => (
            "Hasil layanan siap / Your output is ready",
            "Hasil layanan Anda siap: unduh dari halaman permohonan atau ambil di MPP.\n\
             Your output is ready: download it from the application's page or collect it at the MPP.",
        ),
        _ => return None,
    })
}

/// The due date from an application's history (see `due_rule`).
type DueRule = dyn Fn(&[Entered]) -> Option<NaiveDate> + Sync + Send;

/// What a step needs besides its action and actor, computed before its transaction: the due
/// date's rule, the citizen's notice, the sealed note and the audit scope.
pub(super) struct Prepared {
    due: Box<DueRule>,
    notice: Option<Notice>,
    note_sealed: Option<Vec<u8>>,
    scope: String,
    day: NaiveDate,
}

impl Prepared {
    pub(super) async fn new(
        app: &AppState,
        catalog: &Catalog,
        place: &Place<'_>,
        row: &ApplicationRow,
        action: ApplicationAction,
        note: Option<&str>,
    ) -> Result<Prepared, PageError> {
        let day = today(app, place.mpp);
        let notice = match notice_words(action) {
            Some((subject, body)) => notice_for(app, row, subject, body).await?,
            None => None,
        };
        let note_sealed = match note {
            Some(n) => Some(
                app.settings
                    .keys
                    .seal(NOTE, n.as_bytes())
                    .map_err(|e| PageError::internal(Lang::Id, "/", &e))?,
            ),
            None => None,
        };
        Ok(Prepared {
            due: Box::new(due_rule(catalog, place, row.limit_days, day)),
            notice,
            note_sealed,
            scope: catalog.place(place.mpp, Some(place.tenant)).audit_path(),
            day,
        })
    }

    pub(super) fn step<'a>(
        &'a self,
        action: ApplicationAction,
        actor: &'a str,
        owner: Option<Uuid>,
        assignee: Option<Uuid>,
        document: Option<NewDocument<'a>>,
    ) -> Step<'a> {
        Step {
            action,
            actor,
            owner,
            assignee,
            note_sealed: self.note_sealed.as_deref(),
            day: self.day,
            due: self.due.as_ref(),
            document,
            notice: self.notice.as_ref().map(|n| NewMessage {
                channel: n.channel,
                recipient_sealed: &n.recipient_sealed,
                subject: &n.subject,
                body_sealed: &n.body_sealed,
            }),
            audit_scope: &self.scope,
            checked: None,
        }
    }
}

/// Takes a step with its notice to the citizen (when the step concerns them).
#[allow(clippy::too_many_arguments)]
pub(super) async fn take_step(
    app: &AppState,
    catalog: &Catalog,
    place: &Place<'_>,
    row: &ApplicationRow,
    action: ApplicationAction,
    actor: &str,
    owner: Option<Uuid>,
    assignee: Option<Uuid>,
    note: Option<&str>,
    document: Option<NewDocument<'_>>,
) -> Result<Result<ApplicationRow, StepError>, PageError> {
    let prepared = Prepared::new(app, catalog, place, row, action, note).await?;
    Ok(store::step(
        &app.db,
        row.id,
        prepared.step(action, actor, owner, assignee, document),
        Utc::now(),
    )
    .await)
}

pub(super) fn step_refusal(lang: Lang, here: &str, e: StepError) -> PageError {
    match e {
        StepError::NotFound => PageError::not_found(lang, here),
        StepError::Changed => PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Permohonan berubah saat diperiksa (mungkin di tab lain). Muat ulang halaman lalu kirim lagi.",
            "The application changed while it was checked (perhaps in another tab). Reload the page and send it again.",
        ),
        StepError::Illegal(illegal) => PageError::status(
            lang,
            StatusCode::CONFLICT,
            format!(
                "Langkah ini tidak dapat dilakukan: permohonan berstatus \"{}\" (mungkin sudah diproses di tab atau oleh petugas lain).",
                state_words(illegal.from.as_str(), Lang::Id)
            ),
            format!(
                "This step cannot be taken: the application is \"{}\" (perhaps it was handled in another tab or by another officer).",
                state_words(illegal.from.as_str(), Lang::En)
            ),
        ),
        StepError::Storage(e) => PageError::internal(lang, here, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// The citizen's pages.

#[derive(Template, WebTemplate)]
#[template(path = "apply.html")]
struct ApplyPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    service_id: Uuid,
    service: String,
    tenant: String,
    mpp: String,
    limit: String,
    requirements: Vec<String>,
    key: String,
}

pub(super) fn limit_text(service: &Service, lang: Lang) -> String {
    let days = rules::limit_in_working_days(service.time_limit);
    match days {
        0 => lang
            .pick("selesai pada hari diterima", "done the day it is received")
            .to_owned(),
        n => format!("{n} {}", lang.pick("hari kerja", "working days")),
    }
}

/// The page that starts an application for a service.
pub async fn apply_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let here = format!("/layanan/{id}/ajukan");
    if signed_in(&app, &headers, lang).await?.is_none() {
        return Ok(Redirect::to("/masuk").into_response());
    }
    let catalog = app.catalog.get();
    let service = Uuid::parse_str(&id)
        .ok()
        .and_then(|id| catalog.service(id))
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    if form_of(&app, service.id).await?.is_none() {
        return Err(not_online(lang));
    }
    let (token, fresh) = csrf(&headers)?;
    let page = ApplyPage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        service_id: service.id,
        service: service.name.clone(),
        tenant: catalog.tenants[service.tenant].name.clone(),
        mpp: catalog.mpps[service.mpp].name.clone(),
        limit: limit_text(service, lang),
        requirements: service
            .requirements
            .iter()
            .map(|r| r.text.clone())
            .collect(),
        key: crate::credentials::random_token().map_err(|_| PageError::unavailable(lang, "/"))?,
    };
    Ok(render(
        page,
        StatusCode::OK,
        fresh.then_some((&app, token.as_str())),
    ))
}

/// The one-time key a start form carries (a retry with it opens what the first made).
pub(super) fn start_key(sent: &str, lang: Lang, here: &str) -> Result<String, PageError> {
    let key: String = sent.trim().chars().take(64).collect();
    if key.len() < 16 {
        return Err(PageError::bad_request(
            lang,
            here,
            "Formulir tidak lengkap; muat ulang halaman.",
            "The form is incomplete; reload the page.",
        ));
    }
    Ok(key)
}

fn not_online(lang: Lang) -> PageError {
    PageError::status(
        lang,
        StatusCode::NOT_FOUND,
        "Layanan ini belum menerima permohonan daring. Datang langsung ke MPP.",
        "This service does not take applications online yet. Come to the MPP.",
    )
}

/// A start form: its CSRF token and the one-time key that makes a retried start open the same
/// draft (an application's, or a bundle's).
#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub(super) key: String,
}

csrf_forms!(StartForm);

/// Starts a draft (a retried request with the same key opens the same draft).
pub async fn apply(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<StartForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/layanan/{id}/ajukan");
    let form = checked_form(form, &headers, lang, &here)?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let catalog = app.catalog.get();
    let service = Uuid::parse_str(&id)
        .ok()
        .and_then(|id| catalog.service(id))
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let Some((_, version)) = form_of(&app, service.id).await? else {
        return Err(not_online(lang));
    };
    let key = start_key(&form.key, lang, &here)?;
    let draft = new_draft(&app, &catalog, service, session.account_id, version, &key)
        .await
        .map_err(|e| PageError::internal(lang, &here, &*e))?;
    Ok(Redirect::to(&format!("/akun/permohonan/{}", draft.id)).into_response())
}

/// Makes the citizen's draft of `service` with its form `version`, with no answers yet; a
/// retried start with the same `key` returns the draft the first one made.
pub(super) async fn new_draft(
    app: &AppState,
    catalog: &Catalog,
    service: &Service,
    account_id: Uuid,
    version: i32,
    key: &str,
) -> Result<ApplicationRow, Box<dyn std::error::Error + Send + Sync>> {
    let random: [u8; 8] = crate::credentials::random_bytes::<8>()?;
    let sealed = app.settings.keys.seal(
        ANSWERS,
        &serde_json::to_vec(&BTreeMap::<String, String>::new())?,
    )?;
    let limit = i32::try_from(rules::limit_in_working_days(service.time_limit)).ok();
    Ok(store::create_draft(
        &app.db,
        store::NewApplication {
            service_id: service.id,
            tenant_id: catalog.tenants[service.tenant].id,
            mpp_id: catalog.mpps[service.mpp].id,
            account_id,
            tracking_code: &rules::tracking_code(random),
            answers_sealed: &sealed,
            form_version: version,
            limit_days: limit,
            idempotency_key: key,
        },
        Utc::now(),
    )
    .await?)
}

pub(super) struct FieldView {
    pub(super) key: String,
    pub(super) label: String,
    pub(super) kind: &'static str,
    pub(super) required: bool,
    pub(super) value: String,
    pub(super) options: Vec<(String, String)>,
    pub(super) error: Option<String>,
    /// For document fields: the types accepted (`accept` attribute) and the limit in words.
    pub(super) accept: String,
    pub(super) limit: String,
    pub(super) document: Option<DocView>,
}

pub(super) struct DocView {
    pub(super) id: Uuid,
    pub(super) name: String,
    pub(super) size: String,
    pub(super) kind: String,
}

struct EventView {
    day: String,
    what: &'static str,
    note: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "application.html")]
struct ApplicationPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    id: Uuid,
    code: String,
    service_id: Uuid,
    service: String,
    tenant: String,
    mpp: String,
    state: &'static str,
    held: bool,
    draft: bool,
    withdrawable: bool,
    due: Option<String>,
    standing: Option<(&'static str, &'static str)>,
    limit: String,
    fields: Vec<FieldView>,
    outputs: Vec<DocView>,
    events: Vec<EventView>,
    /// What the officer asked to fix, while the citizen holds it for revision.
    revision: Option<String>,
    error: Option<String>,
    notice: Option<&'static str>,
}

pub(super) fn accept_of(types: &[DocumentType]) -> String {
    types
        .iter()
        .map(|t| match t {
            DocumentType::Pdf => ".pdf,application/pdf",
            DocumentType::Jpeg => ".jpg,.jpeg,image/jpeg",
            DocumentType::Png => ".png,image/png",
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn types_text(types: &[DocumentType]) -> String {
    types
        .iter()
        .map(|t| match t {
            DocumentType::Pdf => "PDF",
            DocumentType::Jpeg => "JPEG",
            DocumentType::Png => "PNG",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn doc_view(app: &AppState, d: &store::DocumentRow) -> DocView {
    let name = app
        .settings
        .keys
        .open(DOC_NAME, &d.name_sealed)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| "dokumen".to_owned());
    DocView {
        id: d.id,
        name,
        size: size_text(d.size_bytes),
        kind: d.content_type.clone(),
    }
}

async fn timeline(
    app: &AppState,
    row: &ApplicationRow,
    lang: Lang,
) -> Result<Vec<EventView>, PageError> {
    let events = store::history(&app.db, row.id)
        .await
        .map_err(|e| PageError::internal(lang, "/", &e))?;
    let mut out = vec![EventView {
        day: day_text(&row.created_at.chars().take(10).collect::<String>()),
        what: lang.pick("Draf dibuat", "Draft started"),
        note: None,
    }];
    for e in events {
        let note = e.note_sealed.as_deref().and_then(|n| {
            app.settings
                .keys
                .open(NOTE, n)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        });
        out.push(EventView {
            day: day_text(&e.day),
            what: action_words(&e.action, lang),
            note,
        });
    }
    Ok(out)
}

/// The form's fields as the page shows them, with answers, errors and the documents saved.
/// The fields as the page shows them; an address offers the kecamatan of `regency` (the MPP's
/// kabupaten/kota).
pub(super) fn field_views(
    app: &AppState,
    lang: Lang,
    regency: &str,
    form: &FormDef,
    answers: &BTreeMap<String, String>,
    errors: &BTreeMap<String, String>,
    docs: &[store::DocumentRow],
) -> Vec<FieldView> {
    form.fields
        .iter()
        .map(|f| {
            let (kind, options, accept, limit) = match &f.kind {
                FieldKind::Text { .. } => ("text", Vec::new(), String::new(), String::new()),
                FieldKind::Number { .. } => ("number", Vec::new(), String::new(), String::new()),
                FieldKind::Date => ("date", Vec::new(), String::new(), String::new()),
                FieldKind::Nik => ("nik", Vec::new(), String::new(), String::new()),
                FieldKind::Address => {
                    let catalog = app.catalog.get();
                    let mut options: Vec<(String, String)> = catalog
                        .districts_of(regency)
                        .into_iter()
                        .map(|(code, name)| (code.to_owned(), name.to_owned()))
                        .collect();
                    // An answer from elsewhere (given through the API) stays chosen.
                    if let Some(v) = answers.get(&f.key).filter(|v| !v.is_empty())
                        && !options.iter().any(|(code, _)| code == v)
                    {
                        let name = catalog.region_name(v).unwrap_or(v).to_owned();
                        options.insert(0, (v.clone(), name));
                    }
                    // Without the kabupaten/kota's kecamatan in the registry, the code is typed.
                    let kind = if options.is_empty() {
                        "text"
                    } else {
                        "address"
                    };
                    (kind, options, String::new(), String::new())
                }
                FieldKind::Choice { options } => (
                    "choice",
                    options
                        .iter()
                        .map(|o| {
                            (
                                o.value.clone(),
                                lang.pick(&o.label_id, &o.label_en).to_owned(),
                            )
                        })
                        .collect(),
                    String::new(),
                    String::new(),
                ),
                FieldKind::Document {
                    types, max_bytes, ..
                } => (
                    "document",
                    Vec::new(),
                    accept_of(types),
                    format!(
                        "{}, {} {}",
                        types_text(types),
                        lang.pick("paling besar", "at most"),
                        size_text(i64::try_from(*max_bytes).unwrap_or(i64::MAX))
                    ),
                ),
            };
            FieldView {
                key: f.key.clone(),
                label: lang.pick(&f.label_id, &f.label_en).to_owned(),
                kind,
                required: form.is_required(f, answers),
                value: answers.get(&f.key).cloned().unwrap_or_default(),
                options,
                error: errors.get(&f.key).cloned(),
                accept,
                limit,
                document: docs
                    .iter()
                    .find(|d| d.kind == "input" && d.field_key == f.key)
                    .map(|d| doc_view(app, d)),
            }
        })
        .collect()
}

/// The citizen's own application, or a 404 (also for someone else's).
async fn own_application(
    app: &AppState,
    lang: Lang,
    here: &str,
    id: &str,
    account: Uuid,
) -> Result<ApplicationRow, PageError> {
    let id = Uuid::parse_str(id).map_err(|_| PageError::not_found(lang, here))?;
    store::application(&app.db, id)
        .await
        .map_err(|e| PageError::internal(lang, here, &e))?
        .filter(|a| a.account_id == Some(account))
        .ok_or_else(|| PageError::not_found(lang, here))
}

/// The application's page as its citizen sees it, with `answers` and `errors` shown in the
/// form (what was just sent, when it was refused).
#[allow(clippy::too_many_arguments)]
async fn application_page(
    app: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    row: &ApplicationRow,
    answers: Option<BTreeMap<String, String>>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let here = format!("/akun/permohonan/{}", row.id);
    let catalog = app.catalog.get();
    let place = place_of(&catalog, row).ok_or_else(|| PageError::not_found(lang, &here))?;
    let (form, _) = form_for(app, row).await?;
    let answers = answers.unwrap_or_else(|| open_answers(app, row));
    let docs = store::documents(&app.db, row.id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let state = ApplicationState::parse(&row.state).unwrap_or(ApplicationState::Draft);
    let fields = field_views(
        app,
        lang,
        &place.mpp.region_code,
        &form,
        &answers,
        &errors,
        &docs,
    );
    let events = timeline(app, row, lang).await?;
    let revision = (state == ApplicationState::NeedsRevision)
        .then(|| events.iter().rev().find_map(|e| e.note.clone()))
        .flatten();
    let (token, fresh) = csrf(headers)?;
    let page = ApplicationPage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        id: row.id,
        code: row.tracking_code.clone(),
        service_id: place.service.id,
        service: place.service.name.clone(),
        tenant: place.tenant.name.clone(),
        mpp: place.mpp.name.clone(),
        state: state_words(&row.state, lang),
        held: matches!(
            state,
            ApplicationState::Draft | ApplicationState::NeedsRevision
        ),
        draft: state == ApplicationState::Draft,
        withdrawable: state.apply(ApplicationAction::Withdraw).is_ok(),
        due: row.due_on.as_deref().map(day_text),
        standing: standing_of(app, &catalog, &place, row).map(|s| standing_words(s, lang)),
        limit: limit_text(place.service, lang),
        fields,
        outputs: docs
            .iter()
            .filter(|d| d.kind == "output")
            .map(|d| doc_view(app, d))
            .collect(),
        events,
        revision,
        error,
        notice,
    };
    Ok(render(page, status, fresh.then_some((app, token.as_str()))))
}

#[derive(Deserialize)]
pub struct ApplicationQuery {
    #[serde(default)]
    pesan: Option<String>,
}

pub async fn application(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<ApplicationQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let here = format!("/akun/permohonan/{id}");
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let row = own_application(&app, lang, &here, &id, session.account_id).await?;
    if in_bundle(&row)
        && let Some(bundle) = row.bundle_application_id
    {
        return Ok(Redirect::to(&format!("/akun/paket/{bundle}")).into_response());
    }
    let notice = match query.ok().and_then(|Query(q)| q.pesan).as_deref() {
        Some("tersimpan") => Some(lang.pick("Draf tersimpan.", "Draft saved.")),
        Some("terkirim") => Some(lang.pick(
            "Permohonan terkirim. Simpan kode pelacakan atau unduh tanda terimanya.",
            "Application sent. Keep the tracking code or download the receipt.",
        )),
        Some("terunggah") => Some(lang.pick("Dokumen tersimpan.", "Document saved.")),
        _ => None,
    };
    application_page(
        &app,
        lang,
        &headers,
        &row,
        None,
        BTreeMap::new(),
        None,
        notice,
        StatusCode::OK,
    )
    .await
}

/// What stops `row` from being sent with these answers and its uploads (empty: it may be sent).
pub(super) async fn sending_problems(
    app: &AppState,
    catalog: &Catalog,
    place: &Place<'_>,
    row: &ApplicationRow,
    def: &FormDef,
    answers: &BTreeMap<String, String>,
) -> Result<Vec<crate::domain::form::FieldProblem>, crate::storage::StorageError> {
    let uploaded: BTreeSet<String> = store::documents(&app.db, row.id)
        .await?
        .into_iter()
        .filter(|d| d.kind == "input")
        .map(|d| d.field_key)
        .collect();
    let registry = |code: &str| catalog.region_name(code).is_some();
    Ok(def.check(answers, &uploaded, today(app, place.mpp), &registry))
}

/// Saves the answers, and submits (or resubmits) when asked and they are complete.
pub async fn save(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<PairsForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/akun/permohonan/{id}");
    let form = checked_form(form, &headers, lang, &here)?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let row = own_application(&app, lang, &here, &id, session.account_id).await?;
    if in_bundle(&row) {
        return Err(bundled(lang));
    }
    let catalog = app.catalog.get();
    let place = place_of(&catalog, &row).ok_or_else(|| PageError::not_found(lang, &here))?;
    let (def, version) = form_for(&app, &row).await?;
    // Only the form's own answer fields are kept; documents come by upload.
    let answers: BTreeMap<String, String> = def
        .fields
        .iter()
        .filter(|f| !matches!(f.kind, FieldKind::Document { .. }))
        .filter_map(|f| {
            form.first(&f.key)
                .map(|v| (f.key.clone(), v.trim().chars().take(4000).collect()))
        })
        .collect();
    let sealed = seal_answers(&app, &answers, lang)?;
    let saved = store::save_answers(
        &app.db,
        session.account_id,
        &[store::Answers {
            id: row.id,
            sealed: &sealed,
            form_version: version,
        }],
        Utc::now(),
    )
    .await
    .map_err(|e| PageError::internal(lang, &here, &e))?;
    if !saved {
        return Err(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Permohonan ini sudah dikirim dan tidak dapat diubah lagi.",
            "This application was already sent and can no longer be changed.",
        ));
    }
    if form.first("aksi") != Some("kirim") {
        return Ok(Redirect::to(&format!("{here}?pesan=tersimpan")).into_response());
    }
    let problems = sending_problems(&app, &catalog, &place, &row, &def, &answers)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    if !problems.is_empty() {
        let errors = problems
            .into_iter()
            .map(|p| (p.key, lang.pick(&p.id, &p.en).to_owned()))
            .collect();
        return application_page(
            &app,
            lang,
            &headers,
            &row,
            Some(answers),
            errors,
            Some(
                lang.pick(
                    "Permohonan belum dapat dikirim: perbaiki isian yang ditandai. Jawaban Anda sudah disimpan.",
                    "The application cannot be sent yet: fix the marked fields. Your answers were saved.",
                )
                .to_owned(),
            ),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let action = if row.state == "needs_revision" {
        ApplicationAction::Resubmit
    } else {
        ApplicationAction::Submit
    };
    let actor = format!("account:{}", session.account_id);
    match take_step(
        &app,
        &catalog,
        &place,
        &row,
        action,
        &actor,
        Some(session.account_id),
        None,
        None,
        None,
    )
    .await?
    {
        Ok(_) => Ok(Redirect::to(&format!("{here}?pesan=terkirim")).into_response()),
        Err(e) => Err(step_refusal(lang, &here, e)),
    }
}

/// Withdraws one's own application (while it has not been taken up).
pub async fn withdraw(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<PlainForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/akun/permohonan/{id}");
    checked_form(form, &headers, lang, &here)?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let row = own_application(&app, lang, &here, &id, session.account_id).await?;
    if in_bundle(&row) {
        return Err(bundled(lang));
    }
    // A draft was never received: it is deleted, with its documents, rather than kept.
    if row.state == "draft" {
        store::discard_draft(&app.db, row.id, session.account_id)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?;
        return Ok(Redirect::to("/akun/permohonan").into_response());
    }
    let catalog = app.catalog.get();
    let place = place_of(&catalog, &row).ok_or_else(|| PageError::not_found(lang, &here))?;
    let actor = format!("account:{}", session.account_id);
    match take_step(
        &app,
        &catalog,
        &place,
        &row,
        ApplicationAction::Withdraw,
        &actor,
        Some(session.account_id),
        None,
        None,
        None,
    )
    .await?
    {
        Ok(_) => Ok(Redirect::to(&here).into_response()),
        Err(e) => Err(step_refusal(lang, &here, e)),
    }
}

/// A multipart upload read whole: its text fields and its one file (name, bytes), with the
/// file cut off at `limit` + 1 bytes (so an oversize file is known without reading it all).
pub(super) struct Upload {
    pub(super) fields: BTreeMap<String, String>,
    pub(super) file: Option<(String, Vec<u8>)>,
}

enum UploadProblem {
    TooLarge,
    Unreadable,
}

async fn read_upload(mut multipart: Multipart, limit: u64) -> Result<Upload, UploadProblem> {
    let mut fields = BTreeMap::new();
    let mut file = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(UploadProblem::TooLarge);
            }
            Err(_) => return Err(UploadProblem::Unreadable),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "berkas" {
            let file_name = field.file_name().unwrap_or("dokumen").to_owned();
            let mut field = field;
            let mut bytes = Vec::new();
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        bytes.extend_from_slice(&chunk);
                        if bytes.len() as u64 > limit {
                            return Err(UploadProblem::TooLarge);
                        }
                    }
                    Ok(None) => break,
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return Err(UploadProblem::TooLarge);
                    }
                    Err(_) => return Err(UploadProblem::Unreadable),
                }
            }
            file = Some((file_name, bytes));
        } else {
            let text = field.text().await.map_err(|_| UploadProblem::Unreadable)?;
            fields.insert(name, text.chars().take(4000).collect());
        }
    }
    Ok(Upload { fields, file })
}

/// A file's name as shown back: its last path part, printable, at most 120 characters.
fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(120)
        .collect();
    if cleaned.trim().is_empty() {
        "dokumen".to_owned()
    } else {
        cleaned
    }
}

/// Why a file was not kept, in both languages, with its status (413, 415 or 422).
pub(super) struct FileRefusal {
    pub(super) status: StatusCode,
    pub(super) id: String,
    pub(super) en: String,
}

/// A failure of the documents' store on a page: "try again shortly" (503) when the bucket is
/// out, else an internal error.
fn blob_page_error(lang: Lang, here: &str, e: &crate::documents::DocumentError) -> PageError {
    if e.is_outage() {
        tracing::warn!(error = %e, "the documents' store is unavailable");
        PageError::unavailable(lang, here)
    } else {
        PageError::internal(lang, here, e)
    }
}

/// A file kept in the blob store, ready to be recorded.
pub(super) struct KeptFile {
    pub(super) address: String,
    pub(super) content_type: &'static str,
    pub(super) size: i64,
    pub(super) name_sealed: Vec<u8>,
}

impl KeptFile {
    /// The citizen's upload to the form's field `key`, as a document row.
    pub(super) fn input<'a>(&'a self, key: &'a str, actor: &'a str) -> NewDocument<'a> {
        self.document(key, "input", actor)
    }

    /// The officer's output, as a document row.
    pub(super) fn output<'a>(&'a self, actor: &'a str) -> NewDocument<'a> {
        self.document("output", "output", actor)
    }

    fn document<'a>(&'a self, key: &'a str, kind: &'a str, actor: &'a str) -> NewDocument<'a> {
        NewDocument {
            field_key: key,
            kind,
            sha256: &self.address,
            content_type: self.content_type,
            size_bytes: self.size,
            name_sealed: &self.name_sealed,
            uploaded_by: actor,
        }
    }
}

/// Checks an uploaded file against a document field (present, within `max_bytes`, of one of
/// `types` by its content) and stores it sealed; durable when this returns.
pub(super) async fn keep_file(
    app: &AppState,
    name: &str,
    bytes: &[u8],
    types: &[DocumentType],
    max_bytes: u64,
) -> Result<Result<KeptFile, FileRefusal>, crate::documents::DocumentError> {
    let refuse = |status, id: String, en: String| Ok(Err(FileRefusal { status, id, en }));
    if bytes.is_empty() {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Pilih berkas untuk diunggah.".into(),
            "Choose a file to upload.".into(),
        );
    }
    if bytes.len() as u64 > max_bytes {
        let limit = size_text(i64::try_from(max_bytes).unwrap_or(i64::MAX));
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Berkas terlalu besar; paling besar {limit}."),
            format!("The file is too large; at most {limit}."),
        );
    }
    let Some(kind) = crate::documents::sniff(bytes).filter(|k| types.contains(k)) else {
        let accepted = types_text(types);
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Isi berkas bukan jenis yang diterima (nama berkas tidak menentukan jenisnya). Jenis yang diterima: {accepted}."
            ),
            format!(
                "The file's content is not an accepted type (its name does not decide that). Accepted: {accepted}."
            ),
        );
    };
    let keys = &app.settings.keys;
    let address = app.settings.blobs.put(keys, bytes).await?;
    let name_sealed = keys.seal(DOC_NAME, clean_name(name).as_bytes())?;
    Ok(Ok(KeptFile {
        address,
        content_type: crate::documents::content_type(kind),
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        name_sealed,
    }))
}

/// `keep_file` for a page: the refusal as its status and the message in the reader's language.
pub(super) async fn store_file(
    app: &AppState,
    lang: Lang,
    here: &str,
    name: &str,
    bytes: &[u8],
    types: &[DocumentType],
    max_bytes: u64,
) -> Result<Result<KeptFile, (StatusCode, String)>, PageError> {
    match keep_file(app, name, bytes, types, max_bytes).await {
        Ok(Ok(k)) => Ok(Ok(k)),
        Ok(Err(r)) => Ok(Err((r.status, lang.pick(&r.id, &r.en).to_owned()))),
        Err(e) => Err(blob_page_error(lang, here, &e)),
    }
}

/// A page's multipart upload read whole (up to the largest document) with its CSRF token
/// checked: an unreadable or oversize body, or a forged token, is refused before anything else.
pub(super) async fn checked_upload(
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
    headers: &HeaderMap,
    lang: Lang,
    here: &str,
) -> Result<Upload, PageError> {
    let multipart =
        multipart.map_err(|_| upload_unreadable(lang, here, UploadProblem::Unreadable))?;
    let upload = read_upload(multipart, crate::domain::form::MAX_DOCUMENT_BYTES)
        .await
        .map_err(|p| upload_unreadable(lang, here, p))?;
    check_csrf(
        headers,
        upload.fields.get("csrf").map_or("", String::as_str),
        lang,
    )?;
    Ok(upload)
}

fn upload_unreadable(lang: Lang, here: &str, problem: UploadProblem) -> PageError {
    match problem {
        UploadProblem::TooLarge => PageError::status(
            lang,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Berkas terlalu besar (paling besar 10 MB).",
            "The file is too large (at most 10 MB).",
        ),
        UploadProblem::Unreadable => PageError::bad_request(
            lang,
            here,
            "Unggahan tidak dapat dibaca; coba lagi.",
            "The upload cannot be read; try again.",
        ),
    }
}

/// Uploads a document to a document field of one's own application.
pub async fn upload(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let here = format!("/akun/permohonan/{id}");
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let upload = checked_upload(multipart, &headers, lang, &here).await?;
    let row = own_application(&app, lang, &here, &id, session.account_id).await?;
    if in_bundle(&row) {
        return Err(bundled(lang));
    }
    let (def, _) = form_for(&app, &row).await?;
    let key = upload.fields.get("field").cloned().unwrap_or_default();
    let Some((types, max_bytes)) = def.document_field(&key) else {
        return Err(PageError::bad_request(
            lang,
            &here,
            "Isian dokumen ini tidak ada di formulir.",
            "This document field is not in the form.",
        ));
    };
    // Bytes are stored only for an application the citizen may still change.
    if !store::held_by(&app.db, row.id, session.account_id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
    {
        return Err(not_held(lang));
    }
    let (name, bytes) = upload.file.unwrap_or_default();
    let stored = store_file(&app, lang, &here, &name, &bytes, &types, max_bytes).await?;
    let kept = match stored {
        Ok(s) => s,
        Err((status, message)) => {
            let mut errors = BTreeMap::new();
            errors.insert(key, message.clone());
            return application_page(
                &app,
                lang,
                &headers,
                &row,
                None,
                errors,
                Some(message),
                None,
                status,
            )
            .await;
        }
    };
    let actor = format!("account:{}", session.account_id);
    let added = store::add_document(
        &app.db,
        row.id,
        session.account_id,
        kept.input(&key, &actor),
        Utc::now(),
    )
    .await
    .map_err(|e| PageError::internal(lang, &here, &e))?;
    if let Some(refusal) = upload_refusal(lang, added) {
        return Err(refusal);
    }
    Ok(Redirect::to(&format!("{here}?pesan=terunggah#isian-{key}")).into_response())
}

/// Why an upload was not recorded, if it was not.
pub(super) fn upload_refusal(lang: Lang, added: store::Added) -> Option<PageError> {
    match added {
        store::Added::Yes => None,
        store::Added::NotHeld => Some(not_held(lang)),
        store::Added::TooMany => Some(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Permohonan ini sudah memuat terlalu banyak dokumen; hubungi MPP.",
            "This application already holds too many documents; contact the MPP.",
        )),
    }
}

pub(super) fn not_held(lang: Lang) -> PageError {
    PageError::status(
        lang,
        StatusCode::CONFLICT,
        "Permohonan ini sudah dikirim; dokumennya tidak dapat diubah lagi.",
        "This application was already sent; its documents can no longer be changed.",
    )
}

/// A document's bytes as a download.
async fn send_document(
    app: &AppState,
    lang: Lang,
    here: &str,
    doc: &store::DocumentRow,
) -> Result<Response, PageError> {
    let bytes = app
        .settings
        .blobs
        .get(&app.settings.keys, &doc.sha256)
        .await
        .map_err(|e| blob_page_error(lang, here, &e))?;
    let name = doc_view(app, doc).name;
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&doc.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

/// A document of one's own application (reading it changes nothing: links may be fetched by
/// previews and prefetchers).
pub async fn download(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let here = format!("/akun/permohonan/{id}");
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let row = own_application(&app, lang, &here, &id, session.account_id).await?;
    let doc = document_of(&app, lang, &here, &row, &doc).await?;
    send_document(&app, lang, &here, &doc).await
}

/// The citizen's "download the output" button: the output of a ready application, which the
/// download marks collected (the application is done).
pub async fn collect(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path((id, doc)): Path<(String, String)>,
    form: Result<Form<PlainForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/akun/permohonan/{id}");
    checked_form(form, &headers, lang, &here)?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let row = own_application(&app, lang, &here, &id, session.account_id).await?;
    let doc = document_of(&app, lang, &here, &row, &doc).await?;
    let response = send_document(&app, lang, &here, &doc).await?;
    if doc.kind == "output" && row.state == "ready" {
        let catalog = app.catalog.get();
        if let Some(place) = place_of(&catalog, &row) {
            let actor = format!("account:{}", session.account_id);
            // Another download may have marked it first: that is the same outcome.
            let marked = take_step(
                &app,
                &catalog,
                &place,
                &row,
                ApplicationAction::MarkCollected,
                &actor,
                Some(session.account_id),
                None,
                None,
                None,
            )
            .await?;
            if let Err(StepError::Storage(e)) = marked {
                tracing::warn!(error = %e, application = %row.id, "marking an output collected failed");
            }
        }
    }
    Ok(response)
}

async fn document_of(
    app: &AppState,
    lang: Lang,
    here: &str,
    row: &ApplicationRow,
    doc: &str,
) -> Result<store::DocumentRow, PageError> {
    let doc = Uuid::parse_str(doc).map_err(|_| PageError::not_found(lang, here))?;
    store::document(&app.db, doc)
        .await
        .map_err(|e| PageError::internal(lang, here, &e))?
        .filter(|d| d.application_id == row.id)
        .ok_or_else(|| PageError::not_found(lang, here))
}

/// The receipt of a sent application, as a PDF.
pub async fn receipt(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let here = format!("/akun/permohonan/{id}");
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let row = own_application(&app, lang, &here, &id, session.account_id).await?;
    if row.state == "draft" {
        return Err(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Tanda terima ada setelah permohonan dikirim.",
            "The receipt exists once the application is sent.",
        ));
    }
    let catalog = app.catalog.get();
    let place = place_of(&catalog, &row).ok_or_else(|| PageError::not_found(lang, &here))?;
    let events = store::history(&app.db, row.id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let received = events
        .iter()
        .find(|e| e.action == "submit")
        .map(|e| day_text(&e.day))
        .unwrap_or_default();
    let lines = [
        ("Diterima", "Received", received),
        (
            "Batas waktu penyelesaian",
            "Due by",
            row.due_on
                .as_deref()
                .map(day_text)
                .unwrap_or_else(|| "-".to_owned()),
        ),
        (
            "Jangka waktu (Standar Pelayanan)",
            "Time limit (service standard)",
            limit_text(place.service, Lang::Id),
        ),
    ];
    let url = format!(
        "{}/lacak?kode={}",
        app.settings.public_url.trim_end_matches('/'),
        row.tracking_code
    );
    let pdf = crate::receipt::render(&crate::receipt::Receipt {
        tracking_code: &row.tracking_code,
        service: &place.service.name,
        tenant: &place.tenant.name,
        mpp: &place.mpp.name,
        lines: &lines,
        tracking_url: &url,
    })
    .map_err(|e| PageError::internal(lang, &here, &e))?;
    let mut response = pdf.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "inline; filename=\"tanda-terima-{}.pdf\"",
        row.tracking_code
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

#[derive(Template, WebTemplate)]
#[template(path = "applications.html")]
struct ListPage {
    t: &'static Texts,
    lang: Lang,
    here: String,
    /// (id, code, service, state, due)
    items: Vec<(Uuid, String, String, &'static str, Option<String>)>,
    /// The citizen's bundle applications: (id, bundle name, started).
    bundles: Vec<(Uuid, String, String)>,
}

/// The citizen's applications.
pub async fn list(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let here = "/akun/permohonan".to_owned();
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let rows = store::of_account(&app.db, session.account_id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let catalog = app.catalog.get();
    let items = rows
        .iter()
        .map(|r| {
            (
                r.id,
                r.tracking_code.clone(),
                catalog
                    .service(r.service_id)
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                state_words(&r.state, lang),
                r.due_on.as_deref().map(day_text),
            )
        })
        .collect();
    let mut bundles = Vec::new();
    for (id, bundle, created) in store::bundles_of_account(&app.db, session.account_id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
    {
        let name = crate::storage::bundles::bundle(&app.db, bundle)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?
            .map(|(b, _)| lang.pick(&b.name_id, &b.name_en).to_owned())
            .unwrap_or_default();
        bundles.push((
            id,
            name,
            day_text(&created.chars().take(10).collect::<String>()),
        ));
    }
    Ok(render(
        ListPage {
            t: lang.texts(),
            lang,
            here,
            items,
            bundles,
        },
        StatusCode::OK,
        None,
    ))
}

// ---------------------------------------------------------------------------------------------
// Public tracking.

#[derive(Template, WebTemplate)]
#[template(path = "track.html")]
struct TrackPage {
    t: &'static Texts,
    lang: Lang,
    here: String,
    typed: String,
    error: Option<&'static str>,
    found: Option<TrackView>,
}

struct TrackView {
    code: String,
    service: String,
    tenant: String,
    mpp: String,
    state: &'static str,
    received: Option<String>,
    due: Option<String>,
    standing: Option<(&'static str, &'static str)>,
}

#[derive(Deserialize)]
pub struct TrackQuery {
    #[serde(default)]
    kode: Option<String>,
}

/// Status and due date by tracking code, without signing in and without personal data.
pub async fn track(
    State(app): State<AppState>,
    lang: Lang,
    query: Result<Query<TrackQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let here = "/lacak".to_owned();
    let typed = query
        .ok()
        .and_then(|Query(q)| q.kode)
        .unwrap_or_default()
        .chars()
        .take(40)
        .collect::<String>();
    let page = |error, found, status| {
        render(
            TrackPage {
                t: lang.texts(),
                lang,
                here: here.clone(),
                typed: typed.clone(),
                error,
                found,
            },
            status,
            None,
        )
    };
    if typed.trim().is_empty() {
        return Ok(page(None, None, StatusCode::OK));
    }
    let Some(code) = rules::parse_tracking_code(&typed) else {
        return Ok(page(
            Some(lang.pick(
                "Kode pelacakan berbentuk PMH-XXXX-XXXX-XXXX. Periksa lagi kodenya.",
                "A tracking code looks like PMH-XXXX-XXXX-XXXX. Check the code again.",
            )),
            None,
            StatusCode::BAD_REQUEST,
        ));
    };
    let row = store::by_tracking_code(&app.db, &code)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
        .filter(|r| r.state != "draft");
    let catalog = app.catalog.get();
    let Some((row, place)) = row.and_then(|r| place_of(&catalog, &r).map(|p| (r.clone(), p)))
    else {
        return Ok(page(
            Some(lang.pick(
                "Tidak ada permohonan dengan kode itu.",
                "No application has that code.",
            )),
            None,
            StatusCode::NOT_FOUND,
        ));
    };
    let events = store::history(&app.db, row.id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let found = TrackView {
        code: row.tracking_code.clone(),
        service: place.service.name.clone(),
        tenant: place.tenant.name.clone(),
        mpp: place.mpp.name.clone(),
        state: state_words(&row.state, lang),
        received: events
            .iter()
            .find(|e| e.action == "submit")
            .map(|e| day_text(&e.day)),
        due: row.due_on.as_deref().map(day_text),
        standing: standing_of(&app, &catalog, &place, &row).map(|s| standing_words(s, lang)),
    };
    Ok(page(None, Some(found), StatusCode::OK))
}

// ---------------------------------------------------------------------------------------------
// The back office.

/// The tenant, if this staff member may work its applications; checked before anything of the
/// tenant's applications is read.
fn office_tenant<'c>(
    catalog: &'c Catalog,
    staff: &super::staff::Staff,
    lang: Lang,
    here: &str,
    tenant: &str,
) -> Result<(&'c Tenant, &'c Mpp), PageError> {
    let tenant = Uuid::parse_str(tenant)
        .ok()
        .and_then(|t| catalog.tenant_by_id(t))
        .ok_or_else(|| PageError::not_found(lang, here))?;
    let mpp = &catalog.mpps[tenant.mpp];
    if !staff.may(
        Action::ProcessApplications,
        &catalog.place(mpp, Some(tenant)),
    ) {
        return Err(PageError::status(
            lang,
            StatusCode::FORBIDDEN,
            "Anda tidak berwenang memproses permohonan UPP ini.",
            "You may not process this UPP's applications.",
        ));
    }
    Ok((tenant, mpp))
}

struct InboxItem {
    id: Uuid,
    code: String,
    service: String,
    state: &'static str,
    received: String,
    due: Option<String>,
    standing: Option<(&'static str, &'static str)>,
    mine: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "inbox.html")]
struct InboxPage {
    t: &'static Texts,
    lang: Lang,
    here: String,
    tenant_id: Uuid,
    tenant: String,
    mpp: String,
    filter: String,
    filters: Vec<(&'static str, &'static str)>,
    items: Vec<InboxItem>,
    late: i64,
    soon: i64,
    /// "51–100 dari 230" when the list has more than one page.
    shown: Option<String>,
    previous: Option<String>,
    next: Option<String>,
}

/// Applications on one page of the inbox.
const INBOX_PAGE: i64 = 50;

#[derive(Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    status: Option<String>,
    /// The page, from 1.
    #[serde(default)]
    hal: Option<u32>,
}

/// A UPP's inbox: applications with their due dates, the earliest first, late ones flagged.
pub async fn inbox(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    query: Result<Query<InboxQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/permohonan/{tenant}");
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let (t, m) = office_tenant(&catalog, &staff, lang, &here, &tenant)?;
    let (filter, page) = match query {
        Ok(Query(q)) => (q.status, q.hal.unwrap_or(1).clamp(1, 10_000)),
        Err(_) => (None, 1),
    };
    let filter = filter
        .filter(|s| ApplicationState::parse(s).is_some_and(|s| s != ApplicationState::Draft))
        .unwrap_or_default();
    let offset = i64::from(page - 1) * INBOX_PAGE;
    let (rows, total) = store::inbox(
        &app.db,
        t.id,
        (!filter.is_empty()).then_some(filter.as_str()),
        offset,
        INBOX_PAGE,
    )
    .await
    .map_err(|e| PageError::internal(lang, &here, &e))?;
    let items: Vec<InboxItem> = rows
        .iter()
        .filter_map(|r| {
            let place = place_of(&catalog, r)?;
            Some(InboxItem {
                id: r.id,
                code: r.tracking_code.clone(),
                service: place.service.name.clone(),
                state: state_words(&r.state, lang),
                received: day_text(&r.created_at.chars().take(10).collect::<String>()),
                due: r.due_on.as_deref().map(day_text),
                standing: standing_of(&app, &catalog, &place, r).map(|s| standing_words(s, lang)),
                mine: r.assignee_id == Some(staff.account_id),
            })
        })
        .collect();
    // Late and due-soon counts over the whole inbox, not this page.
    let today = today(&app, m);
    let calendar = catalog.calendar(m, today, t.observes_cuti_bersama);
    let (mut late, mut soon) = (0, 0);
    for (due, n) in store::due_days(&app.db, t.id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
    {
        let Ok(due) = NaiveDate::parse_from_str(&due, "%Y-%m-%d") else {
            continue;
        };
        match rules::standing(&calendar, today, due) {
            Standing::Late => late += n,
            Standing::DueSoon => soon += n,
            Standing::OnTime => {}
        }
    }
    let link = |p: u32| {
        let mut query = vec![format!("hal={p}")];
        if !filter.is_empty() {
            query.insert(0, format!("status={filter}"));
        }
        format!("/staf/permohonan/{}?{}", t.id, query.join("&"))
    };
    let first = offset + 1;
    let last = offset + i64::try_from(rows.len()).unwrap_or(0);
    let shown = (total > INBOX_PAGE && !rows.is_empty())
        .then(|| format!("{first}–{last} {} {total}", lang.pick("dari", "of")));
    let previous = (page > 1).then(|| link(page - 1));
    let next = (last < total).then(|| link(page + 1));
    let filters = [
        "submitted",
        "in_review",
        "needs_revision",
        "approved",
        "ready",
        "collected",
        "rejected",
        "withdrawn",
    ]
    .into_iter()
    .map(|s| (s, state_words(s, lang)))
    .collect();
    Ok(render(
        InboxPage {
            t: lang.texts(),
            lang,
            here,
            tenant_id: t.id,
            tenant: t.name.clone(),
            mpp: m.name.clone(),
            filter,
            filters,
            items,
            late,
            soon,
            shown,
            previous,
            next,
        },
        StatusCode::OK,
        None,
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "inbox_item.html")]
struct OfficePage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    tenant_id: Uuid,
    id: Uuid,
    code: String,
    service: String,
    state: &'static str,
    due: Option<String>,
    standing: Option<(&'static str, &'static str)>,
    /// (label, value)
    answers: Vec<(String, String)>,
    documents: Vec<(String, DocView)>,
    outputs: Vec<DocView>,
    events: Vec<EventView>,
    /// The actions the state allows: (action, label, needs a note).
    actions: Vec<(&'static str, &'static str, bool)>,
    needs_note: bool,
    attach: bool,
    /// The service's letter title, when a letter can be issued now.
    letter: Option<String>,
    error: Option<String>,
}

async fn office_application(
    app: &AppState,
    lang: Lang,
    here: &str,
    tenant: &Tenant,
    id: &str,
) -> Result<ApplicationRow, PageError> {
    let id = Uuid::parse_str(id).map_err(|_| PageError::not_found(lang, here))?;
    store::application(&app.db, id)
        .await
        .map_err(|e| PageError::internal(lang, here, &e))?
        .filter(|a| a.tenant_id == tenant.id && a.state != "draft")
        .ok_or_else(|| PageError::not_found(lang, here))
}

fn office_action_label(action: ApplicationAction, lang: Lang) -> &'static str {
    match action {
        ApplicationAction::Take => lang.pick("Ambil dan periksa", "Take and check"),
        ApplicationAction::Release => lang.pick("Kembalikan ke antrean", "Put back in the queue"),
        ApplicationAction::RequestRevision => lang.pick("Minta perbaikan", "Ask for a fix"),
        ApplicationAction::Approve => lang.pick("Setujui", "Approve"),
        ApplicationAction::Reject => lang.pick("Tolak", "Reject"),
        ApplicationAction::MarkCollected => lang.pick("Tandai sudah diambil", "Mark as collected"),
        _ => "",
    }
}

async fn office_page(
    app: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    tenant: &Tenant,
    row: &ApplicationRow,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let here = format!("/staf/permohonan/{}/{}", tenant.id, row.id);
    let catalog = app.catalog.get();
    let place = place_of(&catalog, row).ok_or_else(|| PageError::not_found(lang, &here))?;
    let (def, _) = form_for(app, row).await?;
    let answers = open_answers(app, row);
    let docs = store::documents(&app.db, row.id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let state = ApplicationState::parse(&row.state).unwrap_or(ApplicationState::Draft);
    let actions = [
        ApplicationAction::Take,
        ApplicationAction::Approve,
        ApplicationAction::RequestRevision,
        ApplicationAction::Reject,
        ApplicationAction::Release,
        ApplicationAction::MarkCollected,
    ]
    .into_iter()
    .filter(|a| state.apply(*a).is_ok())
    .map(|a| (a.as_str(), office_action_label(a, lang), a.needs_note()))
    .collect::<Vec<_>>();
    let needs_note = actions.iter().any(|a| a.2);
    let (token, fresh) = csrf(headers)?;
    let page = OfficePage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        tenant_id: tenant.id,
        id: row.id,
        code: row.tracking_code.clone(),
        service: place.service.name.clone(),
        state: state_words(&row.state, lang),
        due: row.due_on.as_deref().map(day_text),
        standing: standing_of(app, &catalog, &place, row).map(|s| standing_words(s, lang)),
        answers: def
            .fields
            .iter()
            .filter(|f| !matches!(f.kind, FieldKind::Document { .. }))
            .map(|f| {
                let answer = answers.get(&f.key).cloned().unwrap_or_default();
                let shown = match (&f.kind, catalog.region_name(&answer)) {
                    (FieldKind::Address, Some(name)) => format!("{name} ({answer})"),
                    _ => answer,
                };
                (lang.pick(&f.label_id, &f.label_en).to_owned(), shown)
            })
            .collect(),
        documents: docs
            .iter()
            .filter(|d| d.kind == "input")
            .map(|d| {
                let label = def
                    .fields
                    .iter()
                    .find(|f| f.key == d.field_key)
                    .map(|f| lang.pick(&f.label_id, &f.label_en).to_owned())
                    .unwrap_or_else(|| d.field_key.clone());
                (label, doc_view(app, d))
            })
            .collect(),
        outputs: docs
            .iter()
            .filter(|d| d.kind == "output")
            .map(|d| doc_view(app, d))
            .collect(),
        events: timeline(app, row, lang).await?,
        actions,
        needs_note,
        attach: state.apply(ApplicationAction::AttachOutput).is_ok(),
        letter: def
            .letter
            .as_ref()
            .filter(|_| state.apply(ApplicationAction::AttachOutput).is_ok())
            .map(|l| l.title.clone()),
        error,
    };
    Ok(render(page, status, fresh.then_some((app, token.as_str()))))
}

pub async fn office_item(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let here = format!("/staf/permohonan/{tenant}/{id}");
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let (t, _) = office_tenant(&catalog, &staff, lang, &here, &tenant)?;
    let row = office_application(&app, lang, &here, t, &id).await?;
    office_page(&app, lang, &headers, t, &row, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct OfficeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    aksi: String,
    #[serde(default)]
    catatan: String,
}

csrf_forms!(OfficeForm);

/// One officer's step on an application.
pub async fn office_step(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path((tenant, id)): Path<(String, String)>,
    form: Result<Form<OfficeForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/permohonan/{tenant}/{id}");
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let (t, _) = office_tenant(&catalog, &staff, lang, &here, &tenant)?;
    let form = checked_form(form, &headers, lang, &here)?;
    let row = office_application(&app, lang, &here, t, &id).await?;
    let action = ApplicationAction::parse(&form.aksi)
        .filter(|a| a.actor() == rules::Actor::Officer && *a != ApplicationAction::AttachOutput)
        .ok_or_else(|| {
            PageError::bad_request(lang, &here, "Langkah tidak dikenal.", "Unknown step.")
        })?;
    let note: String = form.catatan.trim().chars().take(2000).collect();
    if action.needs_note() && note.is_empty() {
        let message = lang
            .pick(
                "Tulis untuk pemohon apa yang perlu diperbaiki atau alasan penolakan.",
                "Write for the applicant what to fix, or the reason for rejecting.",
            )
            .to_owned();
        return office_page(
            &app,
            lang,
            &headers,
            t,
            &row,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let place = place_of(&catalog, &row).ok_or_else(|| PageError::not_found(lang, &here))?;
    let actor = staff.actor();
    match take_step(
        &app,
        &catalog,
        &place,
        &row,
        action,
        &actor,
        None,
        Some(staff.account_id),
        // A note is for the citizen, and only where the step calls for one.
        (action.needs_note() && !note.is_empty()).then_some(note.as_str()),
        None,
    )
    .await?
    {
        Ok(_) => Ok(Redirect::to(&here).into_response()),
        Err(e) => Err(step_refusal(lang, &here, e)),
    }
}

/// Attaches the output document (a PDF, JPEG or PNG of at most 10 MB): the application is
/// then ready and the citizen is told.
pub async fn office_attach(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path((tenant, id)): Path<(String, String)>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/permohonan/{tenant}/{id}");
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let (t, _) = office_tenant(&catalog, &staff, lang, &here, &tenant)?;
    let upload = checked_upload(multipart, &headers, lang, &here).await?;
    let row = office_application(&app, lang, &here, t, &id).await?;
    let (name, bytes) = upload.file.unwrap_or_default();
    let stored = store_file(
        &app,
        lang,
        &here,
        &name,
        &bytes,
        &[DocumentType::Pdf, DocumentType::Jpeg, DocumentType::Png],
        crate::domain::form::MAX_DOCUMENT_BYTES,
    )
    .await?;
    let kept = match stored {
        Ok(s) => s,
        Err((status, message)) => {
            return office_page(&app, lang, &headers, t, &row, Some(message), status).await;
        }
    };
    let place = place_of(&catalog, &row).ok_or_else(|| PageError::not_found(lang, &here))?;
    let actor = staff.actor();
    match take_step(
        &app,
        &catalog,
        &place,
        &row,
        ApplicationAction::AttachOutput,
        &actor,
        None,
        None,
        None,
        Some(kept.output(&actor)),
    )
    .await?
    {
        Ok(_) => Ok(Redirect::to(&here).into_response()),
        Err(e) => Err(step_refusal(lang, &here, e)),
    }
}

/// A document of an application of the staff member's tenant.
pub async fn office_download(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path((tenant, id, doc)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let here = format!("/staf/permohonan/{tenant}/{id}");
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let (t, _) = office_tenant(&catalog, &staff, lang, &here, &tenant)?;
    let row = office_application(&app, lang, &here, t, &id).await?;
    let doc = document_of(&app, lang, &here, &row, &doc).await?;
    send_document(&app, lang, &here, &doc).await
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The service's letter filled for `row` (its answers as the applicant gave them: a choice by
/// its label, a date as day-month-year) as a PDF, with its file name; none when the form has no
/// letter.
pub(super) fn letter_for(
    app: &AppState,
    place: &Place<'_>,
    row: &ApplicationRow,
    def: &FormDef,
) -> Result<Option<(String, Vec<u8>)>, BoxError> {
    let Some(letter) = &def.letter else {
        return Ok(None);
    };
    let answers = open_answers(app, row);
    let issued_on = today(app, place.mpp).format("%d-%m-%Y").to_string();
    let value = |key: &str| -> Option<String> {
        match key {
            "kode" => return Some(row.tracking_code.clone()),
            "layanan" => return Some(place.service.name.clone()),
            "upp" => return Some(place.tenant.name.clone()),
            "mpp" => return Some(place.mpp.name.clone()),
            "tanggal" => return Some(issued_on.clone()),
            _ => {}
        }
        let answer = answers.get(key)?;
        let field = def.fields.iter().find(|f| f.key == key)?;
        Some(match &field.kind {
            FieldKind::Choice { options } => options
                .iter()
                .find(|o| &o.value == answer)
                .map(|o| o.label_id.clone())
                .unwrap_or_else(|| answer.clone()),
            FieldKind::Date => day_text(answer),
            FieldKind::Address => app
                .catalog
                .get()
                .region_name(answer)
                .map(|name| format!("Kecamatan {name}"))
                .unwrap_or_else(|| answer.clone()),
            _ => answer.clone(),
        })
    };
    let title = crate::domain::letter::fill(&letter.title, value)?;
    let body = crate::domain::letter::fill(&letter.body, value)?;
    let url = format!(
        "{}/lacak?kode={}",
        app.settings.public_url.trim_end_matches('/'),
        row.tracking_code
    );
    let pdf = crate::letter::render(&crate::letter::Letter {
        tenant: &place.tenant.name,
        mpp: &place.mpp.name,
        title: &title,
        body: &body,
        tracking_code: &row.tracking_code,
        issued_on: &issued_on,
        tracking_url: &url,
    })?;
    let name: String = title
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    Ok(Some((format!("{name}.pdf"), pdf)))
}

/// The officer issues the service's letter for an approved application: filled, rendered,
/// stored and attached as its output in one step; the citizen is told.
pub async fn office_letter(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path((tenant, id)): Path<(String, String)>,
    form: Result<Form<PlainForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/permohonan/{tenant}/{id}");
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let (t, _) = office_tenant(&catalog, &staff, lang, &here, &tenant)?;
    checked_form(form, &headers, lang, &here)?;
    let row = office_application(&app, lang, &here, t, &id).await?;
    let place = place_of(&catalog, &row).ok_or_else(|| PageError::not_found(lang, &here))?;
    let (def, _) = form_for(&app, &row).await?;
    let actor = staff.actor();
    match issue_letter(&app, &catalog, &place, &row, &def, &actor).await {
        Ok(Some(Ok(_))) => Ok(Redirect::to(&here).into_response()),
        Ok(Some(Err(e))) => Err(step_refusal(lang, &here, e)),
        Ok(None) => Err(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Layanan ini tidak memiliki templat surat; lampirkan hasil sebagai berkas.",
            "This service has no letter template; attach the output as a file.",
        )),
        Err(LetterError::Store(e)) => Err(blob_page_error(lang, &here, &e)),
        Err(LetterError::Other(e)) => Err(PageError::internal(lang, &here, &*e)),
    }
}

/// Fills, renders, stores and attaches the letter as `row`'s output (none: no letter).
pub(super) async fn issue_letter(
    app: &AppState,
    catalog: &Catalog,
    place: &Place<'_>,
    row: &ApplicationRow,
    def: &FormDef,
    actor: &str,
) -> Result<Option<Result<ApplicationRow, StepError>>, LetterError> {
    // Refused before anything is stored when the state does not allow an output.
    let state = ApplicationState::parse(&row.state).unwrap_or(ApplicationState::Draft);
    if let Err(illegal) = state.apply(ApplicationAction::AttachOutput) {
        return Ok(Some(Err(StepError::Illegal(illegal))));
    }
    let Some((name, pdf)) = letter_for(app, place, row, def).map_err(LetterError::Other)? else {
        return Ok(None);
    };
    let kept = match keep_file(
        app,
        &name,
        &pdf,
        &[DocumentType::Pdf],
        crate::domain::form::MAX_DOCUMENT_BYTES,
    )
    .await
    .map_err(LetterError::Store)?
    {
        Ok(k) => k,
        Err(refusal) => return Err(LetterError::Other(refusal.en.into())),
    };
    let taken = take_step(
        app,
        catalog,
        place,
        row,
        ApplicationAction::AttachOutput,
        actor,
        None,
        None,
        None,
        Some(kept.output(actor)),
    )
    .await
    .map_err(|e| LetterError::Other(format!("preparing the step: {e:?}").into()))?;
    Ok(Some(taken))
}

/// Why a letter was not issued: the documents' store failed, or anything else.
pub(super) enum LetterError {
    Store(crate::documents::DocumentError),
    Other(BoxError),
}
