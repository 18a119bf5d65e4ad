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
use chrono::{DateTime, Days, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::account::{PlainForm, checked_form, csrf, csrf_forms, render, signed_in};
use super::errors::PageError;
use super::i18n::{Lang, Texts};
use crate::catalog::{Catalog, Mpp, Service};
use crate::domain::booking::{bookable, booking_code, slots_of_day};
use crate::domain::opening::time_zone;
use crate::domain::queue::due_time;
use crate::storage::bookings::{
    self as store, BookError, BookingRule, CheckInError, NewBooking, NewSlot,
};
use crate::storage::queue::NewTicket;

fn local_now(mpp: &Mpp, now: DateTime<Utc>) -> chrono::NaiveDateTime {
    now.with_timezone(&time_zone(&mpp.province_code))
        .naive_local()
}

fn to_utc(mpp: &Mpp, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    time_zone(&mpp.province_code)
        .from_local_datetime(&day.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn release_time(rule: &BookingRule) -> NaiveTime {
    NaiveTime::parse_from_str(&rule.release_time, "%H:%M").unwrap_or(NaiveTime::MIN)
}

/// The days of the booking window that are released and working days for the service's tenant.
fn open_days(
    catalog: &Catalog,
    mpp: &Mpp,
    service: &Service,
    rule: &BookingRule,
    now: DateTime<Utc>,
) -> Vec<NaiveDate> {
    let local = local_now(mpp, now);
    let tenant = &catalog.tenants[service.tenant];
    let calendar = catalog.calendar(mpp, local.date(), tenant.observes_cuti_bersama);
    (0..=u64::try_from(rule.days_ahead).unwrap_or(0))
        .filter_map(|d| local.date().checked_add_days(Days::new(d)))
        .filter(|day| !calendar.is_day_off(*day))
        .filter(|day| {
            crate::domain::booking::release_of(
                *day,
                u32::try_from(rule.days_ahead).unwrap_or(0),
                release_time(rule),
            ) <= local
        })
        .filter(|day| {
            !slots_of_day(
                &mpp.hours,
                *day,
                u32::try_from(rule.slot_minutes).unwrap_or(30),
            )
            .is_empty()
        })
        .collect()
}

/// Makes the slots of `day` if they do not exist yet.
async fn ensure_day(
    app: &AppState,
    mpp: &Mpp,
    service: &Service,
    rule: &BookingRule,
    day: NaiveDate,
) -> Result<(), crate::storage::StorageError> {
    let key = day.format("%Y-%m-%d").to_string();
    if !store::slots(&app.db, service.id, &key).await?.is_empty() {
        return Ok(());
    }
    let slots: Vec<NewSlot> = slots_of_day(
        &mpp.hours,
        day,
        u32::try_from(rule.slot_minutes).unwrap_or(30),
    )
    .into_iter()
    .map(|s| NewSlot {
        day: key.clone(),
        starts_at: to_utc(mpp, day, s.starts),
        ends_at: to_utc(mpp, day, s.ends),
    })
    .collect();
    store::ensure_slots(&app.db, service.id, rule.quota_per_slot, &slots).await
}

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
}

#[derive(Deserialize)]
pub struct DayQuery {
    hari: Option<String>,
}

async fn book_page(
    app: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    service_id: &str,
    day: Option<String>,
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
    let rule = store::rule(&app.db, service.id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let now = app.settings.clock.now();
    let (days, chosen, slots) = match &rule {
        Some(rule) => {
            let days = open_days(&catalog, mpp, service, rule, now);
            let chosen = day
                .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
                .filter(|d| days.contains(d))
                .or_else(|| days.first().copied());
            let slots = match chosen {
                Some(day) => {
                    ensure_day(app, mpp, service, rule, day)
                        .await
                        .map_err(|e| PageError::internal(lang, &here, &e))?;
                    let local = local_now(mpp, now);
                    store::slots(&app.db, service.id, &day.format("%Y-%m-%d").to_string())
                        .await
                        .map_err(|e| PageError::internal(lang, &here, &e))?
                        .into_iter()
                        .filter(|s| {
                            let starts = parse_time(&s.starts_at)
                                .with_timezone(&time_zone(&mpp.province_code))
                                .naive_local();
                            bookable(
                                day,
                                starts.time(),
                                local,
                                u32::try_from(rule.days_ahead).unwrap_or(0),
                                release_time(rule),
                            )
                        })
                        .map(|s| {
                            let zone = time_zone(&mpp.province_code);
                            let a = parse_time(&s.starts_at)
                                .with_timezone(&zone)
                                .format("%H:%M");
                            let b = parse_time(&s.ends_at).with_timezone(&zone).format("%H:%M");
                            SlotView {
                                id: s.id,
                                label: format!("{a}–{b}"),
                                left: (s.quota - s.booked).max(0),
                            }
                        })
                        .collect()
                }
                None => Vec::new(),
            };
            (days, chosen, slots)
        }
        None => (Vec::new(), None, Vec::new()),
    };
    let (token, fresh) = csrf(headers)?;
    let chosen_text = chosen
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
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
                let key = d.format("%Y-%m-%d").to_string();
                (
                    key.clone(),
                    d.format("%d-%m").to_string(),
                    key == chosen_text,
                )
            })
            .collect(),
        day: chosen_text,
        slots,
        key: crate::credentials::random_token().map_err(|_| PageError::unavailable(lang, "/"))?,
        error,
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
    if signed_in(&app, &headers, lang).await?.is_none() {
        return Ok(Redirect::to("/masuk").into_response());
    }
    book_page(
        &app,
        lang,
        &headers,
        &id,
        query.ok().and_then(|Query(q)| q.hari),
        None,
        StatusCode::OK,
    )
    .await
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

pub async fn book(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<BookForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/layanan/{id}/pesan");
    let form = checked_form(form, &headers, lang, &here)?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let catalog = app.catalog.get();
    let service = Uuid::parse_str(&id)
        .ok()
        .and_then(|id| catalog.service(id))
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let mpp = &catalog.mpps[service.mpp];
    let refuse = |id_text: &str, en: &str, day: Option<String>| {
        let message = lang.pick(id_text, en).to_owned();
        (message, day)
    };
    let rule = store::rule(&app.db, service.id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let slot = match Uuid::parse_str(&form.slot) {
        Ok(id) => store::slot(&app.db, id)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?,
        Err(_) => None,
    };
    let now = app.settings.clock.now();
    let problem = match (&rule, &slot) {
        (None, _) => Some(refuse(
            "Layanan ini belum dapat dipesan secara daring.",
            "This service cannot be booked online yet.",
            None,
        )),
        (_, None) => Some(refuse("Pilih salah satu jam.", "Choose a time.", None)),
        (Some(_), Some(s)) if s.service_id != service.id => {
            Some(refuse("Pilih salah satu jam.", "Choose a time.", None))
        }
        (Some(rule), Some(s)) => {
            let zone = time_zone(&mpp.province_code);
            let starts = parse_time(&s.starts_at).with_timezone(&zone).naive_local();
            (!bookable(
                starts.date(),
                starts.time(),
                local_now(mpp, now),
                u32::try_from(rule.days_ahead).unwrap_or(0),
                release_time(rule),
            ))
            .then(|| {
                refuse(
                    "Jam itu sudah lewat atau belum dibuka untuk pemesanan.",
                    "That time has passed or is not open for booking yet.",
                    Some(s.day.clone()),
                )
            })
        }
    };
    if let Some((message, day)) = problem {
        return book_page(
            &app,
            lang,
            &headers,
            &id,
            day,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let Some(slot) = slot else {
        return Err(PageError::not_found(lang, &here));
    };
    let mut random = [0u8; 5];
    getrandom::fill(&mut random).map_err(|_| PageError::unavailable(lang, &here))?;
    let code = booking_code(random);
    let key: String = form.key.chars().take(64).collect();
    match store::book(
        &app.db,
        NewBooking {
            slot_id: slot.id,
            account_id: session.account_id,
            code: &code,
            idempotency_key: &key,
        },
        now,
    )
    .await
    {
        Ok(b) => Ok(Redirect::to(&format!("/akun/pesanan/{}", b.id)).into_response()),
        Err(BookError::Full) => {
            book_page(
                &app,
                lang,
                &headers,
                &id,
                Some(slot.day),
                Some(
                    lang.pick(
                        "Jam itu baru saja penuh. Pilih jam lain.",
                        "That time just filled up. Choose another.",
                    )
                    .to_owned(),
                ),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(BookError::AlreadyBooked(existing)) => {
            let _ = existing;
            book_page(
                &app,
                lang,
                &headers,
                &id,
                Some(slot.day),
                Some(lang.pick("Anda sudah memesan layanan ini pada hari itu. Batalkan pesanan itu dulu untuk memilih jam lain.", "You already booked this service on that day. Cancel that booking first to choose another time.").to_owned()),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(BookError::NoSlot) => Err(PageError::not_found(lang, &here)),
        Err(BookError::Storage(e)) => Err(PageError::internal(lang, &here, &e)),
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
    code: String,
    service: String,
    tenant: String,
    mpp: String,
    when: String,
    state: String,
    qr: String,
    cancellable: bool,
    ticket: Option<Uuid>,
}

pub async fn booking(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let here = format!("/akun/pesanan/{id}");
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let b = Uuid::parse_str(&id).ok();
    let b = match b {
        Some(b) => store::booking(&app.db, b)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?,
        None => None,
    };
    // Someone else's booking is not found, not forbidden: its existence is not revealed.
    let b = b
        .filter(|b| b.account_id == session.account_id)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let slot = store::slot(&app.db, b.slot_id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let rule = store::rule(&app.db, b.service_id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let catalog = app.catalog.get();
    let service = catalog.service(b.service_id);
    let mpp = service.map(|s| &catalog.mpps[s.mpp]);
    let zone = mpp.map_or_else(|| time_zone("31"), |m| time_zone(&m.province_code));
    let starts = parse_time(&slot.starts_at);
    let cutoff = Duration::minutes(i64::from(rule.map_or(60, |r| r.cancel_cutoff_minutes)));
    let now = app.settings.clock.now();
    let (token, fresh) = csrf(&headers)?;
    let page = BookingPage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        id: b.id,
        qr: crate::credentials::qr_svg_data_url(&b.code).unwrap_or_default(),
        code: b.code.clone(),
        service: service.map(|s| s.name.clone()).unwrap_or_default(),
        tenant: service
            .map(|s| catalog.tenants[s.tenant].name.clone())
            .unwrap_or_default(),
        mpp: mpp.map(|m| m.name.clone()).unwrap_or_default(),
        when: format!(
            "{} {}–{}",
            starts.with_timezone(&zone).format("%d-%m-%Y %H:%M"),
            "",
            parse_time(&slot.ends_at)
                .with_timezone(&zone)
                .format("%H:%M")
        )
        .replace(" –", "–"),
        state: match b.state.as_str() {
            "booked" => lang.pick("Dipesan", "Booked"),
            "checked_in" => lang.pick("Sudah lapor di kios", "Checked in"),
            "cancelled" => lang.pick("Dibatalkan", "Cancelled"),
            _ => lang.pick("Tidak datang", "Missed"),
        }
        .to_owned(),
        cancellable: b.state == "booked" && now + cutoff < starts,
        ticket: b.ticket_id,
    };
    Ok(render(
        page,
        StatusCode::OK,
        fresh.then_some((&app, token.as_str())),
    ))
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
    let b = store::booking(&app.db, id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
        .filter(|b| b.account_id == session.account_id)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let slot = store::slot(&app.db, b.slot_id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let cutoff = store::rule(&app.db, b.service_id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
        .map_or(60, |r| r.cancel_cutoff_minutes);
    if app.settings.clock.now() + Duration::minutes(i64::from(cutoff))
        >= parse_time(&slot.starts_at)
    {
        return Err(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Batas waktu pembatalan sudah lewat.",
            "The time to cancel has passed.",
        ));
    }
    if !store::cancel(&app.db, id, session.account_id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
    {
        return Err(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Pesanan ini tidak dapat dibatalkan lagi.",
            "This booking can no longer be cancelled.",
        ));
    }
    Ok(Redirect::to(&here).into_response())
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
        Err(CheckInError::NotActive) => Err(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Pemesanan ini sudah dibatalkan atau terlewat.",
            "This booking was cancelled or missed.",
        )),
        Err(CheckInError::Storage(e)) => Err(PageError::internal(lang, &here, &e)),
    }
}
