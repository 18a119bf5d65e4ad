//! The staff area (`/staf`): sign-in with password and TOTP, invitations and password resets,
//! catalog editing within one's scope, the audit log of one's scope, and API tokens.
//!
//! Every handler that acts on a place asks `domain::roles::permits` with that place; being
//! signed in as staff only opens the door.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::account::{
    PlainForm, SESSION_COOKIE, checked_form, cookie, csrf, csrf_forms, render, set_cookie,
    token_hash,
};
use super::errors::PageError;
use super::i18n::{Lang, Texts};
use crate::catalog::Catalog;
use crate::credentials;
use crate::domain::catalog::{
    CatalogDoc, FeeDoc, OpeningHoursDoc, RequirementDoc, ServiceDoc, TimeLimitDoc, TimeUnit,
    problem_text,
};
use crate::domain::identifier::Identifier;
use crate::domain::roles::{self, Action, Grant, Place, Role, Scope};
use crate::storage::accounts::NewMessage;
use crate::storage::staff::{self as store, LinkError, NewLink};

/// A staff session lasts a working day.
const STAFF_SESSION_HOURS: i64 = 12;
const INVITE_DAYS: i64 = 7;
const RESET_MINUTES: i64 = 30;

/// A signed-in staff member (password and TOTP) with their grants.
pub struct Staff {
    pub account_id: Uuid,
    pub email: String,
    pub grants: Vec<Grant>,
}

impl Staff {
    pub fn may(&self, action: Action, place: &Place) -> bool {
        roles::permits(&self.grants, action, place)
    }

    pub fn actor(&self) -> String {
        format!("account:{}", self.account_id)
    }
}

fn forbidden(lang: Lang) -> PageError {
    PageError::status(
        lang,
        StatusCode::FORBIDDEN,
        "Anda tidak berwenang untuk halaman ini. Peran Anda tidak mencakup tempat ini.",
        "You are not allowed here: your roles do not cover this place.",
    )
}

/// The staff member behind this browser, or where to send the browser instead.
pub async fn current_staff(
    app: &AppState,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Result<Staff, Response>, PageError> {
    let to_sign_in = || Ok(Err(Redirect::to("/staf/masuk").into_response()));
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return to_sign_in();
    };
    let session = store::session(&app.db, &token_hash(&token), Utc::now())
        .await
        .map_err(|e| PageError::internal(lang, "/staf", &e))?;
    let Some(session) = session.filter(|s| s.level == "totp") else {
        return to_sign_in();
    };
    let rows = store::grants(&app.db, session.account_id)
        .await
        .map_err(|e| PageError::internal(lang, "/staf", &e))?;
    let grants: Vec<Grant> = rows.iter().filter_map(|r| r.grant()).collect();
    if grants.is_empty() {
        return Err(forbidden(lang));
    }
    let email = app
        .settings
        .keys
        .open("account.identifier", &session.identifier_sealed)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    Ok(Ok(Staff {
        account_id: session.account_id,
        email,
        grants,
    }))
}

fn here_csrf(headers: &HeaderMap) -> Result<(String, bool), PageError> {
    csrf(headers)
}

/// How a re-rendered page answers: the form token it carries, its status, and whether the token
/// is new (and must be set as a cookie).
struct Answer<'a> {
    csrf: &'a str,
    status: StatusCode,
    fresh: bool,
}

fn with_csrf(
    page: impl Template,
    status: StatusCode,
    app: &AppState,
    token: &str,
    fresh: bool,
) -> Response {
    render(page, status, fresh.then_some((app, token)))
}

/// A scope in words: "Disdukcapil — MPP Among Warga", "MPP Among Warga", "Kota Batu", "Nasional".
pub fn scope_label(catalog: &Catalog, scope: &Scope, lang: Lang) -> String {
    match scope {
        Scope::National => lang.pick("Nasional", "National").to_owned(),
        Scope::Region(code) => catalog
            .region_name(code)
            .map_or_else(|| code.clone(), str::to_owned),
        Scope::Mpp(mpp) => catalog
            .mpp_by_id(*mpp)
            .map_or_else(|| mpp.to_string(), |m| m.name.clone()),
        Scope::Tenant { mpp, tenant } => {
            let tenant = catalog
                .tenant_by_id(*tenant)
                .map_or_else(|| tenant.to_string(), |t| t.name.clone());
            let mpp = catalog
                .mpp_by_id(*mpp)
                .map_or_else(String::new, |m| m.name.clone());
            format!("{tenant} — {mpp}")
        }
    }
}

/// The place a scope stands for (its own MPP/tenant, or a region).
pub fn scope_place(catalog: &Catalog, scope: &Scope) -> Place {
    match scope {
        Scope::National => Place::national(),
        Scope::Region(code) => {
            // A region's place: the region itself (province, or regency with its province).
            let province = code.split('.').next().unwrap_or_default().to_owned();
            Place {
                region: Some(roles::PlaceRegion {
                    province,
                    regency: code.clone(),
                }),
                mpp: None,
                tenant: None,
            }
        }
        Scope::Mpp(mpp) => catalog
            .mpp_by_id(*mpp)
            .map_or_else(Place::national, |m| catalog.place(m, None)),
        Scope::Tenant { mpp, tenant } => {
            match (catalog.mpp_by_id(*mpp), catalog.tenant_by_id(*tenant)) {
                (Some(m), Some(t)) => catalog.place(m, Some(t)),
                _ => Place::national(),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-in: password, then TOTP

#[derive(Template, WebTemplate)]
#[template(path = "staff_signin.html")]
struct SignInPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    selesai: Option<String>,
}

pub async fn sign_in_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    query: Result<Query<NoticeQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let (token, fresh) = here_csrf(&headers)?;
    let notice = query.ok().and_then(|Query(q)| q.selesai).map(|_| {
        lang.pick(
            "Kata sandi tersimpan. Silakan masuk.",
            "Your password is saved. Please sign in.",
        )
    });
    let page = SignInPage {
        t: lang.texts(),
        lang,
        here: "/staf/masuk".into(),
        csrf: &token,
        email: "",
        error: None,
        notice,
    };
    Ok(with_csrf(page, StatusCode::OK, &app, &token, fresh))
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub struct TotpForm {
    csrf: String,
    #[serde(default)]
    code: String,
}

#[derive(Deserialize)]
pub struct ServiceForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    requirements: String,
    #[serde(default)]
    procedure: String,
    #[serde(default)]
    time_value: String,
    #[serde(default)]
    time_unit: String,
    #[serde(default)]
    fee_rupiah: String,
    #[serde(default)]
    fee_variable: Option<String>,
    #[serde(default)]
    fee_legal_basis: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    complaint_channel: String,
    #[serde(default)]
    legal_basis: String,
}

#[derive(Deserialize)]
pub struct MppForm {
    csrf: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    hours_1: String,
    #[serde(default)]
    hours_2: String,
    #[serde(default)]
    hours_3: String,
    #[serde(default)]
    hours_4: String,
    #[serde(default)]
    hours_5: String,
    #[serde(default)]
    hours_6: String,
    #[serde(default)]
    hours_7: String,
}

impl MppForm {
    fn hours(&self, weekday: i64) -> &str {
        match weekday {
            1 => &self.hours_1,
            2 => &self.hours_2,
            3 => &self.hours_3,
            4 => &self.hours_4,
            5 => &self.hours_5,
            6 => &self.hours_6,
            _ => &self.hours_7,
        }
    }
}

#[derive(Deserialize)]
pub struct InviteForm {
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    region_code: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

#[derive(Deserialize)]
pub struct ResetForm {
    csrf: String,
    #[serde(default)]
    email: String,
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    days: String,
    /// Checkboxes, one per scope (`catalog_write`, `queue_operate`, `applications_process`):
    /// present when ticked.
    #[serde(default)]
    catalog_write: Option<String>,
    #[serde(default)]
    queue_operate: Option<String>,
    #[serde(default)]
    applications_process: Option<String>,
}

impl TokenForm {
    /// The scopes ticked, as stored.
    fn scopes(&self) -> Vec<&'static str> {
        [
            (self.catalog_write.is_some(), TOKEN_SCOPES[0]),
            (self.queue_operate.is_some(), TOKEN_SCOPES[1]),
            (self.applications_process.is_some(), TOKEN_SCOPES[2]),
        ]
        .into_iter()
        .filter_map(|(on, scope)| on.then_some(scope))
        .collect()
    }
}

csrf_forms!(
    SignInForm,
    TotpForm,
    ServiceForm,
    MppForm,
    InviteForm,
    PasswordForm,
    ResetForm,
    TokenForm
);

const GENERIC_SIGN_IN_ERROR: (&str, &str) = (
    "E-mail atau kata sandi salah, atau akun dikunci sementara setelah terlalu banyak percobaan.",
    "Wrong e-mail or password, or the account is locked for a while after too many attempts.",
);

pub async fn sign_in(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/staf/masuk")?;
    let now = Utc::now();
    let refuse = |email: &str| {
        let page = SignInPage {
            t: lang.texts(),
            lang,
            here: "/staf/masuk".into(),
            csrf: &form.csrf,
            email,
            error: Some(lang.pick(GENERIC_SIGN_IN_ERROR.0, GENERIC_SIGN_IN_ERROR.1)),
            notice: None,
        };
        Ok(render(page, StatusCode::BAD_REQUEST, None))
    };
    let raw: String = form.email.chars().take(200).collect();
    let identifier = Identifier::parse(&form.email)
        .ok()
        .filter(|i| i.kind() == "email");
    let login = match &identifier {
        Some(i) => {
            let hash = app
                .settings
                .keys
                .lookup_hash("account.identifier", i.as_str());
            store::login(&app.db, &hash)
                .await
                .map_err(|e| PageError::internal(lang, "/staf/masuk", &e))?
        }
        None => None,
    };
    let Some(login) = login else {
        // The same work and the same answer as for a wrong password.
        credentials::verify_password(&form.password, credentials::decoy_hash());
        return refuse(&raw);
    };
    // The attempt is counted before it is checked (see `reserve_attempt`).
    let reserved = store::reserve_attempt(&app.db, login.account_id, now)
        .await
        .map_err(|e| PageError::internal(lang, "/staf/masuk", &e))?;
    let ok = credentials::verify_password(&form.password, &login.password_hash);
    if !reserved || !ok {
        return refuse(&raw);
    }
    store::clear_attempts(&app.db, login.account_id)
        .await
        .map_err(|e| PageError::internal(lang, "/staf/masuk", &e))?;
    let token =
        credentials::random_token().map_err(|_| PageError::unavailable(lang, "/staf/masuk"))?;
    store::start_password_session(&app.db, login.account_id, &token_hash(&token), now)
        .await
        .map_err(|e| PageError::internal(lang, "/staf/masuk", &e))?;
    let mut response = Redirect::to("/staf/verifikasi").into_response();
    set_cookie(&mut response, &app, SESSION_COOKIE, &token, 10 * 60);
    Ok(response)
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_totp.html")]
struct TotpPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    /// Present while setting up: the QR code and the secret to type.
    enrol: Option<(String, String)>,
    error: Option<&'a str>,
}

/// The password-checked session of this browser: (token hash, account).
async fn password_session(
    app: &AppState,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Option<(Vec<u8>, store::LeveledSession)>, PageError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = token_hash(&token);
    let session = store::session(&app.db, &hash, Utc::now())
        .await
        .map_err(|e| PageError::internal(lang, "/staf/verifikasi", &e))?;
    Ok(session.filter(|s| s.level == "password").map(|s| (hash, s)))
}

/// The TOTP secret to show while setting up, created on first visit.
async fn enrolment(
    app: &AppState,
    lang: Lang,
    session: &store::LeveledSession,
) -> Result<Option<(String, String)>, PageError> {
    let state = store::totp_state(&app.db, session.account_id)
        .await
        .map_err(|e| PageError::internal(lang, "/staf/verifikasi", &e))?
        .ok_or_else(|| PageError::unavailable(lang, "/staf/verifikasi"))?;
    if state.totp_confirmed_at.is_some() {
        return Ok(None);
    }
    let secret = match state
        .totp_secret_sealed
        .and_then(|s| app.settings.keys.open("staff.totp", &s).ok())
    {
        Some(secret) => secret,
        None => {
            let secret = credentials::new_totp_secret()
                .map_err(|_| PageError::unavailable(lang, "/staf/verifikasi"))?;
            let sealed = app
                .settings
                .keys
                .seal("staff.totp", &secret)
                .map_err(|e| PageError::internal(lang, "/staf/verifikasi", &e))?;
            store::set_pending_totp(&app.db, session.account_id, &sealed)
                .await
                .map_err(|e| PageError::internal(lang, "/staf/verifikasi", &e))?;
            secret
        }
    };
    let email = app
        .settings
        .keys
        .open("account.identifier", &session.identifier_sealed)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let url = credentials::totp_url(&secret, &email);
    let qr = credentials::qr_svg_data_url(&url).unwrap_or_default();
    Ok(Some((qr, credentials::totp_secret_text(&secret))))
}

pub async fn totp_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some((_, session)) = password_session(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/staf/masuk").into_response());
    };
    let enrol = enrolment(&app, lang, &session).await?;
    let (token, fresh) = here_csrf(&headers)?;
    let page = TotpPage {
        t: lang.texts(),
        lang,
        here: "/staf/verifikasi".into(),
        csrf: &token,
        enrol,
        error: None,
    };
    Ok(with_csrf(page, StatusCode::OK, &app, &token, fresh))
}

pub async fn verify_totp(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<TotpForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/staf/verifikasi")?;
    let Some((session_hash, session)) = password_session(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/staf/masuk").into_response());
    };
    let internal = |e: &dyn std::error::Error| PageError::internal(lang, "/staf/verifikasi", e);
    let now = Utc::now();
    let state = store::totp_state(&app.db, session.account_id)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(|| PageError::unavailable(lang, "/staf/verifikasi"))?;
    let locked = !store::reserve_attempt(&app.db, session.account_id, now)
        .await
        .map_err(|e| internal(&e))?;
    let secret = state
        .totp_secret_sealed
        .as_deref()
        .and_then(|s| app.settings.keys.open("staff.totp", s).ok());
    let step = match (&secret, locked) {
        (Some(secret), false) => credentials::check_totp(
            secret,
            &form.code,
            now.timestamp().max(0) as u64,
            u64::try_from(state.totp_last_step).unwrap_or(0),
        ),
        _ => None,
    };
    let accepted = match step {
        Some(step) => store::accept_totp(
            &app.db,
            session.account_id,
            &session_hash,
            i64::try_from(step).unwrap_or(i64::MAX),
            Duration::hours(STAFF_SESSION_HOURS),
            now,
        )
        .await
        .map_err(|e| internal(&e))?,
        None => false,
    };
    if accepted {
        let token = cookie(&headers, SESSION_COOKIE).unwrap_or_default();
        let mut response = Redirect::to("/staf").into_response();
        set_cookie(
            &mut response,
            &app,
            SESSION_COOKIE,
            &token,
            STAFF_SESSION_HOURS * 3600,
        );
        return Ok(response);
    }
    let enrol = enrolment(&app, lang, &session).await?;
    let page = TotpPage {
        t: lang.texts(),
        lang,
        here: "/staf/verifikasi".into(),
        csrf: &form.csrf,
        enrol,
        error: Some(if locked {
            lang.pick(
                "Terlalu banyak percobaan. Akun dikunci sementara; coba lagi nanti.",
                "Too many attempts. The account is locked for a while; try again later.",
            )
        } else {
            lang.pick(
                "Kode salah atau sudah dipakai. Masukkan kode 6 angka yang sedang tampil di aplikasi autentikator.",
                "Wrong or already used code. Enter the 6-digit code your authenticator app shows now.",
            )
        }),
    };
    Ok(render(page, StatusCode::BAD_REQUEST, None))
}

// ---------------------------------------------------------------------------------------------
// Home

struct GrantView {
    role: String,
    scope: String,
    /// (label, address) of what the grant lets one open.
    links: Vec<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_home.html")]
struct HomePage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    email: &'a str,
    grants: Vec<GrantView>,
    may_audit: bool,
    may_invite: bool,
}

fn may_invite_anyone(staff: &Staff) -> bool {
    staff
        .grants
        .iter()
        .any(|g| !matches!(g.role, Role::Officer | Role::Analyst))
}

pub async fn home(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let mut grants = Vec::new();
    for g in &staff.grants {
        let (role_id, role_en) = g.role.label();
        let mut links = Vec::new();
        match (&g.role, &g.scope) {
            (Role::UppAdmin | Role::Officer, Scope::Tenant { tenant, .. }) => {
                if let Some(t) = catalog.tenant_by_id(*tenant) {
                    for &s in &t.services {
                        let service = &catalog.services[s];
                        let href = if g.role == Role::UppAdmin {
                            format!("/staf/layanan/{}", service.id)
                        } else {
                            format!("/layanan/{}", service.id)
                        };
                        links.push((service.name.clone(), href));
                    }
                }
            }
            (Role::MppManager, Scope::Mpp(mpp)) => {
                if let Some(m) = catalog.mpp_by_id(*mpp) {
                    links.push((
                        lang.pick(
                            "Ubah data MPP (jam buka, status, kontak)",
                            "Edit the MPP (hours, status, contacts)",
                        )
                        .to_owned(),
                        format!("/staf/mpp/{}", m.slug),
                    ));
                    links.push((
                        lang.pick("Paket layanan", "Service bundles").to_owned(),
                        format!("/staf/mpp/{}/paket", m.slug),
                    ));
                }
            }
            _ => {}
        }
        if let (Role::Officer | Role::UppAdmin, Scope::Tenant { mpp, tenant }) = (&g.role, &g.scope)
        {
            let counters = crate::storage::queue::counters_of_mpp(&app.db, *mpp)
                .await
                .map_err(|e| PageError::internal(lang, "/staf", &e))?;
            let consoles: Vec<(String, String)> = counters
                .into_iter()
                .filter(|c| c.tenant_id == *tenant)
                .map(|c| {
                    (
                        format!("{} {}", lang.pick("Konsol", "Console"), c.name),
                        format!("/staf/loket/{}", c.id),
                    )
                })
                .collect();
            links.splice(0..0, consoles);
        }
        if let (Role::Officer | Role::UppAdmin, Scope::Tenant { tenant, .. }) = (&g.role, &g.scope)
        {
            links.push((
                lang.pick("Kotak masuk permohonan", "Applications inbox")
                    .to_owned(),
                format!("/staf/permohonan/{tenant}"),
            ));
        }
        if let (Role::UppAdmin, Scope::Tenant { tenant, .. }) = (&g.role, &g.scope) {
            links.push((
                lang.pick(
                    "Atur antrean: loket dan pemesanan daring",
                    "Queue setup: counters and online booking",
                )
                .to_owned(),
                format!("/staf/antrean/{tenant}"),
            ));
        }
        if let (Role::UppAdmin | Role::MppManager, Scope::Tenant { mpp, .. } | Scope::Mpp(mpp)) =
            (&g.role, &g.scope)
            && let Some(m) = catalog.mpp_by_id(*mpp)
        {
            links.push((
                lang.pick(
                    "Statistik antrean (unduh CSV)",
                    "Queue statistics (CSV download)",
                )
                .to_owned(),
                format!("/staf/statistik/{}", m.slug),
            ));
        }
        grants.push(GrantView {
            role: lang.pick(role_id, role_en).to_owned(),
            scope: scope_label(&catalog, &g.scope, lang),
            links,
        });
    }
    let may_audit = staff
        .grants
        .iter()
        .any(|g| roles::grant_permits(g, Action::ViewAudit, &scope_place(&catalog, &g.scope)));
    let (token, fresh) = here_csrf(&headers)?;
    let page = HomePage {
        t: lang.texts(),
        lang,
        here: "/staf".into(),
        csrf: &token,
        email: &staff.email,
        grants,
        may_audit,
        may_invite: may_invite_anyone(&staff),
    };
    Ok(with_csrf(page, StatusCode::OK, &app, &token, fresh))
}

// ---------------------------------------------------------------------------------------------
// Editing a service

#[derive(Default)]
struct ServiceErrors {
    /// Form field → message.
    fields: Vec<(&'static str, String)>,
}

impl ServiceErrors {
    fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
    fn push(&mut self, field: &'static str, lang: Lang, id: &str, en: &str) {
        if self.get(field).is_none() {
            self.fields.push((field, lang.pick(id, en).to_owned()));
        }
    }
}

struct ServiceFormView {
    name: String,
    description: String,
    requirements: String,
    procedure: String,
    time_value: String,
    time_unit: String,
    fee_rupiah: String,
    fee_variable: bool,
    fee_legal_basis: String,
    product: String,
    complaint_channel: String,
    legal_basis: String,
}

impl ServiceFormView {
    fn of(doc: &ServiceDoc) -> ServiceFormView {
        ServiceFormView {
            name: doc.name.clone(),
            description: doc.description.clone().unwrap_or_default(),
            requirements: doc
                .requirements
                .iter()
                .map(|r| match &r.note {
                    Some(note) => format!("{} ({note})", r.text),
                    None => r.text.clone(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            procedure: doc.procedure.join("\n"),
            time_value: doc.time_limit.value.to_string(),
            time_unit: doc.time_limit.unit.clone(),
            fee_rupiah: doc.fee.rupiah.to_string(),
            fee_variable: doc.fee.variable,
            fee_legal_basis: doc.fee.legal_basis.clone().unwrap_or_default(),
            product: doc.product.clone(),
            complaint_channel: doc.complaint_channel.clone(),
            legal_basis: doc.legal_basis.clone(),
        }
    }

    fn from_form(f: &ServiceForm) -> ServiceFormView {
        ServiceFormView {
            name: f.name.clone(),
            description: f.description.clone(),
            requirements: f.requirements.clone(),
            procedure: f.procedure.clone(),
            time_value: f.time_value.clone(),
            time_unit: f.time_unit.clone(),
            fee_rupiah: f.fee_rupiah.clone(),
            fee_variable: f.fee_variable.is_some(),
            fee_legal_basis: f.fee_legal_basis.clone(),
            product: f.product.clone(),
            complaint_channel: f.complaint_channel.clone(),
            legal_basis: f.legal_basis.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_service.html")]
struct ServicePage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    service_id: Uuid,
    service_name: String,
    tenant_name: String,
    mpp_name: String,
    form: ServiceFormView,
    errors: ServiceErrors,
    saved: bool,
    units: Vec<(&'static str, &'static str)>,
}

fn unit_options(lang: Lang) -> Vec<(&'static str, &'static str)> {
    TimeUnit::ALL
        .iter()
        .map(|u| {
            let label = match u {
                TimeUnit::Minutes => lang.pick("menit", "minutes"),
                TimeUnit::Hours => lang.pick("jam", "hours"),
                TimeUnit::WorkingDays => lang.pick("hari kerja", "working days"),
            };
            (u.as_str(), label)
        })
        .collect()
}

/// Reads a rupiah amount as people type it: `30000`, `30.000`, `Rp 30.000`.
fn parse_rupiah(raw: &str) -> Option<i64> {
    let digits: String = raw
        .trim()
        .trim_start_matches("Rp")
        .trim_start_matches("rp")
        .chars()
        .filter(|c| !matches!(c, '.' | ' ' | '\u{a0}'))
        .collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 13 {
        return None;
    }
    digits.parse().ok()
}

fn lines(raw: &str) -> Vec<String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn opt(raw: &str) -> Option<String> {
    let t = raw.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// The new document from the form and the old one, or the errors by field.
fn service_from_form(
    before: &ServiceDoc,
    f: &ServiceForm,
    lang: Lang,
) -> Result<ServiceDoc, ServiceErrors> {
    let mut errors = ServiceErrors::default();
    let fee = parse_rupiah(&f.fee_rupiah);
    if fee.is_none() {
        errors.push(
            "fee_rupiah",
            lang,
            "Tarif harus berupa angka rupiah, misalnya 30000 atau 30.000 (0 untuk gratis).",
            "The fee must be a number of rupiah, such as 30000 or 30.000 (0 for free).",
        );
    }
    let value = f.time_value.trim().parse::<i64>().ok();
    if value.is_none() {
        errors.push(
            "time_value",
            lang,
            "Jangka waktu harus berupa bilangan bulat.",
            "The time limit must be a whole number.",
        );
    }
    // Requirements are one per line; "text (note)" keeps a note.
    let requirements = lines(&f.requirements)
        .into_iter()
        .map(
            |line| match line.strip_suffix(')').and_then(|l| l.rsplit_once(" (")) {
                Some((text, note)) if !text.trim().is_empty() => RequirementDoc {
                    text: text.trim().to_owned(),
                    note: Some(note.trim().to_owned()),
                },
                _ => RequirementDoc {
                    text: line,
                    note: None,
                },
            },
        )
        .collect();
    let doc = ServiceDoc {
        name: f.name.clone(),
        description: opt(&f.description),
        requirements,
        procedure: lines(&f.procedure),
        time_limit: TimeLimitDoc {
            value: value.unwrap_or(0),
            unit: f.time_unit.clone(),
        },
        fee: FeeDoc {
            rupiah: fee.unwrap_or(0),
            legal_basis: opt(&f.fee_legal_basis),
            variable: f.fee_variable.is_some(),
        },
        product: f.product.clone(),
        complaint_channel: f.complaint_channel.clone(),
        legal_basis: f.legal_basis.clone(),
        ..before.clone()
    }
    .normalized();
    for problem in doc.problems() {
        let field: &'static str = match problem.path.trim_start_matches("service.") {
            "name" => "name",
            "description" => "description",
            p if p.starts_with("requirements") => "requirements",
            p if p.starts_with("procedure") => "procedure",
            "time_limit.value" => "time_value",
            "time_limit.unit" => "time_unit",
            "fee.rupiah" => "fee_rupiah",
            "fee.legal_basis" => "fee_legal_basis",
            "product" => "product",
            "complaint_channel" => "complaint_channel",
            "legal_basis" => "legal_basis",
            _ => "name",
        };
        let (id, en) = problem_text(&problem.message);
        errors.push(field, lang, &id, &en);
    }
    if errors.fields.is_empty() {
        Ok(doc)
    } else {
        Err(errors)
    }
}

#[derive(Deserialize)]
pub struct SavedQuery {
    tersimpan: Option<String>,
}

pub async fn service_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<SavedQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let here = format!("/staf/layanan/{id}");
    let service = Uuid::parse_str(&id)
        .ok()
        .and_then(|id| catalog.service(id))
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let mpp = &catalog.mpps[service.mpp];
    let tenant = &catalog.tenants[service.tenant];
    if !staff.may(Action::EditService, &catalog.place(mpp, Some(tenant))) {
        return Err(forbidden(lang));
    }
    let (token, fresh) = here_csrf(&headers)?;
    let page = ServicePage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        service_id: service.id,
        service_name: service.name.clone(),
        tenant_name: tenant.name.clone(),
        mpp_name: mpp.name.clone(),
        form: ServiceFormView::of(&catalog.service_doc(service)),
        errors: ServiceErrors::default(),
        saved: query.ok().is_some_and(|Query(q)| q.tersimpan.is_some()),
        units: unit_options(lang),
    };
    Ok(with_csrf(page, StatusCode::OK, &app, &token, fresh))
}

/// Reloads the catalog snapshot now rather than at the next tick, so the editor's next page
/// shows the change; other nodes follow within `catalog_refresh_secs`.
fn refresh_soon(app: &AppState) {
    let (db, catalog) = (app.db.clone(), app.catalog.clone());
    tokio::spawn(async move {
        if let Err(e) = catalog.refresh(&db).await {
            tracing::warn!(error = %e, "catalog refresh after an edit failed");
        }
    });
}

pub async fn save_service(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ServiceForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/layanan/{id}");
    let form = checked_form(form, &headers, lang, &here)?;
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let service = Uuid::parse_str(&id)
        .ok()
        .and_then(|id| catalog.service(id))
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let mpp = &catalog.mpps[service.mpp];
    let tenant = &catalog.tenants[service.tenant];
    let place = catalog.place(mpp, Some(tenant));
    if !staff.may(Action::EditService, &place) {
        return Err(forbidden(lang));
    }
    let before = catalog.service_doc(service);
    match service_from_form(&before, &form, lang) {
        Ok(doc) => {
            let changed = doc.changed_fields(&before);
            if !changed.is_empty() {
                crate::storage::catalog::edit_service(
                    &app.db,
                    service.id,
                    &doc,
                    crate::storage::catalog::Edit {
                        actor: &staff.actor(),
                        audit_scope: &place.audit_path(),
                        changed: &changed,
                    },
                )
                .await
                .map_err(|e| PageError::internal(lang, &here, &e))?;
                refresh_soon(&app);
            }
            Ok(Redirect::to(&format!("{here}?tersimpan=1")).into_response())
        }
        Err(errors) => {
            let page = ServicePage {
                t: lang.texts(),
                lang,
                here,
                csrf: &form.csrf,
                service_id: service.id,
                service_name: service.name.clone(),
                tenant_name: tenant.name.clone(),
                mpp_name: mpp.name.clone(),
                form: ServiceFormView::from_form(&form),
                errors,
                saved: false,
                units: unit_options(lang),
            };
            Ok(render(page, StatusCode::UNPROCESSABLE_ENTITY, None))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Editing an MPP

struct DayHours {
    weekday: i64,
    name: &'static str,
    value: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_mpp.html")]
struct MppPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    name: String,
    address: String,
    phone: String,
    email: String,
    website: String,
    status: String,
    days: Vec<DayHours>,
    errors: Vec<(String, String)>,
    saved: bool,
    statuses: Vec<(&'static str, &'static str)>,
    slug: String,
    /// (slug, name) of the MPP's tenants.
    tenants: Vec<(String, String)>,
}

fn day_name(weekday: i64, lang: Lang) -> &'static str {
    const ID: [&str; 7] = [
        "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
    ];
    const EN: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let i = usize::try_from(weekday - 1).unwrap_or(0).min(6);
    if lang == Lang::En { EN[i] } else { ID[i] }
}

/// `08:00-12:00, 13:00-15:00` for one weekday.
fn hours_text(hours: &[OpeningHoursDoc], weekday: i64) -> String {
    hours
        .iter()
        .filter(|h| h.weekday == weekday)
        .map(|h| format!("{}-{}", h.opens, h.closes))
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_hours(weekday: i64, raw: &str) -> Result<Vec<OpeningHoursDoc>, ()> {
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (opens, closes) = part.split_once(['-', '–']).ok_or(())?;
        out.push(OpeningHoursDoc {
            weekday,
            opens: opens.trim().replace('.', ":"),
            closes: closes.trim().replace('.', ":"),
        });
    }
    Ok(out)
}

fn status_options(lang: Lang) -> Vec<(&'static str, &'static str)> {
    vec![
        ("operating", lang.pick("Beroperasi", "Operating")),
        ("pilot", lang.pick("Uji coba", "Pilot")),
        ("planned", lang.pick("Direncanakan", "Planned")),
    ]
}

#[expect(
    clippy::too_many_arguments,
    reason = "one page rendered after a GET or a refused form"
)]
fn mpp_page<'a>(
    catalog: &Catalog,
    lang: Lang,
    here: String,
    csrf: &'a str,
    doc: &crate::domain::catalog::MppDoc,
    days: Vec<DayHours>,
    errors: Vec<(String, String)>,
    saved: bool,
) -> MppPage<'a> {
    MppPage {
        t: lang.texts(),
        lang,
        here,
        csrf,
        name: doc.name.clone(),
        address: doc.address.clone(),
        phone: doc.phone.clone().unwrap_or_default(),
        email: doc.email.clone().unwrap_or_default(),
        website: doc.website.clone().unwrap_or_default(),
        status: doc.status.clone(),
        days,
        errors,
        saved,
        statuses: status_options(lang),
        slug: doc.slug.clone(),
        tenants: catalog
            .mpp(&doc.slug)
            .map(|m| {
                m.tenants
                    .iter()
                    .map(|&t| {
                        (
                            catalog.tenants[t].slug.clone(),
                            catalog.tenants[t].name.clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

pub async fn mpp_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(slug): Path<String>,
    query: Result<Query<SavedQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let here = format!("/staf/mpp/{slug}");
    let mpp = catalog
        .mpp(&slug)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    if !staff.may(Action::EditMpp, &catalog.place(mpp, None)) {
        return Err(forbidden(lang));
    }
    let doc = catalog.mpp_doc(mpp);
    let days = (1..=7)
        .map(|d| DayHours {
            weekday: d,
            name: day_name(d, lang),
            value: hours_text(&doc.opening_hours, d),
        })
        .collect();
    let (token, fresh) = here_csrf(&headers)?;
    let saved = query.ok().is_some_and(|Query(q)| q.tersimpan.is_some());
    let page = mpp_page(&catalog, lang, here, &token, &doc, days, Vec::new(), saved);
    Ok(with_csrf(page, StatusCode::OK, &app, &token, fresh))
}

pub async fn save_mpp(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(slug): Path<String>,
    form: Result<Form<MppForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/mpp/{slug}");
    let form = checked_form(form, &headers, lang, &here)?;
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let mpp = catalog
        .mpp(&slug)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let place = catalog.place(mpp, None);
    if !staff.may(Action::EditMpp, &place) {
        return Err(forbidden(lang));
    }
    let before = catalog.mpp_doc(mpp);
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut hours = Vec::new();
    let mut days = Vec::new();
    for d in 1..=7 {
        let raw = form.hours(d).to_owned();
        match parse_hours(d, &raw) {
            Ok(h) => hours.extend(h),
            Err(()) => errors.push((
                format!("hours_{d}"),
                lang.pick(
                    "Tulis jam seperti 08:00-12:00, 13:00-15:00; kosongkan bila tutup.",
                    "Write hours like 08:00-12:00, 13:00-15:00; leave empty when closed.",
                )
                .to_owned(),
            )),
        }
        days.push(DayHours {
            weekday: d,
            name: day_name(d, lang),
            value: raw,
        });
    }
    let mut doc = crate::domain::catalog::MppDoc {
        address: form.address.clone(),
        phone: opt(&form.phone),
        email: opt(&form.email),
        website: opt(&form.website),
        status: form.status.clone(),
        opening_hours: hours,
        ..before.clone()
    };
    let mut wrapper = CatalogDoc {
        format: crate::domain::catalog::FORMAT.to_owned(),
        version: crate::domain::catalog::VERSION,
        agencies: Vec::new(),
        templates: Vec::new(),
        mpps: vec![doc.clone()],
    };
    wrapper.normalize();
    if let Some(m) = wrapper.mpps.first() {
        doc = m.clone();
    }
    // Checked in a block of its own: the registry lookup is not `Send` across an await.
    {
        let no_agencies = std::collections::HashSet::new();
        let known = crate::domain::catalog::Known {
            regency: &|code: &str| catalog.regency(code).is_some(),
            agencies: &no_agencies,
            templates: &no_agencies,
        };
        for problem in wrapper.validate(&known) {
            let name = problem.path.trim_start_matches("mpps[0].").to_owned();
            let field = if name.starts_with("opening_hours") {
                // mpps[0].opening_hours[j] → the weekday's field.
                let j: usize = name
                    .trim_start_matches("opening_hours[")
                    .split(']')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                doc.opening_hours
                    .get(j)
                    .map_or("hours_1".to_owned(), |h| format!("hours_{}", h.weekday))
            } else {
                name
            };
            let (id, en) = problem_text(&problem.message);
            if !errors.iter().any(|(f, _)| *f == field) {
                errors.push((field, lang.pick(&id, &en).to_owned()));
            }
        }
    }
    if !errors.is_empty() {
        let page = mpp_page(&catalog, lang, here, &form.csrf, &doc, days, errors, false);
        return Ok(render(page, StatusCode::UNPROCESSABLE_ENTITY, None));
    }
    let mut changed = Vec::new();
    for (name, differs) in [
        ("address", doc.address != before.address),
        ("phone", doc.phone != before.phone),
        ("email", doc.email != before.email),
        ("website", doc.website != before.website),
        ("status", doc.status != before.status),
        ("opening_hours", doc.opening_hours != before.opening_hours),
    ] {
        if differs {
            changed.push(name);
        }
    }
    if !changed.is_empty() {
        crate::storage::catalog::edit_mpp(
            &app.db,
            mpp.id,
            &doc,
            crate::storage::catalog::Edit {
                actor: &staff.actor(),
                audit_scope: &place.audit_path(),
                changed: &changed,
            },
        )
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
        refresh_soon(&app);
    }
    Ok(Redirect::to(&format!("{here}?tersimpan=1")).into_response())
}

// ---------------------------------------------------------------------------------------------
// The audit log of one's scope

struct AuditRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    scope: String,
    subject: String,
    details: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_audit.html")]
struct AuditPage {
    t: &'static Texts,
    lang: Lang,
    here: String,
    rows: Vec<AuditRow>,
    scopes: Vec<String>,
}

/// Entries shown per page.
const AUDIT_ROWS: i64 = 200;

pub async fn audit(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let mut prefixes = Vec::new();
    let mut scopes = Vec::new();
    let mut everything = false;
    for g in &staff.grants {
        let place = scope_place(&catalog, &g.scope);
        if !roles::grant_permits(g, Action::ViewAudit, &place) {
            continue;
        }
        scopes.push(scope_label(&catalog, &g.scope, lang));
        match &g.scope {
            Scope::National => everything = true,
            // A province's path is `/35`; a regency's `/35/35.79`.
            Scope::Region(code) if !code.contains('.') => prefixes.push(format!("/{code}")),
            _ => prefixes.push(place.audit_path()),
        }
    }
    if scopes.is_empty() {
        return Err(forbidden(lang));
    }
    let entries = crate::storage::audit::latest_in(&app.db, &prefixes, everything, AUDIT_ROWS)
        .await
        .map_err(|e| PageError::internal(lang, "/staf/audit", &e))?;
    let rows = entries
        .into_iter()
        .map(|e| AuditRow {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            scope: e.scope,
            subject: e.subject,
            details: e.details,
        })
        .collect();
    let (token, fresh) = here_csrf(&headers)?;
    let page = AuditPage {
        t: lang.texts(),
        lang,
        here: "/staf/audit".into(),
        rows,
        scopes,
    };
    Ok(with_csrf(page, StatusCode::OK, &app, &token, fresh))
}

// ---------------------------------------------------------------------------------------------
// Invitations

struct ScopeOption {
    value: String,
    label: String,
}

struct Colleague {
    grant_id: Uuid,
    email: String,
    role: String,
    scope: String,
    /// The viewer may revoke it (the same authority as inviting to it), and it is not their own.
    revocable: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_invite.html")]
struct InvitePage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    roles: Vec<(&'static str, &'static str)>,
    scopes: Vec<ScopeOption>,
    regional: bool,
    email: String,
    error: Option<String>,
    sent: bool,
    colleagues: Vec<Colleague>,
}

fn scope_value(scope: &Scope) -> String {
    match scope {
        Scope::National => "national".into(),
        Scope::Region(code) => format!("region:{code}"),
        Scope::Mpp(mpp) => format!("mpp:{mpp}"),
        Scope::Tenant { mpp, tenant } => format!("tenant:{mpp}:{tenant}"),
    }
}

fn parse_scope_value(raw: &str, region_code: &str) -> Option<Scope> {
    let mut parts = raw.split(':');
    match (parts.next()?, parts.next(), parts.next()) {
        ("national", None, None) => Some(Scope::National),
        ("region", Some(code), None) => Some(Scope::Region(code.to_owned())),
        ("region_code", None, None) => {
            let code = region_code.trim();
            crate::domain::region::RegionCode::parse(code).ok()?;
            Some(Scope::Region(code.to_owned()))
        }
        ("mpp", Some(mpp), None) => Some(Scope::Mpp(Uuid::parse_str(mpp).ok()?)),
        ("tenant", Some(mpp), Some(tenant)) => Some(Scope::Tenant {
            mpp: Uuid::parse_str(mpp).ok()?,
            tenant: Uuid::parse_str(tenant).ok()?,
        }),
        _ => None,
    }
}

/// The scopes a staff member can invite into: their own, and every MPP and tenant under it
/// (a national or regional admin types a region code instead of choosing among 514).
fn invite_scopes(catalog: &Catalog, staff: &Staff, lang: Lang) -> Vec<ScopeOption> {
    let mut out: Vec<ScopeOption> = Vec::new();
    let mut push = |scope: Scope| {
        let value = scope_value(&scope);
        if !out.iter().any(|o| o.value == value) {
            out.push(ScopeOption {
                value,
                label: scope_label(catalog, &scope, lang),
            });
        }
    };
    for g in &staff.grants {
        if matches!(g.role, Role::Officer | Role::Analyst) {
            continue;
        }
        push(g.scope.clone());
        let mpps: Vec<&crate::catalog::Mpp> = match &g.scope {
            Scope::Mpp(id) => catalog.mpp_by_id(*id).into_iter().collect(),
            Scope::Region(code) => catalog
                .mpps
                .iter()
                .filter(|m| m.region_code == *code || m.province_code == *code)
                .collect(),
            _ => Vec::new(),
        };
        for m in mpps {
            push(Scope::Mpp(m.id));
            for &t in &m.tenants {
                push(Scope::Tenant {
                    mpp: m.id,
                    tenant: catalog.tenants[t].id,
                });
            }
        }
    }
    out
}

fn invitable_roles(staff: &Staff, lang: Lang) -> Vec<(&'static str, &'static str)> {
    Role::ALL
        .iter()
        .filter(|role| {
            staff.grants.iter().any(|g| {
                roles::grant_permits(
                    g,
                    Action::Invite(**role),
                    &Place {
                        region: None,
                        mpp: None,
                        tenant: None,
                    },
                ) || matches!(
                    (g.role, **role),
                    (
                        Role::RegionalAdmin,
                        Role::RegionalAdmin | Role::MppManager | Role::UppAdmin | Role::Officer
                    ) | (Role::MppManager, Role::UppAdmin | Role::Officer)
                        | (Role::UppAdmin, Role::Officer)
                )
            })
        })
        .map(|role| {
            let (id, en) = role.label();
            (role.as_str(), lang.pick(id, en))
        })
        .collect()
}

/// The staff whose grants lie in the viewer's scopes, with their e-mail addresses: personal
/// data, so the view is recorded in the audit log.
async fn colleagues(
    app: &AppState,
    catalog: &Catalog,
    staff: &Staff,
    lang: Lang,
) -> Result<Vec<Colleague>, PageError> {
    let all = store::all_grants(&app.db)
        .await
        .map_err(|e| PageError::internal(lang, "/staf/undang", &e))?;
    let visible: Vec<(Uuid, Uuid, Grant)> = all
        .iter()
        .filter_map(|row| Some((row.id, row.account_id, row.grant()?)))
        .filter(|(_, _, grant)| {
            let place = scope_place(catalog, &grant.scope);
            staff
                .grants
                .iter()
                .filter(|g| !matches!(g.role, Role::Officer | Role::Analyst))
                .any(|g| g.scope.covers(&grant.scope, place.region.as_ref()))
        })
        .collect();
    let mut ids: Vec<Uuid> = visible.iter().map(|(_, id, _)| *id).collect();
    ids.sort();
    ids.dedup();
    let sealed = store::identifiers(&app.db, &ids)
        .await
        .map_err(|e| PageError::internal(lang, "/staf/undang", &e))?;
    if !ids.is_empty() {
        crate::storage::audit::record(
            &app.db,
            crate::storage::audit::NewEntry {
                actor: &staff.actor(),
                action: "personal_data.view",
                scope: "staff",
                subject: "",
                details: serde_json::json!({ "what": "staff e-mail addresses", "accounts": ids }),
            },
        )
        .await
        .map_err(|e| PageError::internal(lang, "/staf/undang", &e))?;
    }
    let email_of = |id: Uuid| {
        sealed
            .iter()
            .find(|(a, _)| *a == id)
            .and_then(|(_, s)| app.settings.keys.open("account.identifier", s).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default()
    };
    Ok(visible
        .into_iter()
        .map(|(grant_id, id, grant)| {
            let (rid, ren) = grant.role.label();
            let place = scope_place(catalog, &grant.scope);
            Colleague {
                grant_id,
                revocable: id != staff.account_id
                    && roles::may_invite(&staff.grants, &grant, &place),
                email: email_of(id),
                role: lang.pick(rid, ren).to_owned(),
                scope: scope_label(catalog, &grant.scope, lang),
            }
        })
        .collect())
}

#[derive(Deserialize)]
pub struct SentQuery {
    terkirim: Option<String>,
}

async fn invite_page(
    app: &AppState,
    lang: Lang,
    staff: &Staff,
    answer: Answer<'_>,
    email: String,
    error: Option<String>,
    sent: bool,
) -> Result<Response, PageError> {
    let Answer {
        csrf,
        status,
        fresh,
    } = answer;
    let catalog = app.catalog.get();
    let page = InvitePage {
        t: lang.texts(),
        lang,
        here: "/staf/undang".into(),
        csrf,
        roles: invitable_roles(staff, lang),
        scopes: invite_scopes(&catalog, staff, lang),
        regional: staff
            .grants
            .iter()
            .any(|g| matches!(g.role, Role::NationalAdmin | Role::RegionalAdmin)),
        email,
        error,
        sent,
        colleagues: colleagues(app, &catalog, staff, lang).await?,
    };
    Ok(with_csrf(page, status, app, csrf, fresh))
}

pub async fn invite_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    query: Result<Query<SentQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let staff = staff_or_return!(app, headers, lang);
    if !may_invite_anyone(&staff) {
        return Err(forbidden(lang));
    }
    let (token, fresh) = here_csrf(&headers)?;
    let sent = query.ok().is_some_and(|Query(q)| q.terkirim.is_some());
    invite_page(
        &app,
        lang,
        &staff,
        Answer {
            csrf: &token,
            status: StatusCode::OK,
            fresh,
        },
        String::new(),
        None,
        sent,
    )
    .await
}

pub async fn invite(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<InviteForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/staf/undang")?;
    let staff = staff_or_return!(app, headers, lang);
    if !may_invite_anyone(&staff) {
        return Err(forbidden(lang));
    }
    let catalog = app.catalog.get();
    let raw_email: String = form.email.chars().take(200).collect();
    let refuse = |id: &str, en: &str| (lang.pick(id, en).to_owned(), raw_email.clone());
    let checked = (|| {
        let identifier = Identifier::parse(&form.email)
            .ok()
            .filter(|i| i.kind() == "email")
            .ok_or_else(|| {
                refuse(
                    "Masukkan alamat e-mail yang benar.",
                    "Enter a valid e-mail address.",
                )
            })?;
        let role =
            Role::parse(&form.role).ok_or_else(|| refuse("Pilih peran.", "Choose a role."))?;
        let scope = parse_scope_value(&form.scope, &form.region_code).ok_or_else(|| {
            refuse(
                "Pilih tempat peran ini berlaku.",
                "Choose where the role applies.",
            )
        })?;
        if let Scope::Region(code) = &scope
            && catalog.region_name(code).is_none()
        {
            return Err(refuse(
                "Kode wilayah tidak dikenal.",
                "Unknown region code.",
            ));
        }
        let grant = Grant::new(role, scope).ok_or_else(|| {
            refuse(
                "Peran ini tidak berlaku pada tempat itu (petugas dan admin UPP pada satu UPP, pengelola pada satu MPP, admin daerah pada satu wilayah, admin nasional dan analis secara nasional).",
                "This role does not apply to that place (officers and UPP admins to one UPP, managers to one MPP, regional admins to one region, national admins and analysts nationally).",
            )
        })?;
        let place = scope_place(&catalog, &grant.scope);
        if !roles::may_invite(&staff.grants, &grant, &place) {
            return Err(refuse(
                "Anda tidak berwenang mengundang peran ini di tempat itu.",
                "You may not invite this role at that place.",
            ));
        }
        Ok((identifier, grant, place))
    })();
    let (identifier, grant, place) = match checked {
        Ok(ok) => ok,
        Err((message, email)) => {
            return invite_page(
                &app,
                lang,
                &staff,
                Answer {
                    csrf: &form.csrf,
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    fresh: false,
                },
                email,
                Some(message),
                false,
            )
            .await;
        }
    };
    let token =
        credentials::random_token().map_err(|_| PageError::unavailable(lang, "/staf/undang"))?;
    let (role_id, role_en) = grant.role.label();
    let where_ = scope_label(&catalog, &grant.scope, Lang::Id);
    let link = format!("{}/staf/tautan/{token}", app.settings.public_url);
    let body = format!(
        "Anda diundang sebagai {role_id} ({where_}) di MPP Digital. Buka tautan ini dalam {INVITE_DAYS} hari untuk membuat kata sandi: {link}\n\
         You are invited as {role_en} ({where_}) on MPP Digital. Open this link within {INVITE_DAYS} days to set your password: {link}"
    );
    send_link(
        &app,
        lang,
        "invite",
        &identifier,
        Some(&grant),
        &staff.actor(),
        &token,
        &body,
        Duration::days(INVITE_DAYS),
        &place.audit_path(),
        "/staf/undang",
    )
    .await?;
    Ok(Redirect::to("/staf/undang?terkirim=1").into_response())
}

#[expect(
    clippy::too_many_arguments,
    reason = "one link, its message and its audit scope"
)]
async fn send_link(
    app: &AppState,
    lang: Lang,
    purpose: &str,
    identifier: &Identifier,
    grant: Option<&Grant>,
    actor: &str,
    token: &str,
    body: &str,
    valid: Duration,
    audit_scope: &str,
    here: &str,
) -> Result<(), PageError> {
    if !app.settings.can_deliver("email") {
        return Err(PageError::status(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            "Pengiriman e-mail belum dikonfigurasi di server ini.",
            "Sending e-mail is not configured on this server.",
        ));
    }
    let keys = &app.settings.keys;
    let seal = |context: &str, value: &[u8]| {
        keys.seal(context, value)
            .map_err(|e| PageError::internal(lang, here, &e))
    };
    let identifier_sealed = seal("account.identifier", identifier.as_str().as_bytes())?;
    let recipient_sealed = seal("outbox.recipient", identifier.as_str().as_bytes())?;
    let body_sealed = seal("outbox.body", body.as_bytes())?;
    let identifier_hash = keys.lookup_hash("account.identifier", identifier.as_str());
    let token_hash = credentials::token_hash(token);
    let now = Utc::now();
    let subject = if purpose == "invite" {
        "Undangan MPP Digital / MPP Digital invitation"
    } else {
        "Atur ulang kata sandi MPP Digital / Reset your MPP Digital password"
    };
    let link = NewLink {
        purpose,
        token_hash: &token_hash,
        identifier_hash: &identifier_hash,
        identifier_sealed: &identifier_sealed,
        grant,
        created_by: actor,
        expires_at: now + valid,
        message: Some(NewMessage {
            channel: "email",
            recipient_sealed: &recipient_sealed,
            subject,
            body_sealed: &body_sealed,
        }),
        audit_scope,
    };
    match store::create_link(&app.db, link, now).await {
        Ok(()) => Ok(()),
        // A reset asked too often answers as if sent (no enumeration, no flood); an invitation says so.
        Err(LinkError::RateLimited) if purpose == "reset" => Ok(()),
        Err(LinkError::RateLimited) => Err(PageError::status(
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            "Terlalu banyak undangan ke alamat ini dalam satu jam. Coba lagi nanti.",
            "Too many invitations to this address within an hour. Try again later.",
        )),
        Err(LinkError::Storage(e)) => Err(PageError::internal(lang, here, &e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Links: accepting an invitation, resetting a password

#[derive(Template, WebTemplate)]
#[template(path = "staff_link.html")]
struct LinkPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    invite: bool,
    /// An invitation for an account that already has a password: it is confirmed, not replaced.
    existing: bool,
    role: String,
    email: String,
    error: Option<String>,
}

fn dead_link(lang: Lang) -> PageError {
    PageError::status(
        lang,
        StatusCode::NOT_FOUND,
        "Tautan ini tidak berlaku: salah, kedaluwarsa, atau sudah dipakai. Minta tautan baru.",
        "This link is not valid: mistyped, expired or already used. Ask for a new one.",
    )
}

async fn live_link(app: &AppState, lang: Lang, token: &str) -> Result<store::LinkRow, PageError> {
    store::live_link(&app.db, &credentials::token_hash(token), Utc::now())
        .await
        .map_err(|e| PageError::internal(lang, "/staf", &e))?
        .ok_or_else(|| dead_link(lang))
}

fn link_page<'a>(
    app: &AppState,
    lang: Lang,
    token: &str,
    csrf: &'a str,
    link: &store::LinkRow,
    existing: Option<&store::StaffLogin>,
    error: Option<String>,
) -> LinkPage<'a> {
    let catalog = app.catalog.get();
    let role = link
        .grant()
        .map(|g| {
            let (id, en) = g.role.label();
            format!(
                "{} — {}",
                lang.pick(id, en),
                scope_label(&catalog, &g.scope, lang)
            )
        })
        .unwrap_or_default();
    LinkPage {
        t: lang.texts(),
        lang,
        here: format!("/staf/tautan/{token}"),
        csrf,
        invite: link.purpose == "invite",
        existing: link.purpose == "invite" && existing.is_some(),
        role,
        email: app
            .settings
            .keys
            .open("account.identifier", &link.identifier_sealed)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default(),
        error,
    }
}

pub async fn link_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let link = live_link(&app, lang, &token).await?;
    let existing = store::login(&app.db, &link.identifier_hash)
        .await
        .map_err(|e| PageError::internal(lang, "/staf", &e))?;
    let (csrf_token, fresh) = here_csrf(&headers)?;
    let page = link_page(
        &app,
        lang,
        &token,
        &csrf_token,
        &link,
        existing.as_ref(),
        None,
    );
    Ok(with_csrf(page, StatusCode::OK, &app, &csrf_token, fresh))
}

pub async fn use_link(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(token): Path<String>,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/tautan/{token}");
    let form = checked_form(form, &headers, lang, &here)?;
    let link = live_link(&app, lang, &token).await?;
    let existing = store::login(&app.db, &link.identifier_hash)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
        .filter(|_| link.purpose == "invite");
    let page = link_page(
        &app,
        lang,
        &token,
        &form.csrf,
        &link,
        existing.as_ref(),
        None,
    );
    let problem = if let Some(login) = &existing {
        // An invitation to someone who already has a password adds the role once they show
        // they hold it; the password stays theirs. Attempts count as at sign-in.
        let reserved = store::reserve_attempt(&app.db, login.account_id, Utc::now())
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?;
        if reserved && credentials::verify_password(&form.password, &login.password_hash) {
            store::clear_attempts(&app.db, login.account_id)
                .await
                .map_err(|e| PageError::internal(lang, &here, &e))?;
            None
        } else {
            Some(
                lang.pick(
                    "Kata sandi salah (atau akun terkunci sementara). Masukkan kata sandi akun Anda yang sekarang.",
                    "Wrong password (or the account is locked for a while). Enter your account's current password.",
                )
                .to_owned(),
            )
        }
    } else if form.password != form.password_again {
        Some(
            lang.pick("Kedua kata sandi tidak sama.", "The two passwords differ.")
                .to_owned(),
        )
    } else {
        credentials::check_new_password(&form.password, &page.email)
            .err()
            .map(|weak| {
                let (id, en) = weak.message();
                lang.pick(id, en).to_owned()
            })
    };
    if let Some(problem) = problem {
        let page = LinkPage {
            error: Some(problem),
            ..page
        };
        return Ok(render(page, StatusCode::UNPROCESSABLE_ENTITY, None));
    }
    // The inviter must still hold the authority to invite to this role here (a revoked manager's
    // invitations die with their role).
    if let (Some(grant), Some(inviter)) = (link.grant(), link.created_by.strip_prefix("account:")) {
        let inviter = Uuid::parse_str(inviter).map_err(|_| dead_link(lang))?;
        let grants: Vec<Grant> = store::grants(&app.db, inviter)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?
            .iter()
            .filter_map(|g| g.grant())
            .collect();
        let place = scope_place(&app.catalog.get(), &grant.scope);
        if !roles::may_invite(&grants, &grant, &place) {
            return Err(dead_link(lang));
        }
    }
    let hash = match existing {
        Some(_) => None,
        None => Some(
            credentials::hash_password(&form.password)
                .map_err(|_| PageError::unavailable(lang, &here))?,
        ),
    };
    match store::use_link(&app.db, &link, hash.as_deref(), Utc::now())
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
    {
        Some(_) => Ok(Redirect::to("/staf/masuk?selesai=1").into_response()),
        None => Err(dead_link(lang)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_reset.html")]
struct ResetPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    sent: bool,
    error: Option<String>,
}

pub async fn reset_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    query: Result<Query<SentQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let (token, fresh) = here_csrf(&headers)?;
    let page = ResetPage {
        t: lang.texts(),
        lang,
        here: "/staf/lupa".into(),
        csrf: &token,
        sent: query.ok().is_some_and(|Query(q)| q.terkirim.is_some()),
        error: None,
    };
    Ok(with_csrf(page, StatusCode::OK, &app, &token, fresh))
}

/// Sends a reset link when the address has a staff account; answers the same either way.
pub async fn request_reset(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/staf/lupa")?;
    let Some(identifier) = Identifier::parse(&form.email)
        .ok()
        .filter(|i| i.kind() == "email")
    else {
        let page = ResetPage {
            t: lang.texts(),
            lang,
            here: "/staf/lupa".into(),
            csrf: &form.csrf,
            sent: false,
            error: Some(
                lang.pick(
                    "Masukkan alamat e-mail yang benar.",
                    "Enter a valid e-mail address.",
                )
                .to_owned(),
            ),
        };
        return Ok(render(page, StatusCode::BAD_REQUEST, None));
    };
    let hash = app
        .settings
        .keys
        .lookup_hash("account.identifier", identifier.as_str());
    let account = store::staff_account_by_identifier(&app.db, &hash)
        .await
        .map_err(|e| PageError::internal(lang, "/staf/lupa", &e))?;
    if let Some(account) = account {
        let token =
            credentials::random_token().map_err(|_| PageError::unavailable(lang, "/staf/lupa"))?;
        let link = format!("{}/staf/tautan/{token}", app.settings.public_url);
        let body = format!(
            "Buka tautan ini dalam {RESET_MINUTES} menit untuk membuat kata sandi baru: {link}\nAbaikan pesan ini bila Anda tidak memintanya.\n\
             Open this link within {RESET_MINUTES} minutes to set a new password: {link}\nIgnore this message if you did not ask for it."
        );
        send_link(
            &app,
            lang,
            "reset",
            &identifier,
            None,
            &format!("account:{account}"),
            &token,
            &body,
            Duration::minutes(RESET_MINUTES),
            "staff",
            "/staf/lupa",
        )
        .await?;
    }
    Ok(Redirect::to("/staf/lupa?terkirim=1").into_response())
}

// ---------------------------------------------------------------------------------------------
// API tokens

/// The scopes a token can carry. A token acts with its owner's grants, narrowed to its scopes.
pub const TOKEN_SCOPES: &[&str] = &["catalog:write", "queue:operate", "applications:process"];
const MAX_TOKEN_DAYS: i64 = 365;

struct TokenView {
    id: Uuid,
    name: String,
    scopes: String,
    created_at: String,
    expires_at: String,
    last_used_at: String,
    revoked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_tokens.html")]
struct TokensPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    tokens: Vec<TokenView>,
    new_token: Option<String>,
    error: Option<String>,
}

async fn tokens_page(
    app: &AppState,
    lang: Lang,
    staff: &Staff,
    answer: Answer<'_>,
    new_token: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let Answer {
        csrf,
        status,
        fresh,
    } = answer;
    let rows = store::tokens(&app.db, staff.account_id)
        .await
        .map_err(|e| PageError::internal(lang, "/staf/token", &e))?;
    let short = |t: &str| t.get(..16).unwrap_or(t).replace('T', " ");
    let page = TokensPage {
        t: lang.texts(),
        lang,
        here: "/staf/token".into(),
        csrf,
        tokens: rows
            .into_iter()
            .map(|r| TokenView {
                id: r.id,
                name: r.name,
                scopes: r.scopes,
                created_at: short(&r.created_at),
                expires_at: short(&r.expires_at),
                last_used_at: r.last_used_at.as_deref().map(short).unwrap_or_default(),
                revoked: r.revoked_at.is_some(),
            })
            .collect(),
        new_token,
        error,
    };
    Ok(with_csrf(page, status, app, csrf, fresh))
}

pub async fn tokens(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let staff = staff_or_return!(app, headers, lang);
    let (token, fresh) = here_csrf(&headers)?;
    tokens_page(
        &app,
        lang,
        &staff,
        Answer {
            csrf: &token,
            status: StatusCode::OK,
            fresh,
        },
        None,
        None,
    )
    .await
}

pub async fn create_token(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/staf/token")?;
    let staff = staff_or_return!(app, headers, lang);
    let name = form.name.trim();
    let days = form
        .days
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|d| (1..=MAX_TOKEN_DAYS).contains(d));
    let error = if name.is_empty() || name.chars().count() > 80 {
        Some(lang.pick(
            "Beri nama token (paling banyak 80 karakter), misalnya sistem yang memakainya.",
            "Name the token (at most 80 characters), such as the system that uses it.",
        ))
    } else if days.is_none() {
        Some(lang.pick(
            "Masa berlaku harus 1 sampai 365 hari.",
            "Validity must be 1 to 365 days.",
        ))
    } else if form.scopes().is_empty() {
        Some(lang.pick(
            "Pilih sedikitnya satu cakupan: hanya yang dibutuhkan sistem itu.",
            "Choose at least one scope: only what that system needs.",
        ))
    } else {
        None
    };
    if let Some(error) = error {
        return tokens_page(
            &app,
            lang,
            &staff,
            Answer {
                csrf: &form.csrf,
                status: StatusCode::UNPROCESSABLE_ENTITY,
                fresh: false,
            },
            None,
            Some(error.to_owned()),
        )
        .await;
    }
    let secret =
        credentials::random_token().map_err(|_| PageError::unavailable(lang, "/staf/token"))?;
    let token = format!("mpp_{secret}");
    store::create_token(
        &app.db,
        store::NewToken {
            account_id: staff.account_id,
            name,
            token_hash: &credentials::token_hash(&token),
            scopes: &form.scopes().join(" "),
            expires_at: Utc::now() + Duration::days(days.unwrap_or(1)),
        },
    )
    .await
    .map_err(|e| PageError::internal(lang, "/staf/token", &e))?;
    // Shown once, on this answer only (no-store); only its hash is kept.
    tokens_page(
        &app,
        lang,
        &staff,
        Answer {
            csrf: &form.csrf,
            status: StatusCode::OK,
            fresh: false,
        },
        Some(token),
        None,
    )
    .await
}

pub async fn revoke_token(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<PlainForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/staf/token")?;
    let staff = staff_or_return!(app, headers, lang);
    let id = Uuid::parse_str(&id).map_err(|_| PageError::not_found(lang, "/staf/token"))?;
    let _ = form;
    if !store::revoke_token(&app.db, staff.account_id, id)
        .await
        .map_err(|e| PageError::internal(lang, "/staf/token", &e))?
    {
        return Err(PageError::not_found(lang, "/staf/token"));
    }
    Ok(Redirect::to("/staf/token").into_response())
}

// ---------------------------------------------------------------------------------------------
// Tenants (UPP) of an MPP, kept by its manager

#[derive(Template, WebTemplate)]
#[template(path = "staff_tenant.html")]
struct TenantPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    mpp_slug: String,
    mpp_name: String,
    /// `None` when adding.
    tenant_slug: Option<String>,
    name: String,
    agency: String,
    location: String,
    description: String,
    observes_cuti_bersama: bool,
    agencies: Vec<(String, String)>,
    errors: Vec<(String, String)>,
    saved: bool,
}

#[derive(Deserialize)]
pub struct TenantForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    agency: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    observes_cuti_bersama: Option<String>,
}
csrf_forms!(TenantForm);

/// The word in the address for "a new UPP".
const NEW_TENANT: &str = "baru";

fn agency_options(catalog: &Catalog) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = catalog
        .agencies
        .iter()
        .map(|a| (a.slug.clone(), a.name.clone()))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

pub async fn tenant_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path((slug, tenant)): Path<(String, String)>,
    query: Result<Query<SavedQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let here = format!("/staf/mpp/{slug}/upp/{tenant}");
    let mpp = catalog
        .mpp(&slug)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    if !staff.may(Action::EditMpp, &catalog.place(mpp, None)) {
        return Err(forbidden(lang));
    }
    let existing = if tenant == NEW_TENANT {
        None
    } else {
        Some(
            catalog
                .tenant(mpp, &tenant)
                .ok_or_else(|| PageError::not_found(lang, &here))?,
        )
    };
    let (token, fresh) = here_csrf(&headers)?;
    let page = TenantPage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        mpp_slug: mpp.slug.clone(),
        mpp_name: mpp.name.clone(),
        tenant_slug: existing.map(|t| t.slug.clone()),
        name: existing.map(|t| t.name.clone()).unwrap_or_default(),
        agency: existing
            .map(|t| catalog.agencies[t.agency].slug.clone())
            .unwrap_or_default(),
        location: existing
            .and_then(|t| t.location.clone())
            .unwrap_or_default(),
        description: existing
            .and_then(|t| t.description.clone())
            .unwrap_or_default(),
        observes_cuti_bersama: existing.is_none_or(|t| t.observes_cuti_bersama),
        agencies: agency_options(&catalog),
        errors: Vec::new(),
        saved: query.ok().is_some_and(|Query(q)| q.tersimpan.is_some()),
    };
    Ok(with_csrf(page, StatusCode::OK, &app, &token, fresh))
}

pub async fn save_tenant(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path((slug, tenant)): Path<(String, String)>,
    form: Result<Form<TenantForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/mpp/{slug}/upp/{tenant}");
    let form = checked_form(form, &headers, lang, &here)?;
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let mpp = catalog
        .mpp(&slug)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    if !staff.may(Action::EditMpp, &catalog.place(mpp, None)) {
        return Err(forbidden(lang));
    }
    let existing = if tenant == NEW_TENANT {
        None
    } else {
        Some(
            catalog
                .tenant(mpp, &tenant)
                .ok_or_else(|| PageError::not_found(lang, &here))?,
        )
    };
    let mut errors: Vec<(String, String)> = Vec::new();
    let new_slug = match existing {
        Some(t) => Some(t.slug.clone()),
        None => match crate::domain::slug::Slug::from_name(&form.name) {
            Some(s) if catalog.tenant(mpp, s.as_str()).is_some() => {
                errors.push((
                    "name".into(),
                    lang.pick(
                        "UPP dengan nama ini sudah ada di MPP ini.",
                        "A UPP with this name already exists in this MPP.",
                    )
                    .into(),
                ));
                None
            }
            Some(s) => Some(s.as_str().to_owned()),
            None => {
                errors.push(("name".into(), lang.pick("Wajib diisi.", "Required.").into()));
                None
            }
        },
    };
    if catalog.agency(form.agency.trim()).is_none() {
        errors.push((
            "agency".into(),
            lang.pick("Pilih instansi.", "Choose the agency.").into(),
        ));
    }
    let doc = crate::domain::catalog::TenantDoc {
        slug: new_slug.clone().unwrap_or_else(|| "upp".into()),
        agency: form.agency.trim().to_owned(),
        name: form.name.trim().to_owned(),
        location: opt(&form.location),
        description: opt(&form.description),
        observes_cuti_bersama: form.observes_cuti_bersama.is_some(),
        services: Vec::new(),
    };
    {
        let mut mpp_doc = catalog.mpp_doc(mpp);
        mpp_doc.tenants = vec![doc.clone()];
        let wrapper = CatalogDoc {
            format: crate::domain::catalog::FORMAT.to_owned(),
            version: crate::domain::catalog::VERSION,
            agencies: Vec::new(),
            templates: Vec::new(),
            mpps: vec![mpp_doc],
        };
        let agencies: std::collections::HashSet<String> =
            catalog.agencies.iter().map(|a| a.slug.clone()).collect();
        let none = std::collections::HashSet::new();
        let known = crate::domain::catalog::Known {
            regency: &|code: &str| catalog.regency(code).is_some(),
            agencies: &agencies,
            templates: &none,
        };
        for problem in wrapper.validate(&known) {
            let field = problem
                .path
                .strip_prefix("mpps[0].tenants[0].")
                .unwrap_or("name")
                .to_owned();
            if errors.iter().any(|(f, _)| *f == field) {
                continue;
            }
            let message = if field == "agency" {
                lang.pick("Pilih instansi.", "Choose the agency.")
                    .to_owned()
            } else {
                let (id, en) = problem_text(&problem.message);
                lang.pick(&id, &en).to_owned()
            };
            errors.push((field, message));
        }
    }
    if !errors.is_empty() {
        let page = TenantPage {
            t: lang.texts(),
            lang,
            here,
            csrf: &form.csrf,
            mpp_slug: mpp.slug.clone(),
            mpp_name: mpp.name.clone(),
            tenant_slug: existing.map(|t| t.slug.clone()),
            name: form.name.clone(),
            agency: form.agency.clone(),
            location: form.location.clone(),
            description: form.description.clone(),
            observes_cuti_bersama: form.observes_cuti_bersama.is_some(),
            agencies: agency_options(&catalog),
            errors,
            saved: false,
        };
        return Ok(render(page, StatusCode::UNPROCESSABLE_ENTITY, None));
    }
    let agency = catalog
        .agency(&doc.agency)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let mut changed = vec![];
    if let Some(t) = existing {
        for (name, differs) in [
            ("name", t.name != doc.name),
            ("agency", catalog.agencies[t.agency].slug != doc.agency),
            ("location", t.location != doc.location),
            ("description", t.description != doc.description),
            (
                "observes_cuti_bersama",
                t.observes_cuti_bersama != doc.observes_cuti_bersama,
            ),
        ] {
            if differs {
                changed.push(name);
            }
        }
    } else {
        changed = vec![
            "name",
            "agency",
            "location",
            "description",
            "observes_cuti_bersama",
        ];
    }
    if !changed.is_empty() {
        let place = catalog.place(mpp, existing);
        crate::storage::catalog::save_tenant(
            &app.db,
            mpp.id,
            existing.map(|t| t.id),
            agency.id,
            &doc,
            crate::storage::catalog::Edit {
                actor: &staff.actor(),
                audit_scope: &place.audit_path(),
                changed: &changed,
            },
        )
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
        refresh_soon(&app);
    }
    Ok(Redirect::to(&format!(
        "/staf/mpp/{}/upp/{}?tersimpan=1",
        mpp.slug, doc.slug
    ))
    .into_response())
}

/// Revokes a colleague's role: allowed to whoever may invite to that role at that place.
pub async fn revoke_grant(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<PlainForm>, FormRejection>,
) -> Result<Response, PageError> {
    checked_form(form, &headers, lang, "/staf/undang")?;
    let staff = staff_or_return!(app, headers, lang);
    if !may_invite_anyone(&staff) {
        return Err(forbidden(lang));
    }
    let id = Uuid::parse_str(&id).map_err(|_| PageError::not_found(lang, "/staf/undang"))?;
    let row = store::grant_by_id(&app.db, id)
        .await
        .map_err(|e| PageError::internal(lang, "/staf/undang", &e))?
        .ok_or_else(|| PageError::not_found(lang, "/staf/undang"))?;
    let grant = row
        .grant()
        .ok_or_else(|| PageError::not_found(lang, "/staf/undang"))?;
    let catalog = app.catalog.get();
    let place = scope_place(&catalog, &grant.scope);
    if row.account_id == staff.account_id || !roles::may_invite(&staff.grants, &grant, &place) {
        return Err(forbidden(lang));
    }
    store::revoke_grant(&app.db, id, &staff.actor(), &place.audit_path())
        .await
        .map_err(|e| PageError::internal(lang, "/staf/undang", &e))?;
    Ok(Redirect::to("/staf/undang").into_response())
}
