//! Citizens' sign-in by one-time code (which also signs them up), sessions, and the development
//! outbox. The same answer is given whether an account exists or not.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::AppState;
use super::errors::PageError;
use super::i18n::{Lang, Texts};
use crate::domain::identifier::Identifier;
use crate::domain::nik::Nik;
use crate::storage::accounts::{self, CodeCheck, CodeError, NewCode, NewMessage};

pub(super) const SESSION_COOKIE: &str = "sesi";
pub(super) const CSRF_COOKIE: &str = "csrf";
const CODE_MINUTES: i64 = 10;
const SESSION_DAYS: i64 = 30;

pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

pub(super) fn random_token() -> Result<String, PageError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| PageError::unavailable(Lang::Id, "/"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub(super) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub(super) fn set_cookie(
    response: &mut Response,
    app: &AppState,
    name: &str,
    value: &str,
    max_age: i64,
) {
    let secure = if app.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let text = format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    if let Ok(v) = HeaderValue::from_str(&text) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The CSRF token of this browser (double-submit: a cookie and the same value in each form),
/// created when missing.
pub(super) fn csrf(headers: &HeaderMap) -> Result<(String, bool), PageError> {
    match cookie(headers, CSRF_COOKIE).filter(|t| t.len() >= 32) {
        Some(token) => Ok((token, false)),
        None => Ok((random_token()?, true)),
    }
}

pub(super) fn check_csrf(headers: &HeaderMap, sent: &str, lang: Lang) -> Result<(), PageError> {
    let expected = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    let same = !expected.is_empty()
        && expected.len() == sent.len()
        && expected
            .bytes()
            .zip(sent.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(PageError::status(
            lang,
            StatusCode::FORBIDDEN,
            "Formulir kedaluwarsa atau tidak berasal dari halaman ini. Muat ulang halaman lalu coba lagi.",
            "The form expired or did not come from this site. Reload the page and try again.",
        ))
    }
}

/// A posted form with its CSRF token.
pub(super) trait CsrfForm {
    fn csrf(&self) -> &str;
}

/// Implements [`CsrfForm`] for forms with a `csrf` field (used by every page module).
macro_rules! csrf_forms {
    ($($form:ty),*) => { $(impl $crate::http::account::CsrfForm for $form { fn csrf(&self) -> &str { &self.csrf } })* };
}
pub(super) use csrf_forms;

/// A form read as its list of fields, for fields that repeat (checkboxes of one name).
#[derive(Deserialize)]
#[serde(from = "Vec<(String, String)>")]
pub struct PairsForm {
    csrf: String,
    pub fields: Vec<(String, String)>,
}

impl From<Vec<(String, String)>> for PairsForm {
    fn from(fields: Vec<(String, String)>) -> PairsForm {
        let csrf = fields
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        PairsForm { csrf, fields }
    }
}

impl PairsForm {
    /// Every value of the field `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn first<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }
}

/// A form that carries nothing but its CSRF token (a button that acts).
#[derive(Deserialize)]
pub struct PlainForm {
    #[serde(default)]
    csrf: String,
}
csrf_forms!(
    SignInForm,
    CodeForm,
    ProfileForm,
    DeleteForm,
    SignOutForm,
    PasswordSignInForm,
    SetPasswordForm,
    PlainForm,
    PairsForm
);

/// The form, if it can be read and carries this browser's CSRF token.
pub(super) fn checked_form<T: CsrfForm>(
    form: Result<Form<T>, FormRejection>,
    headers: &HeaderMap,
    lang: Lang,
    here: &str,
) -> Result<T, PageError> {
    let Ok(Form(form)) = form else {
        return Err(PageError::bad_request(
            lang,
            here,
            "Formulir tidak dapat dibaca.",
            "The form cannot be read.",
        ));
    };
    check_csrf(headers, form.csrf(), lang)?;
    Ok(form)
}

pub(super) fn render(
    page: impl Template,
    status: StatusCode,
    csrf_cookie: Option<(&AppState, &str)>,
) -> Response {
    let mut response = match page.render() {
        Ok(html) => (status, axum::response::Html(html)).into_response(),
        Err(e) => PageError::internal(Lang::Id, "/", &e).into_response(),
    };
    if let Some((app, token)) = csrf_cookie {
        set_cookie(&mut response, app, CSRF_COOKIE, token, 60 * 60 * 24);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Template, WebTemplate)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    identifier: &'a str,
    error: Option<&'static str>,
    password_error: Option<&'static str>,
}

pub async fn sign_in_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (token, fresh) = csrf(&headers)?;
    let page = SignInPage {
        t: lang.texts(),
        lang,
        here: "/masuk".into(),
        csrf: &token,
        identifier: "",
        error: None,
        password_error: None,
    };
    Ok(render(
        page,
        StatusCode::OK,
        fresh.then_some((&app, token.as_str())),
    ))
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    identifier: String,
}

/// Sends a code to the address or number given. Whether an account exists is never revealed:
/// the answer is the same, and the first successful code creates the account.
pub async fn send_code(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/masuk")?;
    let t = lang.texts();
    let identifier = match Identifier::parse(&form.identifier) {
        Ok(identifier) => identifier,
        Err(e) => {
            let message = if lang == Lang::En {
                e.message_en()
            } else {
                e.message_id()
            };
            let raw: String = form.identifier.chars().take(200).collect();
            let page = SignInPage {
                t,
                lang,
                here: "/masuk".into(),
                csrf: &form.csrf,
                identifier: &raw,
                error: Some(message),
                password_error: None,
            };
            return Ok(render(page, StatusCode::BAD_REQUEST, None));
        }
    };
    match request_code(&app, &identifier).await {
        Ok(id) => Ok(Redirect::to(&format!("/masuk/kode?ref={id}")).into_response()),
        Err(CodeRequestError::Undeliverable) => Err(PageError::status(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            CodeRequestError::UNDELIVERABLE.0,
            CodeRequestError::UNDELIVERABLE.1,
        )),
        Err(CodeRequestError::RateLimited) => Err(PageError::status(
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            CodeRequestError::RATE_LIMITED.0,
            CodeRequestError::RATE_LIMITED.1,
        )),
        Err(CodeRequestError::Internal(e)) => Err(PageError::internal(lang, "/masuk", &*e)),
    }
}

/// Why a sign-in code could not be sent.
pub(super) enum CodeRequestError {
    Undeliverable,
    RateLimited,
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl CodeRequestError {
    pub(super) const UNDELIVERABLE: (&'static str, &'static str) = (
        "Pengiriman kode masuk belum dikonfigurasi di server ini.",
        "Sending sign-in codes is not configured on this server.",
    );
    pub(super) const RATE_LIMITED: (&'static str, &'static str) = (
        "Terlalu banyak permintaan kode untuk alamat ini. Coba lagi dalam 15 menit.",
        "Too many codes were requested for this address. Try again in 15 minutes.",
    );
}

/// Makes a one-time sign-in code for `identifier` and queues it for delivery; returns the
/// reference the code is entered with. Shared by the sign-in page and the API.
pub(super) async fn request_code(
    app: &AppState,
    identifier: &Identifier,
) -> Result<Uuid, CodeRequestError> {
    let channel = if identifier.kind() == "email" {
        "email"
    } else {
        "sms"
    };
    if !app.settings.can_deliver(channel) {
        return Err(CodeRequestError::Undeliverable);
    }
    let keys = &app.settings.keys;
    let id = Uuid::now_v7();
    let mut digits = [0u8; 4];
    getrandom::fill(&mut digits).map_err(|e| CodeRequestError::Internal(Box::new(e)))?;
    let code = format!("{:06}", u32::from_le_bytes(digits) % 1_000_000);
    let seal = |context: &str, value: &[u8]| {
        keys.seal(context, value)
            .map_err(|e| CodeRequestError::Internal(Box::new(e)))
    };
    let identifier_sealed = seal("account.identifier", identifier.as_str().as_bytes())?;
    let recipient_sealed = seal("outbox.recipient", identifier.as_str().as_bytes())?;
    let body = format!(
        "Kode masuk MPP Digital Anda: {code}. Berlaku {CODE_MINUTES} menit. Jangan berikan kode ini kepada siapa pun.\n\
         Your MPP Digital sign-in code: {code}. Valid for {CODE_MINUTES} minutes. Never share it."
    );
    let body_sealed = seal("outbox.body", body.as_bytes())?;
    let identifier_hash = keys.lookup_hash("account.identifier", identifier.as_str());
    let code_hash = keys.lookup_hash("login.code", &format!("{id}:{code}"));
    let now = Utc::now();
    let new = NewCode {
        id,
        identifier_kind: identifier.kind(),
        identifier_hash: &identifier_hash,
        identifier_sealed: &identifier_sealed,
        code_hash: &code_hash,
        expires_at: now + Duration::minutes(CODE_MINUTES),
        message: NewMessage {
            channel,
            recipient_sealed: &recipient_sealed,
            subject: "Kode masuk MPP Digital",
            body_sealed: &body_sealed,
        },
    };
    match accounts::create_code(&app.db, new, now).await {
        Ok(()) => Ok(id),
        Err(CodeError::RateLimited) => Err(CodeRequestError::RateLimited),
        Err(CodeError::Storage(e)) => Err(CodeRequestError::Internal(Box::new(e))),
    }
}

/// What entering a code gave.
pub(super) enum Redeemed {
    /// A new session, whose token is given to the client once.
    SignedIn {
        session: String,
    },
    Wrong {
        attempts_left: i32,
    },
    Dead,
}

/// Checks `code` against the code `reference`; a match starts a session of
/// [`SESSION_DAYS`]. `code` must already be six digits.
pub(super) async fn redeem_code(
    app: &AppState,
    reference: Uuid,
    code: &str,
) -> Result<Redeemed, crate::storage::StorageError> {
    let expected = app
        .settings
        .keys
        .lookup_hash("login.code", &format!("{reference}:{code}"));
    let matches = |stored: &[u8]| {
        stored.len() == expected.len()
            && stored
                .iter()
                .zip(expected.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    };
    let session = crate::credentials::random_token().map_err(|e| {
        crate::storage::StorageError::Sql(sqlx::Error::Io(std::io::Error::other(e)))
    })?;
    let outcome = accounts::check_code(
        &app.db,
        reference,
        matches,
        &token_hash(&session),
        Duration::days(SESSION_DAYS),
        Utc::now(),
    )
    .await?;
    Ok(match outcome {
        CodeCheck::SignedIn { .. } => Redeemed::SignedIn { session },
        CodeCheck::Wrong { attempts_left } if attempts_left > 0 => {
            Redeemed::Wrong { attempts_left }
        }
        CodeCheck::Wrong { .. } | CodeCheck::Dead => Redeemed::Dead,
    })
}

/// How long a session lasts, in seconds.
pub(super) const SESSION_SECONDS: i64 = SESSION_DAYS * 24 * 3600;

#[derive(Deserialize)]
pub struct CodeQuery {
    #[serde(rename = "ref")]
    reference: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "code.html")]
struct CodePage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    reference: &'a str,
    error: Option<String>,
    dev_outbox: bool,
}

pub async fn code_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    query: Result<Query<CodeQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let reference = query
        .ok()
        .and_then(|Query(q)| q.reference)
        .filter(|r| Uuid::parse_str(r).is_ok());
    let Some(reference) = reference else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let (token, fresh) = csrf(&headers)?;
    let page = CodePage {
        t: lang.texts(),
        lang,
        here: "/masuk".into(),
        csrf: &token,
        reference: &reference,
        error: None,
        dev_outbox: app.settings.dev_outbox(),
    };
    Ok(render(
        page,
        StatusCode::OK,
        fresh.then_some((&app, token.as_str())),
    ))
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default, rename = "ref")]
    reference: String,
    #[serde(default)]
    code: String,
}

pub async fn enter_code(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/masuk")?;
    let t = lang.texts();
    let retry = |error: String, status: StatusCode| {
        let page = CodePage {
            t,
            lang,
            here: "/masuk".into(),
            csrf: &form.csrf,
            reference: &form.reference,
            error: Some(error),
            dev_outbox: app.settings.dev_outbox(),
        };
        render(page, status, None)
    };
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(id) = Uuid::parse_str(&form.reference) else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(retry(t.code_format.to_owned(), StatusCode::BAD_REQUEST));
    }
    match redeem_code(&app, id, &code)
        .await
        .map_err(|e| PageError::internal(lang, "/masuk", &e))?
    {
        Redeemed::SignedIn { session } => {
            let mut response = Redirect::to("/akun").into_response();
            set_cookie(
                &mut response,
                &app,
                SESSION_COOKIE,
                &session,
                SESSION_SECONDS,
            );
            Ok(response)
        }
        Redeemed::Wrong { attempts_left } => Ok(retry(
            format!("{} ({} {attempts_left})", t.code_wrong, t.tries_left),
            StatusCode::BAD_REQUEST,
        )),
        Redeemed::Dead => Ok(retry(t.code_dead.to_owned(), StatusCode::BAD_REQUEST)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    identifier: String,
    full_name: String,
    nik_masked: Option<String>,
    name_error: Option<String>,
    nik_error: Option<String>,
    saved: bool,
    has_password: bool,
    password_error: Option<String>,
    /// (id, code, what and when) of the citizen's bookings.
    bookings: Vec<(Uuid, String, String)>,
}

/// Refusals shown next to the account page's fields.
#[derive(Default)]
struct FieldErrors {
    name: Option<String>,
    nik: Option<String>,
    password: Option<String>,
}

/// The account behind this browser's session cookie, if any.
pub(super) async fn signed_in(
    app: &AppState,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Option<accounts::SessionAccount>, PageError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    accounts::session(&app.db, &token_hash(&token), Utc::now())
        .await
        .map_err(|e| PageError::internal(lang, "/akun", &e))
}

pub(super) fn open_text(app: &AppState, context: &str, sealed: Option<&[u8]>) -> Option<String> {
    app.settings
        .keys
        .open(context, sealed?)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

#[derive(Deserialize)]
pub struct AccountQuery {
    tersimpan: Option<String>,
}

/// The signed-in citizen's page; without a session, the sign-in page.
pub async fn account(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    query: Result<Query<AccountQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let saved = query.ok().is_some_and(|Query(q)| q.tersimpan.is_some());
    account_page(
        &app,
        lang,
        &headers,
        session.account_id,
        None,
        FieldErrors::default(),
        saved,
        StatusCode::OK,
    )
    .await
}

#[expect(
    clippy::too_many_arguments,
    reason = "one page, rendered after a GET or after a refused form"
)]
async fn account_page(
    app: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    account_id: Uuid,
    typed_name: Option<&str>,
    errors: FieldErrors,
    saved: bool,
    status: StatusCode,
) -> Result<Response, PageError> {
    let FieldErrors {
        name: name_error,
        nik: nik_error,
        password: password_error,
    } = errors;
    let has_password = accounts::has_password(&app.db, account_id)
        .await
        .map_err(|e| PageError::internal(lang, "/akun", &e))?;
    let profile = accounts::profile(&app.db, account_id)
        .await
        .map_err(|e| PageError::internal(lang, "/akun", &e))?
        .ok_or_else(|| PageError::not_found(lang, "/akun"))?;
    let identifier = match (
        profile.identifier_kind.as_str(),
        open_text(app, "account.identifier", Some(&profile.identifier_sealed)),
    ) {
        ("email", Some(v)) => Identifier::Email(v).masked(),
        (_, Some(v)) => Identifier::Phone(v).masked(),
        (_, None) => "***".into(),
    };
    let full_name = typed_name
        .map(str::to_owned)
        .or_else(|| {
            open_text(
                app,
                "account.full_name",
                profile.full_name_sealed.as_deref(),
            )
        })
        .unwrap_or_default();
    let nik_masked = open_text(app, "account.nik", profile.nik_sealed.as_deref()).map(|nik| {
        format!(
            "{}{}{}",
            &nik[..4.min(nik.len())],
            "*".repeat(10),
            &nik[nik.len().saturating_sub(2)..]
        )
    });
    let catalog = app.catalog.get();
    let bookings = crate::storage::bookings::bookings_of(&app.db, account_id)
        .await
        .map_err(|e| PageError::internal(lang, "/akun", &e))?
        .into_iter()
        .map(|b| {
            let service = catalog
                .service(b.service_id)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            (b.id, b.code, format!("{service}, {}", b.day))
        })
        .collect();
    let (csrf_token, fresh) = csrf(headers)?;
    let page = AccountPage {
        t: lang.texts(),
        lang,
        here: "/akun".into(),
        csrf: &csrf_token,
        identifier,
        full_name,
        nik_masked,
        name_error,
        nik_error,
        saved,
        has_password,
        password_error,
        bookings,
    };
    Ok(render(
        page,
        status,
        fresh.then_some((app, csrf_token.as_str())),
    ))
}

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    nik: String,
}

/// Saves the citizen's name and NIK; a NIK that is not valid is refused with what is wrong.
pub async fn save_profile(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<ProfileForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/akun")?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let t = lang.texts();
    let name = form
        .full_name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let name_error = if name.chars().count() < 2
        || name.chars().count() > 100
        || name.chars().any(char::is_control)
    {
        Some(t.name_invalid.to_owned())
    } else {
        None
    };
    // The most advanced date in Indonesia (WIT), so that no real birth date is "in the future".
    let today = Utc::now()
        .with_timezone(&crate::domain::opening::time_zone("91"))
        .date_naive();
    let catalog = app.catalog.get();
    let registry = |code: &str| catalog.region_name(code).is_some();
    let nik = Nik::parse(&form.nik, today, &registry);
    let nik_error = nik.as_ref().err().map(|e| {
        if lang == Lang::En {
            e.message_en()
        } else {
            e.message_id()
        }
    });
    let typed: String = form.full_name.chars().take(200).collect();
    let (Some(nik), None) = (nik.ok(), &name_error) else {
        return account_page(
            &app,
            lang,
            &headers,
            session.account_id,
            Some(&typed),
            FieldErrors {
                name: name_error,
                nik: nik_error,
                password: None,
            },
            false,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let keys = &app.settings.keys;
    let name_sealed = keys
        .seal("account.full_name", name.as_bytes())
        .map_err(|e| PageError::internal(lang, "/akun", &e))?;
    let nik_sealed = keys
        .seal("account.nik", nik.as_str().as_bytes())
        .map_err(|e| PageError::internal(lang, "/akun", &e))?;
    let nik_hash = keys.lookup_hash("account.nik", nik.as_str());
    match accounts::save_profile(
        &app.db,
        session.account_id,
        &name_sealed,
        &nik_sealed,
        &nik_hash,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to("/akun?tersimpan=1").into_response()),
        Err(accounts::ProfileError::NikTaken) => {
            let message = if lang == Lang::En {
                t.nik_taken_en
            } else {
                t.nik_taken
            };
            account_page(
                &app,
                lang,
                &headers,
                session.account_id,
                Some(&typed),
                FieldErrors {
                    nik: Some(message.to_owned()),
                    ..FieldErrors::default()
                },
                false,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(accounts::ProfileError::Storage(e)) => Err(PageError::internal(lang, "/akun", &e)),
    }
}

/// Everything the platform holds about the signed-in citizen, as a JSON download.
pub async fn export_data(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let profile = accounts::profile(&app.db, session.account_id)
        .await
        .map_err(|e| PageError::internal(lang, "/akun", &e))?
        .ok_or_else(|| PageError::not_found(lang, "/akun"))?;
    let sessions = accounts::session_count(&app.db, session.account_id, Utc::now())
        .await
        .map_err(|e| PageError::internal(lang, "/akun", &e))?;
    let body = serde_json::json!({
        "format": "mpp-personal-data",
        "exported_at": accounts::timestamp(Utc::now()),
        "account": {
            "id": session.account_id,
            "created_at": profile.created_at,
            "sign_in_with": {
                "kind": profile.identifier_kind,
                "value": open_text(&app, "account.identifier", Some(&profile.identifier_sealed)),
            },
            "full_name": open_text(&app, "account.full_name", profile.full_name_sealed.as_deref()),
            "nik": open_text(&app, "account.nik", profile.nik_sealed.as_deref()),
            "active_sessions": sessions,
        },
    });
    let json =
        serde_json::to_string_pretty(&body).map_err(|e| PageError::internal(lang, "/akun", &e))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"data-saya-mpp-digital.json\""),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        json,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// Deletes the signed-in citizen's account after an explicit confirmation.
pub async fn delete_account(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<DeleteForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/akun")?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    if form.confirm.is_none() {
        return Err(PageError::bad_request(
            lang,
            "/akun",
            "Centang konfirmasi untuk menghapus akun.",
            "Tick the confirmation to delete the account.",
        ));
    }
    accounts::delete_account(&app.db, session.account_id)
        .await
        .map_err(|e| PageError::internal(lang, "/akun", &e))?;
    let mut response = Redirect::to("/").into_response();
    set_cookie(&mut response, &app, SESSION_COOKIE, "", 0);
    Ok(response)
}

#[derive(Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    everywhere: Option<String>,
}

/// Ends this session, or every session of the account.
pub async fn sign_out(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<SignOutForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/akun")?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        accounts::end_sessions(&app.db, &token_hash(&token), form.everywhere.is_some())
            .await
            .map_err(|e| PageError::internal(lang, "/akun", &e))?;
    }
    let mut response = Redirect::to("/").into_response();
    set_cookie(&mut response, &app, SESSION_COOKIE, "", 0);
    Ok(response)
}

struct ShownMessage {
    channel: String,
    recipient: String,
    subject: String,
    body: String,
    created_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "outbox.html")]
struct OutboxPage {
    t: &'static Texts,
    lang: Lang,
    here: String,
    messages: Vec<ShownMessage>,
    /// The demo staff accounts' current TOTP code and key.
    demo_totp: Option<(String, String)>,
}

/// Delivered messages, readable in development and demo mode only (a 404 in production).
pub async fn dev_outbox(State(app): State<AppState>, lang: Lang) -> Result<Response, PageError> {
    if !app.settings.dev_outbox() {
        return Err(PageError::not_found(lang, "/dev/outbox"));
    }
    let keys = &app.settings.keys;
    let rows = accounts::delivered_messages(&app.db, 50)
        .await
        .map_err(|e| PageError::internal(lang, "/dev/outbox", &e))?;
    let open = |context: &str, sealed: &[u8]| {
        keys.open(context, sealed)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| "?".into())
    };
    let messages = rows
        .into_iter()
        .map(|m| ShownMessage {
            recipient: open("outbox.recipient", &m.recipient_sealed),
            body: open("outbox.body", &m.body_sealed),
            channel: m.channel,
            subject: m.subject,
            created_at: m.created_at,
        })
        .collect();
    let page = OutboxPage {
        t: lang.texts(),
        lang,
        here: "/dev/outbox".into(),
        messages,
        demo_totp: crate::credentials::totp_code(
            crate::demo::STAFF_TOTP_SECRET,
            Utc::now().timestamp().max(0) as u64,
        )
        .map(|code| (code, crate::demo::staff_totp_text())),
    };
    Ok(render(page, StatusCode::OK, None))
}

// ---------------------------------------------------------------------------------------------
// Passwords for citizens (optional; the one-time code stays the way back in)

#[derive(Deserialize)]
pub struct PasswordSignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
}

/// Signs a citizen in with a password. Wrong address, no password set, wrong password and a
/// locked account all get the same answer.
pub async fn password_sign_in(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<PasswordSignInForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/masuk")?;
    let now = Utc::now();
    let login = match Identifier::parse(&form.identifier) {
        Ok(identifier) => {
            let hash = app
                .settings
                .keys
                .lookup_hash("account.identifier", identifier.as_str());
            accounts::password_login(&app.db, &hash)
                .await
                .map_err(|e| PageError::internal(lang, "/masuk", &e))?
        }
        Err(_) => None,
    };
    let locked = |l: &accounts::PasswordLogin| {
        l.password_locked_until
            .as_deref()
            .is_some_and(|until| until > accounts::timestamp(now).as_str())
    };
    let accepted = match &login {
        Some(l) if !locked(l) => match &l.password_hash {
            Some(hash) if crate::credentials::verify_password(&form.password, hash) => true,
            Some(_) => {
                accounts::password_failure(&app.db, l.id, now, Duration::minutes(15))
                    .await
                    .map_err(|e| PageError::internal(lang, "/masuk", &e))?;
                false
            }
            None => {
                crate::credentials::verify_password(
                    &form.password,
                    crate::credentials::decoy_hash(),
                );
                false
            }
        },
        _ => {
            crate::credentials::verify_password(&form.password, crate::credentials::decoy_hash());
            false
        }
    };
    let Some(login) = login.filter(|_| accepted) else {
        let raw: String = form.identifier.chars().take(200).collect();
        let page = SignInPage {
            t: lang.texts(),
            lang,
            here: "/masuk".into(),
            csrf: &form.csrf,
            identifier: &raw,
            error: None,
            password_error: Some(if lang == Lang::En {
                "Wrong address or password, or password sign-in is locked for a while. You can always sign in with a code."
            } else {
                "Alamat atau kata sandi salah, atau masuk dengan kata sandi dikunci sementara. Anda selalu dapat masuk dengan kode."
            }),
        };
        return Ok(render(page, StatusCode::BAD_REQUEST, None));
    };
    let token = random_token()?;
    accounts::password_session(
        &app.db,
        login.id,
        &token_hash(&token),
        Duration::days(SESSION_DAYS),
        now,
    )
    .await
    .map_err(|e| PageError::internal(lang, "/masuk", &e))?;
    let mut response = Redirect::to("/akun").into_response();
    set_cookie(
        &mut response,
        &app,
        SESSION_COOKIE,
        &token,
        SESSION_DAYS * 24 * 3600,
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct SetPasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

pub async fn set_password(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    form: Result<Form<SetPasswordForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = checked_form(form, &headers, lang, "/akun")?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let identifier =
        open_text(&app, "account.identifier", Some(&session.identifier_sealed)).unwrap_or_default();
    let session_hash = token_hash(&cookie(&headers, SESSION_COOKIE).unwrap_or_default());
    // Re-authentication: the current password when there is one; otherwise a sign-in by code
    // within the last 15 minutes (a stolen old session cannot add a password).
    let current = accounts::password_hash(&app.db, session.account_id)
        .await
        .map_err(|e| PageError::internal(lang, "/akun", &e))?;
    let fresh = accounts::session_started(&app.db, &session_hash)
        .await
        .map_err(|e| PageError::internal(lang, "/akun", &e))?
        .is_some_and(|at| at > accounts::timestamp(Utc::now() - Duration::minutes(15)));
    let reauthenticated = match &current {
        Some(hash) => crate::credentials::verify_password(&form.current_password, hash),
        None => fresh,
    };
    let problem = if !reauthenticated {
        Some(
            if current.is_some() {
                if lang == Lang::En {
                    "The current password is wrong."
                } else {
                    "Kata sandi saat ini salah."
                }
            } else if lang == Lang::En {
                "For your safety, sign in again with a code before adding a password."
            } else {
                "Demi keamanan, masuk lagi dengan kode sebelum menambahkan kata sandi."
            }
            .to_owned(),
        )
    } else if form.password != form.password_again {
        Some(
            if lang == Lang::En {
                "The two passwords differ."
            } else {
                "Kedua kata sandi tidak sama."
            }
            .to_owned(),
        )
    } else {
        crate::credentials::check_new_password(&form.password, &identifier)
            .err()
            .map(|weak| {
                let (id, en) = weak.message();
                if lang == Lang::En { en } else { id }.to_owned()
            })
    };
    if let Some(problem) = problem {
        return account_page(
            &app,
            lang,
            &headers,
            session.account_id,
            None,
            FieldErrors {
                password: Some(problem),
                ..FieldErrors::default()
            },
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let hash = crate::credentials::hash_password(&form.password)
        .map_err(|_| PageError::unavailable(lang, "/akun"))?;
    let keys = &app.settings.keys;
    let body = "Kata sandi akun MPP Digital Anda baru saja dibuat atau diubah, dan sesi lain telah diakhiri. Bila bukan Anda, masuk dengan kode lalu ganti kata sandi.\n\
                The password of your MPP Digital account was just set or changed, and other sessions were ended. If this was not you, sign in with a code and change it.";
    let recipient_sealed = keys
        .seal("outbox.recipient", identifier.as_bytes())
        .map_err(|e| PageError::internal(lang, "/akun", &e))?;
    let body_sealed = keys
        .seal("outbox.body", body.as_bytes())
        .map_err(|e| PageError::internal(lang, "/akun", &e))?;
    let channel = if session.identifier_kind == "email" {
        "email"
    } else {
        "sms"
    };
    accounts::set_password(
        &app.db,
        session.account_id,
        &hash,
        &session_hash,
        NewMessage {
            channel,
            recipient_sealed: &recipient_sealed,
            subject: "Kata sandi MPP Digital diubah / MPP Digital password changed",
            body_sealed: &body_sealed,
        },
    )
    .await
    .map_err(|e| PageError::internal(lang, "/akun", &e))?;
    Ok(Redirect::to("/akun?tersimpan=1").into_response())
}
