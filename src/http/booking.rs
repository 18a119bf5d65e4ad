//! Online booking for citizens: choose a day and a slot of a service, get a code and a QR code,
//! cancel before the cut-off; check in at the kiosk with the code. Staff set each service's rule.

use crate::storage::accounts::parse_timestamp as parse_time;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::account::{
    PlainForm, SESSION_COOKIE, checked_form, cookie, csrf, csrf_forms, render, signed_in,
    token_hash,
};
use super::errors::PageError;
use super::i18n::{Lang, Texts};
use crate::booking_desk::{BookRequest, PriorRead, Refusal, changeable, day_key, local_now};
use crate::domain::opening::time_zone;
use crate::domain::queue::due_time;
use crate::storage::bookings::{self as store, CheckInError};
use crate::storage::queue::NewTicket;

struct SlotView {
    id: Uuid,
    label: String,
    left: i32,
}

#[derive(Template, WebTemplate)]
#[template(path = "book.html")]
struct BookPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    service_id: Uuid,
    service: String,
    tenant: String,
    mpp: String,
    available: bool,
    days: Vec<(String, String, bool)>,
    day: String,
    slots: Vec<SlotView>,
    key: String,
    error: Option<String>,
    /// The booking being moved to another time, if any.
    moving: Option<Uuid>,
}

#[derive(Deserialize)]
pub struct DayQuery {
    hari: Option<String>,
    pindah: Option<String>,
}

/// The page to choose a day and a time (to book, or to move the booking `moving`).
#[allow(clippy::too_many_arguments)]
async fn book_page(
    app: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    service_id: &str,
    day: Option<String>,
    moving: Option<Uuid>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let here = format!("/layanan/{service_id}/pesan");
    let catalog = app.catalog.get();
    let service = Uuid::parse_str(service_id)
        .ok()
        .and_then(|id| catalog.service(id))
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let mpp = &catalog.mpps[service.mpp];
    let desk = &app.booking;
    let rule = desk
        .rule(&app.db, service.id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let now = app.settings.clock.now();
    let (days, chosen, slots) = match &rule {
        Some(rule) => {
            let days = desk.open_days(&catalog, service, rule, now);
            let chosen = day
                .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
                .filter(|d| days.contains(d))
                .or_else(|| days.first().copied());
            let slots = match chosen {
                Some(day) => desk
                    .open_slots(&app.db, &catalog, service, rule, day, now)
                    .await
                    .map_err(|e| PageError::internal(lang, &here, &e))?
                    .into_iter()
                    .map(|s| SlotView {
                        id: s.id,
                        label: format!("{}–{}", s.starts.format("%H:%M"), s.ends.format("%H:%M")),
                        left: s.left,
                    })
                    .collect(),
                None => Vec::new(),
            };
            (days, chosen, slots)
        }
        None => (Vec::new(), None, Vec::new()),
    };
    let (token, fresh) = csrf(headers)?;
    let chosen_text = chosen.map(day_key).unwrap_or_default();
    let page = BookPage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        service_id: service.id,
        service: service.name.clone(),
        tenant: catalog.tenants[service.tenant].name.clone(),
        mpp: mpp.name.clone(),
        available: rule.is_some(),
        days: days
            .iter()
            .map(|d| {
                let key = day_key(*d);
                let chosen = key == chosen_text;
                (key, d.format("%d-%m").to_string(), chosen)
            })
            .collect(),
        day: chosen_text,
        slots,
        key: crate::credentials::random_token().map_err(|_| PageError::unavailable(lang, "/"))?,
        error,
        moving,
    };
    Ok(render(page, status, fresh.then_some((app, token.as_str()))))
}

pub async fn book_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<DayQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let (day, moving) = match query {
        Ok(Query(q)) => (q.hari, q.pindah.and_then(|m| Uuid::parse_str(&m).ok())),
        Err(_) => (None, None),
    };
    // Only one's own booking, still active, can be moved.
    let moving = match moving {
        Some(m) => app
            .booking
            .own(&app.db, m, session.account_id)
            .await
            .ok()
            .filter(|b| b.state == "booked")
            .map(|b| b.id),
        None => None,
    };
    book_page(&app, lang, &headers, &id, day, moving, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct BookForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    slot: String,
    #[serde(default)]
    key: String,
}

csrf_forms!(BookForm);

/// The day of the slot a refused form chose, to show that day again.
async fn chosen_day(app: &AppState, slot: &str) -> Option<String> {
    let slot = Uuid::parse_str(slot.trim()).ok()?;
    app.booking
        .slot(&app.db, slot)
        .await
        .ok()
        .flatten()
        .map(|s| s.day)
}

/// The status and day to show again with a refusal.
fn refusal_status(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::Full | Refusal::AlreadyBooked(_) | Refusal::NotActive | Refusal::CutoffPassed => {
            StatusCode::CONFLICT
        }
        Refusal::NoBooking => StatusCode::NOT_FOUND,
        Refusal::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Refusal::NotBookable | Refusal::NoSuchSlot | Refusal::NotOpen => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }
}

pub async fn book(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<BookForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/layanan/{id}/pesan");
    let form = checked_form(form, &headers, lang, &here)?;
    let key: String = form.key.chars().take(64).collect();
    // The session and a booking already made with this form's key, in one read.
    let began = std::time::Instant::now();
    let found = match cookie(&headers, SESSION_COOKIE) {
        Some(token) => store::session_with_key(&app.db, &token_hash(&token), Utc::now(), &key)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?,
        None => None,
    };
    let Some((session, existing)) = found else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let catalog = app.catalog.get();
    let service = Uuid::parse_str(&id)
        .ok()
        .and_then(|id| catalog.service(id))
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let result = match Uuid::parse_str(form.slot.trim()) {
        Ok(slot) => {
            app.booking
                .book(
                    &app.db,
                    &catalog,
                    service,
                    BookRequest {
                        slot_id: slot,
                        account_id: session.account_id,
                        key: &key,
                        prior: Some(PriorRead {
                            began,
                            booking: existing,
                        }),
                    },
                    app.settings.clock.now(),
                )
                .await
        }
        Err(_) => Err(Refusal::NoSuchSlot),
    };
    match result {
        Ok(b) => Ok(Redirect::to(&format!("/akun/pesanan/{}", b.id)).into_response()),
        Err(Refusal::Storage(e)) => Err(PageError::internal(lang, &here, &e)),
        Err(refusal) => {
            let (_, id_text, en) = refusal.words();
            let day = chosen_day(&app, &form.slot).await;
            book_page(
                &app,
                lang,
                &headers,
                &id,
                day,
                None,
                Some(lang.pick(id_text, en).to_owned()),
                refusal_status(&refusal),
            )
            .await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "booking.html")]
struct BookingPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    id: Uuid,
    service_id: Uuid,
    code: String,
    service: String,
    tenant: String,
    mpp: String,
    when: String,
    state: String,
    qr: String,
    changeable: bool,
    ticket: Option<Uuid>,
    moved: bool,
}

#[derive(Deserialize)]
pub struct BookingQuery {
    dipindah: Option<String>,
}

/// What a booking's state means to its holder.
pub fn state_words(state: &str, lang: Lang) -> &'static str {
    match state {
        "booked" => lang.pick("Dipesan", "Booked"),
        "checked_in" => lang.pick("Sudah lapor di kios", "Checked in"),
        "cancelled" => lang.pick("Dibatalkan", "Cancelled"),
        _ => lang.pick("Tidak datang", "Missed"),
    }
}

pub async fn booking(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<BookingQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let here = format!("/akun/pesanan/{id}");
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let b = match Uuid::parse_str(&id) {
        Ok(b) => app.booking.own(&app.db, b, session.account_id).await,
        Err(_) => Err(Refusal::NoBooking),
    };
    let b = match b {
        Ok(b) => b,
        Err(Refusal::Storage(e)) => return Err(PageError::internal(lang, &here, &e)),
        Err(_) => return Err(PageError::not_found(lang, &here)),
    };
    let slot = app
        .booking
        .slot(&app.db, b.slot_id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let rule = app
        .booking
        .rule(&app.db, b.service_id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let catalog = app.catalog.get();
    let service = catalog.service(b.service_id);
    let mpp = service.map(|s| &catalog.mpps[s.mpp]);
    let zone = mpp.map_or_else(|| time_zone("31"), |m| time_zone(&m.province_code));
    let starts = parse_time(&slot.starts_at);
    let now = app.settings.clock.now();
    let (token, fresh) = csrf(&headers)?;
    let page = BookingPage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        id: b.id,
        service_id: b.service_id,
        qr: crate::credentials::qr_svg_data_url(&b.code).unwrap_or_default(),
        code: b.code.clone(),
        service: service.map(|s| s.name.clone()).unwrap_or_default(),
        tenant: service
            .map(|s| catalog.tenants[s.tenant].name.clone())
            .unwrap_or_default(),
        mpp: mpp.map(|m| m.name.clone()).unwrap_or_default(),
        when: format!(
            "{}–{}",
            starts.with_timezone(&zone).format("%d-%m-%Y %H:%M"),
            parse_time(&slot.ends_at)
                .with_timezone(&zone)
                .format("%H:%M")
        ),
        state: state_words(&b.state, lang).to_owned(),
        changeable: b.state == "booked" && changeable(rule.as_ref(), starts, now),
        ticket: b.ticket_id,
        moved: query.is_ok_and(|Query(q)| q.dipindah.is_some()),
    };
    Ok(render(
        page,
        StatusCode::OK,
        fresh.then_some((&app, token.as_str())),
    ))
}

/// A refusal to change a booking, as a page.
fn change_refused(lang: Lang, here: &str, refusal: Refusal) -> PageError {
    match refusal {
        Refusal::Storage(e) => PageError::internal(lang, here, &e),
        Refusal::NoBooking => PageError::not_found(lang, here),
        other => {
            let (_, id, en) = other.words();
            PageError::status(lang, refusal_status(&other), id, en)
        }
    }
}

pub async fn cancel(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<PlainForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/akun/pesanan/{id}");
    checked_form(form, &headers, lang, &here)?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let id = Uuid::parse_str(&id).map_err(|_| PageError::not_found(lang, &here))?;
    app.booking
        .cancel(&app.db, id, session.account_id, app.settings.clock.now())
        .await
        .map_err(|r| change_refused(lang, &here, r))?;
    Ok(Redirect::to(&here).into_response())
}

/// Moves one's booking to the slot chosen on the booking page opened with `?pindah=`.
pub async fn reschedule(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<BookForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/akun/pesanan/{id}");
    let form = checked_form(form, &headers, lang, &here)?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let id = Uuid::parse_str(&id).map_err(|_| PageError::not_found(lang, &here))?;
    let catalog = app.catalog.get();
    let result = match Uuid::parse_str(form.slot.trim()) {
        Ok(slot) => {
            app.booking
                .reschedule(
                    &app.db,
                    &catalog,
                    id,
                    session.account_id,
                    slot,
                    app.settings.clock.now(),
                )
                .await
        }
        Err(_) => Err(Refusal::NoSuchSlot),
    };
    match result {
        Ok(b) => Ok(Redirect::to(&format!("/akun/pesanan/{}?dipindah=1", b.id)).into_response()),
        Err(
            refusal @ (Refusal::Full
            | Refusal::NoSuchSlot
            | Refusal::NotOpen
            | Refusal::AlreadyBooked(_)),
        ) => {
            let (_, id_text, en) = refusal.words();
            let booking = app.booking.own(&app.db, id, session.account_id).await;
            let Ok(booking) = booking else {
                return Err(PageError::not_found(lang, &here));
            };
            let day = chosen_day(&app, &form.slot).await;
            book_page(
                &app,
                lang,
                &headers,
                &booking.service_id.to_string(),
                day,
                Some(id),
                Some(lang.pick(id_text, en).to_owned()),
                refusal_status(&refusal),
            )
            .await
        }
        Err(refusal) => Err(change_refused(lang, &here, refusal)),
    }
}

#[derive(Deserialize)]
pub struct CheckInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

csrf_forms!(CheckInForm);

/// The kiosk's check-in: the booking code (typed, or read by the kiosk's QR scanner) becomes a
/// ticket due at the slot's start (or at arrival, when late beyond the grace time).
pub async fn check_in(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(slug): Path<String>,
    form: Result<Form<CheckInForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/kiosk/{slug}");
    let form = checked_form(form, &headers, lang, &here)?;
    let catalog = app.catalog.get();
    let mpp = catalog
        .mpp(&slug)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let code: String = form
        .code
        .trim()
        .to_uppercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(16)
        .collect();
    let now = app.settings.clock.now();
    let today = local_now(mpp, now).date().format("%Y-%m-%d").to_string();
    let mpp_id = mpp.id;
    let result = store::check_in(
        &app.db,
        &code,
        &today,
        |b, slot| {
            let tenant = catalog
                .service(b.service_id)
                .map(|s| catalog.tenants[s.tenant].id)
                .unwrap_or_default();
            NewTicket {
                mpp_id,
                tenant_id: tenant,
                service_id: b.service_id,
                day: b.day.clone(),
                priority: false,
                kind: "booking",
                due_at: due_time(now, Some(parse_time(&slot.starts_at))),
            }
        },
        now,
    )
    .await;
    match result {
        Ok(ticket) if ticket.mpp_id == mpp_id => {
            Ok(Redirect::to(&format!("/antrean/{}?cetak=1", ticket.id)).into_response())
        }
        Ok(_) | Err(CheckInError::Unknown) => Err(PageError::status(
            lang,
            StatusCode::NOT_FOUND,
            "Kode pemesanan tidak dikenal di MPP ini. Periksa kodenya.",
            "Unknown booking code at this MPP. Check the code.",
        )),
        Err(CheckInError::OtherDay) => Err(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Pemesanan ini untuk hari lain.",
            "This booking is for another day.",
        )),
        Err(CheckInError::Late) => Err(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Jadwal pesanan ini sudah lewat lebih dari 15 menit. Silakan ambil nomor antrean biasa.",
            "This booking's time passed more than 15 minutes ago. Please take a walk-in ticket.",
        )),
        Err(CheckInError::NotActive) => Err(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Pemesanan ini sudah dibatalkan atau terlewat.",
            "This booking was cancelled or missed.",
        )),
        Err(CheckInError::Storage(e)) => Err(PageError::internal(lang, &here, &e)),
    }
}
