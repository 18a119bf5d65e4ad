//! The queue's pages: the kiosk at the door (walk-in tickets), the citizen's ticket page, the
//! officer's counter console, and the hall's display board with its live feed (Server-Sent
//! Events). The rules live in `domain::queue`; the writes in `storage::queue`.

use std::convert::Infallible;
use std::time::Duration as StdDuration;

use crate::storage::accounts::parse_timestamp as parse_time;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::account::{PairsForm, PlainForm, checked_form, csrf, csrf_forms, render};
use super::errors::PageError;
use super::i18n::{Lang, Texts};
use super::staff::{Staff, current_staff};
use crate::catalog::{Catalog, Mpp};
use crate::domain::opening::{OpenState, state_at, time_zone};
use crate::domain::queue::{Candidate, TicketAction, TicketState, call_sequence, due_time};
use crate::domain::roles::Action;
use crate::storage::queue::{self as store, NewTicket, QueueError, TicketRow, Transfer};

/// New tickets stop this long before closing (the daily cut-off); waiting ones stay.
const CUT_OFF_MINUTES: i64 = 30;

/// The MPP's local date of an instant.
fn local_day(mpp: &Mpp, at: DateTime<Utc>) -> String {
    at.with_timezone(&time_zone(&mpp.province_code))
        .format("%Y-%m-%d")
        .to_string()
}

/// Whether a tenant takes new tickets at `now`, or why not (Indonesian, English).
fn taking_tickets(
    catalog: &Catalog,
    mpp: &Mpp,
    observes_cuti_bersama: bool,
    now: DateTime<Utc>,
) -> Result<(), (&'static str, &'static str)> {
    let local = now
        .with_timezone(&time_zone(&mpp.province_code))
        .naive_local();
    let calendar = catalog.calendar(mpp, local.date(), observes_cuti_bersama);
    match state_at(&mpp.hours, &calendar, local) {
        OpenState::Open { closes }
            if local.time() + Duration::minutes(CUT_OFF_MINUTES) < closes =>
        {
            Ok(())
        }
        OpenState::Open { .. } => Err((
            "Pengambilan nomor antrean hari ini sudah ditutup (30 menit sebelum layanan tutup). Yang sudah mengantre tetap dilayani.",
            "Tickets for today have closed (30 minutes before closing). Everyone already waiting will be served.",
        )),
        OpenState::Closed { .. } => Err((
            "MPP sedang tutup; nomor antrean tidak dapat diambil sekarang.",
            "The MPP is closed; no tickets can be taken now.",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Kiosk

struct KioskService {
    id: Uuid,
    name: String,
}

struct KioskTenant {
    name: String,
    services: Vec<KioskService>,
}

#[derive(Template, WebTemplate)]
#[template(path = "kiosk.html")]
struct KioskPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    mpp_name: String,
    mpp_slug: String,
    closed: Option<&'static str>,
    tenants: Vec<KioskTenant>,
}

pub async fn kiosk(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let catalog = app.catalog.get();
    let here = format!("/kiosk/{slug}");
    let mpp = catalog
        .mpp(&slug)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let now = app.settings.clock.now();
    let closed = taking_tickets(&catalog, mpp, true, now)
        .err()
        .map(|(id, en)| lang.pick(id, en));
    let counters = store::counters_of_mpp(&app.db, mpp.id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    // Only UPPs with a counter take tickets here.
    let tenants = mpp
        .tenants
        .iter()
        .map(|&t| &catalog.tenants[t])
        .filter(|t| counters.iter().any(|c| c.tenant_id == t.id))
        .map(|t| KioskTenant {
            name: t.name.clone(),
            services: t
                .services
                .iter()
                .map(|&s| KioskService {
                    id: catalog.services[s].id,
                    name: catalog.services[s].name.clone(),
                })
                .collect(),
        })
        .collect();
    let (token, fresh) = csrf(&headers)?;
    let page = KioskPage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        mpp_name: mpp.name.clone(),
        mpp_slug: mpp.slug.clone(),
        closed,
        tenants,
    };
    Ok(render(
        page,
        StatusCode::OK,
        fresh.then_some((&app, token.as_str())),
    ))
}

#[derive(Deserialize)]
pub struct KioskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    priority: Option<String>,
}

csrf_forms!(KioskForm);

pub async fn take_ticket(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(slug): Path<String>,
    form: Result<Form<KioskForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/kiosk/{slug}");
    let form = checked_form(form, &headers, lang, &here)?;
    let catalog = app.catalog.get();
    let mpp = catalog
        .mpp(&slug)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let service = Uuid::parse_str(&form.service)
        .ok()
        .and_then(|id| catalog.service(id))
        .filter(|s| {
            s.mpp
                == catalog
                    .mpps
                    .iter()
                    .position(|m| m.id == mpp.id)
                    .unwrap_or(usize::MAX)
        })
        .ok_or_else(|| {
            PageError::bad_request(
                lang,
                &here,
                "Pilih layanan dari daftar.",
                "Choose a service from the list.",
            )
        })?;
    let tenant = &catalog.tenants[service.tenant];
    let now = app.settings.clock.now();
    if let Err((id, en)) = taking_tickets(&catalog, mpp, tenant.observes_cuti_bersama, now) {
        return Err(PageError::status(lang, StatusCode::CONFLICT, id, en));
    }
    let ticket = store::issue_ticket(
        &app.db,
        NewTicket {
            mpp_id: mpp.id,
            tenant_id: tenant.id,
            service_id: service.id,
            day: local_day(mpp, now),
            priority: form.priority.is_some(),
            kind: "walk_in",
            due_at: due_time(now, None),
        },
        now,
    )
    .await
    .map_err(|e| PageError::internal(lang, &here, &e))?;
    Ok(Redirect::to(&format!("/antrean/{}?cetak=1", ticket.id)).into_response())
}

// ---------------------------------------------------------------------------------------------
// The citizen's ticket page

#[derive(Template, WebTemplate)]
#[template(path = "ticket.html")]
struct TicketPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    id: Uuid,
    code: String,
    service: String,
    tenant: String,
    mpp: String,
    state: String,
    /// People to be called before this ticket (while waiting).
    ahead: Option<usize>,
    /// Estimated minutes until the call.
    wait_minutes: Option<i64>,
    counter: Option<String>,
    live: bool,
    print: bool,
    qr: String,
    issued: String,
    cancellable: bool,
}

fn state_words(state: TicketState, lang: Lang) -> &'static str {
    match state {
        TicketState::Waiting => lang.pick("Menunggu dipanggil", "Waiting to be called"),
        TicketState::Called => lang.pick(
            "Dipanggil — silakan ke loket",
            "Called — please go to the counter",
        ),
        TicketState::Serving => lang.pick("Sedang dilayani", "Being served"),
        TicketState::Done => lang.pick("Selesai", "Done"),
        TicketState::NoShow => lang.pick("Tidak hadir saat dipanggil", "Not present when called"),
        TicketState::Cancelled => lang.pick("Dibatalkan", "Cancelled"),
    }
}

/// Where a ticket stands: people ahead and the estimated wait while waiting, the counter when
/// called or served. Shared by the ticket page and the API.
pub(super) struct Progress {
    pub ahead: Option<usize>,
    pub wait_minutes: Option<i64>,
    pub counter: Option<String>,
    pub counter_number: Option<i32>,
}

pub(super) async fn progress(
    app: &AppState,
    ticket: &TicketRow,
    state: TicketState,
    now: DateTime<Utc>,
) -> Result<Progress, crate::storage::StorageError> {
    let (ahead, wait_minutes) = if state == TicketState::Waiting {
        let waiting = store::waiting(&app.db, ticket.tenant_id, &ticket.day).await?;
        let turn = store::turn(&app.db, ticket.tenant_id, &ticket.day).await?;
        let keys: Vec<Candidate> = waiting.iter().map(candidate).collect();
        let ahead = call_sequence(&keys, now, turn)
            .iter()
            .position(|&i| waiting[i].id == ticket.id)
            .unwrap_or(waiting.len());
        let times = store::recent_service_seconds(&app.db, ticket.tenant_id, 20).await?;
        let counters = store::open_counters(&app.db, ticket.tenant_id)
            .await?
            .max(1);
        // From recent service times when there are some; otherwise no estimate is shown.
        let estimate = (!times.is_empty()).then(|| {
            let mean = times.iter().sum::<i64>() / times.len() as i64;
            (mean * (ahead as i64 + 1) / counters + 59) / 60
        });
        (Some(ahead), estimate)
    } else {
        (None, None)
    };
    let counter = match ticket.counter_id {
        Some(c) if matches!(state, TicketState::Called | TicketState::Serving) => {
            store::counter(&app.db, c).await?
        }
        _ => None,
    };
    Ok(Progress {
        ahead,
        wait_minutes,
        counter_number: counter.as_ref().map(|c| c.number),
        counter: counter.map(|c| c.name),
    })
}

fn candidate(t: &TicketRow) -> Candidate {
    Candidate {
        due_at: parse_time(&t.due_at),
        priority: t.priority,
        number: t.number,
    }
}

#[derive(Deserialize)]
pub struct TicketQuery {
    cetak: Option<String>,
}

pub async fn ticket(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<TicketQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let here = format!("/antrean/{id}");
    let id = Uuid::parse_str(&id).map_err(|_| PageError::not_found(lang, &here))?;
    let ticket = store::ticket(&app.db, id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let catalog = app.catalog.get();
    let service = catalog.service(ticket.service_id);
    let mpp = catalog.mpp_by_id(ticket.mpp_id);
    let state = TicketState::parse(&ticket.state).unwrap_or(TicketState::Waiting);
    let Progress {
        ahead,
        wait_minutes,
        counter,
        ..
    } = progress(&app, &ticket, state, app.settings.clock.now())
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let (token, fresh) = csrf(&headers)?;
    let url = format!("{}/antrean/{}", app.settings.public_url, ticket.id);
    let page = TicketPage {
        t: lang.texts(),
        lang,
        here: here.clone(),
        csrf: &token,
        id: ticket.id,
        code: ticket.code.clone(),
        service: service.map(|s| s.name.clone()).unwrap_or_default(),
        tenant: service
            .map(|s| catalog.tenants[s.tenant].name.clone())
            .unwrap_or_default(),
        mpp: mpp.map(|m| m.name.clone()).unwrap_or_default(),
        state: state_words(state, lang).to_owned(),
        ahead,
        wait_minutes,
        counter,
        live: !state.is_final(),
        print: query.ok().is_some_and(|q| q.cetak.is_some()),
        qr: crate::credentials::qr_svg_data_url(&url).unwrap_or_default(),
        issued: mpp
            .map(|m| {
                parse_time(&ticket.issued_at)
                    .with_timezone(&time_zone(&m.province_code))
                    .format("%d-%m-%Y %H:%M")
                    .to_string()
            })
            .unwrap_or_default(),
        cancellable: state == TicketState::Waiting,
    };
    Ok(render(
        page,
        StatusCode::OK,
        fresh.then_some((&app, token.as_str())),
    ))
}

/// The holder of a ticket cancels it (the ticket's address is its proof).
pub async fn cancel_ticket(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<PlainForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/antrean/{id}");
    checked_form(form, &headers, lang, &here)?;
    let id = Uuid::parse_str(&id).map_err(|_| PageError::not_found(lang, &here))?;
    match store::act(
        &app.db,
        id,
        TicketAction::Cancel,
        None,
        None,
        "citizen",
        "queue",
        app.settings.clock.now(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&here).into_response()),
        Err(QueueError::NoTicket) => Err(PageError::not_found(lang, &here)),
        Err(QueueError::Illegal(e)) => {
            let (id, en) = e.message();
            Err(PageError::status(lang, StatusCode::CONFLICT, &id, &en))
        }
        Err(e) => Err(PageError::internal(lang, &here, &e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Counter console

struct WaitingView {
    code: String,
    service: String,
    priority: bool,
}

struct CurrentView {
    id: Uuid,
    code: String,
    service: String,
    state: String,
    serving: bool,
    recalls: i32,
}

#[derive(Template, WebTemplate)]
#[template(path = "console.html")]
struct ConsolePage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    counter_id: Uuid,
    counter_name: String,
    tenant: String,
    state: String,
    current: Option<CurrentView>,
    waiting: Vec<WaitingView>,
    waiting_total: usize,
    others: Vec<(Uuid, String)>,
    notice: Option<String>,
}

/// The counter, if this staff member may work it.
async fn console_counter(
    app: &AppState,
    staff: &Staff,
    lang: Lang,
    id: &str,
) -> Result<store::CounterRow, PageError> {
    let here = format!("/staf/loket/{id}");
    let id = Uuid::parse_str(id).map_err(|_| PageError::not_found(lang, &here))?;
    let counter = store::counter(&app.db, id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let catalog = app.catalog.get();
    let place = match (
        catalog.mpp_by_id(counter.mpp_id),
        catalog.tenant_by_id(counter.tenant_id),
    ) {
        (Some(m), Some(t)) => catalog.place(m, Some(t)),
        _ => return Err(PageError::not_found(lang, &here)),
    };
    if !staff.may(Action::OperateCounter, &place) {
        return Err(PageError::status(
            lang,
            StatusCode::FORBIDDEN,
            "Anda tidak berwenang di loket ini.",
            "You may not work this counter.",
        ));
    }
    Ok(counter)
}

async fn console_page(
    app: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    counter: &store::CounterRow,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let here = format!("/staf/loket/{}", counter.id);
    let catalog = app.catalog.get();
    let internal = |e: &dyn std::error::Error| PageError::internal(lang, &here, e);
    let mpp = catalog
        .mpp_by_id(counter.mpp_id)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let now = app.settings.clock.now();
    let service_name = |id: Uuid| {
        catalog
            .service(id)
            .map(|s| s.name.clone())
            .unwrap_or_default()
    };
    let current = store::at_counter(&app.db, counter.id)
        .await
        .map_err(|e| internal(&e))?
        .into_iter()
        .next()
        .map(|t| CurrentView {
            id: t.id,
            service: service_name(t.service_id),
            serving: t.state == "serving",
            state: state_words(
                TicketState::parse(&t.state).unwrap_or(TicketState::Called),
                lang,
            )
            .to_owned(),
            code: t.code,
            recalls: t.recalls,
        });
    let services = store::counter_services(&app.db, counter.id)
        .await
        .map_err(|e| internal(&e))?;
    let waiting: Vec<TicketRow> = store::waiting(&app.db, counter.tenant_id, &local_day(mpp, now))
        .await
        .map_err(|e| internal(&e))?
        .into_iter()
        .filter(|t| {
            t.counter_id == Some(counter.id)
                || (t.counter_id.is_none() && services.contains(&t.service_id))
        })
        .collect();
    // In the order they would be called (the lanes' turns included).
    let turn = store::turn(&app.db, counter.tenant_id, &local_day(mpp, now))
        .await
        .map_err(|e| internal(&e))?;
    let keys: Vec<Candidate> = waiting.iter().map(candidate).collect();
    let order = call_sequence(&keys, now, turn);
    let waiting: Vec<TicketRow> = order.into_iter().map(|i| waiting[i].clone()).collect();
    let others = store::counters_of_mpp(&app.db, counter.mpp_id)
        .await
        .map_err(|e| internal(&e))?
        .into_iter()
        .filter(|c| c.id != counter.id)
        .map(|c| {
            let tenant = catalog
                .tenant_by_id(c.tenant_id)
                .map(|t| t.name.clone())
                .unwrap_or_default();
            (c.id, format!("{} — {tenant}", c.name))
        })
        .collect();
    let (token, fresh) = csrf(headers)?;
    let page = ConsolePage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        counter_id: counter.id,
        counter_name: counter.name.clone(),
        tenant: catalog
            .tenant_by_id(counter.tenant_id)
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        state: counter.state.clone(),
        current,
        waiting_total: waiting.len(),
        waiting: waiting
            .iter()
            .take(8)
            .map(|t| WaitingView {
                code: t.code.clone(),
                service: service_name(t.service_id),
                priority: t.priority,
            })
            .collect(),
        others,
        notice,
    };
    Ok(render(page, status, fresh.then_some((app, token.as_str()))))
}

pub async fn console(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let staff = staff_or_return!(app, headers, lang);
    let counter = console_counter(&app, &staff, lang, &id).await?;
    console_page(&app, lang, &headers, &counter, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct ConsoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    ticket: Option<String>,
    #[serde(default)]
    to_counter: Option<String>,
}

csrf_forms!(ConsoleForm);

/// Why an operation of a counter did not happen.
pub(super) enum Operation {
    /// Not now (nobody waiting, counter closed, an illegal transition …): code and messages.
    Refused(&'static str, String, String),
    /// A request that names no known action or ticket.
    Invalid(&'static str, &'static str),
    Failed(QueueError),
}

/// One operation of a counter: `open`, `paused`, `closed`, `next`, or a ticket action
/// (`recall`, `start`, `finish`, `no_show`, `transfer`) on `ticket`. Audited as `actor`.
/// Shared by the console and the API.
pub(super) async fn operate(
    app: &AppState,
    counter: &store::CounterRow,
    action: &str,
    ticket: Option<&str>,
    to_counter: Option<&str>,
    actor: &str,
    scope: &str,
) -> Result<(), Operation> {
    let now = app.settings.clock.now();
    let refused = |code: &'static str, id: &str, en: &str| {
        Err(Operation::Refused(code, id.to_owned(), en.to_owned()))
    };
    match action {
        "open" | "paused" | "closed" => {
            store::set_counter_state(&app.db, counter.id, action, actor, scope)
                .await
                .map_err(|e| Operation::Failed(e.into()))?;
            Ok(())
        }
        "next" => match store::call_next(&app.db, counter.id, actor, scope, now).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => refused(
                "nobody_waiting",
                "Tidak ada yang menunggu.",
                "Nobody is waiting.",
            ),
            Err(QueueError::CounterNotOpen) => refused(
                "counter_not_open",
                "Buka loket dulu.",
                "Open the counter first.",
            ),
            Err(QueueError::CounterBusy) => refused(
                "counter_busy",
                "Selesaikan, alihkan, atau tandai tidak hadir tiket yang sedang dipanggil dulu.",
                "Finish, transfer or mark as not present the ticket being called first.",
            ),
            Err(e) => Err(Operation::Failed(e)),
        },
        other => {
            let action = TicketAction::parse(other)
                .filter(|a| !matches!(a, TicketAction::Call | TicketAction::Cancel))
                .ok_or(Operation::Invalid(
                    "Tindakan tidak dikenal.",
                    "Unknown action.",
                ))?;
            let ticket =
                ticket
                    .and_then(|t| Uuid::parse_str(t.trim()).ok())
                    .ok_or(Operation::Invalid(
                        "Tiket tidak dikenal.",
                        "Unknown ticket.",
                    ))?;
            let transfer = to_counter
                .and_then(|c| Uuid::parse_str(c.trim()).ok())
                .map(|to_counter| Transfer { to_counter });
            match store::act(
                &app.db,
                ticket,
                action,
                Some(counter.id),
                transfer,
                actor,
                scope,
                now,
            )
            .await
            {
                Ok(_) => Ok(()),
                Err(QueueError::Illegal(e)) => {
                    let (id, en) = e.message();
                    Err(Operation::Refused("illegal_transition", id, en))
                }
                Err(QueueError::NoTicket) => refused(
                    "not_at_counter",
                    "Tiket ini bukan di loket Anda.",
                    "This ticket is not at your counter.",
                ),
                Err(QueueError::NoCounter) => refused(
                    "no_target_counter",
                    "Pilih loket tujuan.",
                    "Choose the counter to send it to.",
                ),
                Err(e) => Err(Operation::Failed(e)),
            }
        }
    }
}

/// One click of the console: open, pause, close, call next, or an action on the current ticket.
pub async fn console_action(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ConsoleForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/loket/{id}");
    let form = checked_form(form, &headers, lang, &here)?;
    let staff = staff_or_return!(app, headers, lang);
    let counter = console_counter(&app, &staff, lang, &id).await?;
    let catalog = app.catalog.get();
    let scope = match (
        catalog.mpp_by_id(counter.mpp_id),
        catalog.tenant_by_id(counter.tenant_id),
    ) {
        (Some(m), Some(t)) => catalog.place(m, Some(t)).audit_path(),
        _ => "/".into(),
    };
    let notice = match operate(
        &app,
        &counter,
        &form.action,
        form.ticket.as_deref(),
        form.to_counter.as_deref(),
        &staff.actor(),
        &scope,
    )
    .await
    {
        Ok(()) => None,
        Err(Operation::Refused(_, id, en)) => Some(lang.pick(&id, &en).to_owned()),
        Err(Operation::Invalid(id, en)) => {
            return Err(PageError::bad_request(lang, &here, id, en));
        }
        Err(Operation::Failed(e)) => return Err(PageError::internal(lang, &here, &e)),
    };
    match notice {
        None => Ok(Redirect::to(&here).into_response()),
        Some(notice) => {
            let counter = store::counter(&app.db, counter.id)
                .await
                .map_err(|e| PageError::internal(lang, &here, &e))?
                .unwrap_or(counter);
            console_page(
                &app,
                lang,
                &headers,
                &counter,
                Some(notice),
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Display board

struct BoardCall {
    code: String,
    counter: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "board.html")]
struct BoardPage {
    t: &'static Texts,
    lang: Lang,
    here: String,
    mpp_name: String,
    mpp_slug: String,
    /// The last event shown: the live feed continues after it.
    last_seq: i64,
    calls: Vec<BoardCall>,
}

pub async fn board(
    State(app): State<AppState>,
    lang: Lang,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let catalog = app.catalog.get();
    let here = format!("/papan/{slug}");
    let mpp = catalog
        .mpp(&slug)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let events = store::latest_events(&app.db, mpp.id, 12)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let page = BoardPage {
        t: lang.texts(),
        lang,
        here,
        mpp_name: mpp.name.clone(),
        mpp_slug: mpp.slug.clone(),
        last_seq: events.first().map_or(0, |e| e.seq),
        calls: events
            .iter()
            .map(|e| BoardCall {
                code: e.code.clone(),
                counter: e
                    .counter_number
                    .map(|n| format!("Loket {n}"))
                    .unwrap_or_default(),
            })
            .collect(),
    };
    Ok(render(page, StatusCode::OK, None))
}

#[derive(Deserialize)]
pub struct FeedQuery {
    setelah: Option<i64>,
}

/// The board's live feed: every call and recall after `Last-Event-ID` (or `?setelah=`), each
/// with its number as the event id, so a reconnecting board resumes without repeating one. The
/// feed reads the database, so a call made through any node reaches a board on any node.
pub async fn board_feed(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(slug): Path<String>,
    query: Result<axum::extract::Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let catalog = app.catalog.get();
    let mpp = catalog
        .mpp(&slug)
        .ok_or_else(|| PageError::not_found(lang, &format!("/papan/{slug}")))?
        .id;
    let from_header = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let after = from_header
        .or(query.ok().and_then(|q| q.setelah))
        .unwrap_or(0)
        .max(0);
    let stream = events_stream(app.db.clone(), mpp, after);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(StdDuration::from_secs(15)))
        .into_response())
}

fn events_stream(
    db: crate::storage::Db,
    mpp: Uuid,
    after: i64,
) -> impl futures_util::Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(
        (db, after, std::collections::VecDeque::new()),
        move |(db, mut last, mut pending)| async move {
            loop {
                if let Some(e) = pending.pop_front() {
                    let e: store::BoardEvent = e;
                    last = e.seq;
                    let event = Event::default()
                        .id(e.seq.to_string())
                        .event("call")
                        .json_data(&e)
                        .unwrap_or_else(|_| Event::default().comment("unserializable"));
                    return Some((Ok(event), (db, last, pending)));
                }
                match store::events_after(&db, mpp, last, 50).await {
                    Ok(events) if !events.is_empty() => pending.extend(events),
                    Ok(_) => tokio::time::sleep(StdDuration::from_millis(500)).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "board feed cannot read events");
                        tokio::time::sleep(StdDuration::from_secs(2)).await;
                    }
                }
            }
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Statistics

/// One row of the statistics: what it groups, and its figures.
pub struct StatRow {
    pub group: &'static str,
    pub name: String,
    pub figures: crate::domain::queue::Figures,
}

fn minutes(v: Option<f64>) -> String {
    v.map_or_else(String::new, |m| format!("{m:.1}"))
}

#[derive(Template, WebTemplate)]
#[template(path = "stats.html")]
struct StatsPage {
    t: &'static Texts,
    lang: Lang,
    here: String,
    mpp_name: String,
    mpp_slug: String,
    day: String,
    rows: Vec<(String, String, crate::domain::queue::Figures, [String; 4])>,
}

#[derive(Deserialize)]
pub struct StatsQuery {
    hari: Option<String>,
}

/// The day's figures per UPP, service and counter that the staff member may see.
async fn stats_rows(
    app: &AppState,
    staff: &Staff,
    mpp: &Mpp,
    day: &str,
) -> Result<Vec<StatRow>, crate::storage::StorageError> {
    use crate::domain::queue::{Served, figures};
    let catalog = app.catalog.get();
    let tickets = store::tickets_of_day(&app.db, mpp.id, day).await?;
    let counters = store::counters_of_mpp(&app.db, mpp.id).await?;
    let visible: Vec<&TicketRow> = tickets
        .iter()
        .filter(|t| {
            catalog.tenant_by_id(t.tenant_id).is_some_and(|tenant| {
                staff.may(Action::ViewStatistics, &catalog.place(mpp, Some(tenant)))
            })
        })
        .collect();
    let served = |t: &TicketRow| Served {
        state: TicketState::parse(&t.state).unwrap_or(TicketState::Waiting),
        wait_seconds: t
            .called_at
            .as_deref()
            .map(|c| (parse_time(c) - parse_time(&t.due_at)).num_seconds()),
        service_seconds: match (&t.started_at, &t.finished_at) {
            (Some(s), Some(f)) if t.state == "done" => {
                Some((parse_time(f) - parse_time(s)).num_seconds())
            }
            _ => None,
        },
    };
    let mut rows = Vec::new();
    let mut group = |kind: &'static str, name: String, members: Vec<&&TicketRow>| {
        if !members.is_empty() {
            let list: Vec<Served> = members.into_iter().map(|t| served(t)).collect();
            rows.push(StatRow {
                group: kind,
                name,
                figures: figures(&list),
            });
        }
    };
    for &ti in &mpp.tenants {
        let tenant = &catalog.tenants[ti];
        group(
            "upp",
            tenant.name.clone(),
            visible
                .iter()
                .filter(|t| t.tenant_id == tenant.id)
                .collect(),
        );
    }
    for &ti in &mpp.tenants {
        for &si in &catalog.tenants[ti].services {
            let s = &catalog.services[si];
            group(
                "service",
                s.name.clone(),
                visible.iter().filter(|t| t.service_id == s.id).collect(),
            );
        }
    }
    for c in &counters {
        group(
            "counter",
            c.name.clone(),
            visible
                .iter()
                .filter(|t| t.counter_id == Some(c.id))
                .collect(),
        );
    }
    Ok(rows)
}

async fn stats_common(
    app: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    slug: &str,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Result<(Vec<StatRow>, String, String), Response>, PageError> {
    let here = format!("/staf/statistik/{slug}");
    let staff = match current_staff(app, headers, lang).await? {
        Ok(staff) => staff,
        Err(response) => return Ok(Err(response)),
    };
    let catalog = app.catalog.get();
    let mpp = catalog
        .mpp(slug)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let sees_some = mpp.tenants.iter().any(|&t| {
        staff.may(
            Action::ViewStatistics,
            &catalog.place(mpp, Some(&catalog.tenants[t])),
        )
    });
    if !sees_some {
        return Err(PageError::status(
            lang,
            StatusCode::FORBIDDEN,
            "Anda tidak berwenang melihat statistik MPP ini.",
            "You may not see this MPP's statistics.",
        ));
    }
    // No day asked: today. A day that is not a date is refused, not silently replaced.
    let asked = query
        .ok()
        .and_then(|Query(q)| q.hari)
        .filter(|d| !d.trim().is_empty());
    let day = match asked {
        None => local_day(mpp, app.settings.clock.now()),
        Some(d) => match chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d") {
            Ok(date) => date.format("%Y-%m-%d").to_string(),
            Err(_) => {
                return Err(PageError::bad_request(
                    lang,
                    &here,
                    "Tanggal harus berbentuk TTTT-BB-HH, misalnya 2026-12-01.",
                    "The date must be YYYY-MM-DD, for example 2026-12-01.",
                ));
            }
        },
    };
    let rows = stats_rows(app, &staff, mpp, &day)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    Ok(Ok((rows, day, mpp.name.clone())))
}

pub async fn statistics(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(slug): Path<String>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let (rows, day, mpp_name) = match stats_common(&app, lang, &headers, &slug, query).await? {
        Ok(found) => found,
        Err(response) => return Ok(response),
    };
    let label = |g: &str| match g {
        "upp" => lang.pick("UPP", "UPP"),
        "service" => lang.pick("Layanan", "Service"),
        _ => lang.pick("Loket", "Counter"),
    };
    let page = StatsPage {
        t: lang.texts(),
        lang,
        here: format!("/staf/statistik/{slug}"),
        mpp_name,
        mpp_slug: slug.clone(),
        day,
        rows: rows
            .into_iter()
            .map(|r| {
                let f = r.figures;
                let m = [
                    minutes(f.wait_p50),
                    minutes(f.wait_p90),
                    minutes(f.service_p50),
                    minutes(f.service_p90),
                ];
                (label(r.group).to_owned(), r.name, f, m)
            })
            .collect(),
    };
    Ok(render(page, StatusCode::OK, None))
}

/// The same figures as CSV (comma-separated, a header row, minutes with one decimal).
pub async fn statistics_csv(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(slug): Path<String>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let slug = slug.strip_suffix(".csv").unwrap_or(&slug).to_owned();
    let (rows, day, _) = match stats_common(&app, lang, &headers, &slug, query).await? {
        Ok(found) => found,
        Err(response) => return Ok(response),
    };
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "day",
        "group",
        "name",
        "tickets",
        "done",
        "no_shows",
        "cancelled",
        "wait_p50_min",
        "wait_p90_min",
        "service_p50_min",
        "service_p90_min",
    ];
    let written = out.write_record(header).and_then(|()| {
        for r in &rows {
            let f = &r.figures;
            out.write_record([
                day.as_str(),
                r.group,
                r.name.as_str(),
                &f.tickets.to_string(),
                &f.done.to_string(),
                &f.no_shows.to_string(),
                &f.cancelled.to_string(),
                &minutes(f.wait_p50),
                &minutes(f.wait_p90),
                &minutes(f.service_p50),
                &minutes(f.service_p90),
            ])?;
        }
        Ok(())
    });
    let bytes = written
        .ok()
        .and_then(|()| out.into_inner().ok())
        .unwrap_or_default();
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"antrean-{slug}-{day}.csv\""),
            ),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Setting up a UPP's queue: counters and booking rules (UPP admins and MPP managers)

struct RuleView {
    service: String,
    rule: Option<(i32, i32, i32, String, i32)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "queue_setup.html")]
struct SetupPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    tenant_name: String,
    counters: Vec<CounterSetup>,
    services: Vec<(Uuid, String)>,
    rules: Vec<RuleView>,
    lanes: store::QueueSettings,
    error: Option<String>,
    saved: bool,
}

/// A counter on the setup page, with each of the UPP's services and whether it serves it.
struct CounterSetup {
    id: Uuid,
    number: i32,
    name: String,
    state: String,
    services: Vec<(Uuid, String, bool)>,
}

/// The tenant, if this staff member may set up its queue (its UPP admin).
fn setup_place(
    app: &AppState,
    staff: &Staff,
    lang: Lang,
    tenant: &str,
) -> Result<(Uuid, Uuid, String), PageError> {
    let here = format!("/staf/antrean/{tenant}");
    let catalog = app.catalog.get();
    let t = Uuid::parse_str(tenant)
        .ok()
        .and_then(|id| catalog.tenant_by_id(id))
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let m = &catalog.mpps[t.mpp];
    let place = catalog.place(m, Some(t));
    if !staff.may(Action::EditService, &place) {
        return Err(PageError::status(
            lang,
            StatusCode::FORBIDDEN,
            "Anda tidak berwenang mengatur antrean UPP ini.",
            "You may not set up this UPP's queue.",
        ));
    }
    Ok((m.id, t.id, place.audit_path()))
}

async fn setup_page(
    app: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    tenant: Uuid,
    error: Option<String>,
    saved: bool,
    status: StatusCode,
) -> Result<Response, PageError> {
    let here = format!("/staf/antrean/{tenant}");
    let catalog = app.catalog.get();
    let t = catalog
        .tenant_by_id(tenant)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let counters = store::counters_of_mpp(&app.db, catalog.mpps[t.mpp].id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let lanes = store::settings(&app.db, t.id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let mut setups = Vec::new();
    for c in counters.into_iter().filter(|c| c.tenant_id == t.id) {
        let served = store::counter_services(&app.db, c.id)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?;
        setups.push(CounterSetup {
            id: c.id,
            number: c.number,
            name: c.name,
            state: c.state,
            services: t
                .services
                .iter()
                .map(|&s| {
                    let service = &catalog.services[s];
                    (
                        service.id,
                        service.name.clone(),
                        served.contains(&service.id),
                    )
                })
                .collect(),
        });
    }
    let mut rules = Vec::new();
    for &s in &t.services {
        let service = &catalog.services[s];
        let rule = crate::storage::bookings::rule(&app.db, service.id)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?;
        rules.push(RuleView {
            service: service.name.clone(),
            rule: rule.map(|r| {
                (
                    r.slot_minutes,
                    r.quota_per_slot,
                    r.days_ahead,
                    r.release_time,
                    r.cancel_cutoff_minutes,
                )
            }),
        });
    }
    let (token, fresh) = csrf(headers)?;
    let page = SetupPage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        tenant_name: t.name.clone(),
        counters: setups,
        lanes,
        services: t
            .services
            .iter()
            .map(|&s| (catalog.services[s].id, catalog.services[s].name.clone()))
            .collect(),
        rules,
        error,
        saved,
    };
    Ok(render(page, status, fresh.then_some((app, token.as_str()))))
}

#[derive(Deserialize)]
pub struct SavedQuery {
    tersimpan: Option<String>,
}

pub async fn setup(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    query: Result<Query<SavedQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let staff = staff_or_return!(app, headers, lang);
    let (_, tenant, _) = setup_place(&app, &staff, lang, &tenant)?;
    let saved = query.ok().is_some_and(|Query(q)| q.tersimpan.is_some());
    setup_page(&app, lang, &headers, tenant, None, saved, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    what: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    slot_minutes: String,
    #[serde(default)]
    quota: String,
    #[serde(default)]
    days_ahead: String,
    #[serde(default)]
    release_time: String,
    #[serde(default)]
    cutoff: String,
    #[serde(default)]
    priority_every: String,
    #[serde(default)]
    max_recalls: String,
}

csrf_forms!(SetupForm);

/// Adds a counter (serving all of the UPP's services) or sets a service's booking rule.
pub async fn save_setup(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    form: Result<Form<SetupForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/antrean/{tenant}");
    let form = checked_form(form, &headers, lang, &here)?;
    let staff = staff_or_return!(app, headers, lang);
    let (mpp, tenant, scope) = setup_place(&app, &staff, lang, &tenant)?;
    let catalog = app.catalog.get();
    let refuse = |id: &str, en: &str| Some(lang.pick(id, en).to_owned());
    let number = |raw: &str, range: std::ops::RangeInclusive<i32>| {
        raw.trim().parse::<i32>().ok().filter(|n| range.contains(n))
    };
    let error = match form.what.as_str() {
        "counter" => match number(&form.number, 1..=999) {
            None => refuse(
                "Nomor loket harus 1 sampai 999.",
                "The counter number must be 1 to 999.",
            ),
            Some(n) => {
                let taken = store::counters_of_mpp(&app.db, mpp)
                    .await
                    .map_err(|e| PageError::internal(lang, &here, &e))?
                    .iter()
                    .any(|c| c.number == n);
                if taken {
                    refuse(
                        "Nomor loket itu sudah dipakai di MPP ini.",
                        "That counter number is already used in this MPP.",
                    )
                } else {
                    let services: Vec<Uuid> = catalog
                        .tenant_by_id(tenant)
                        .map(|t| t.services.iter().map(|&s| catalog.services[s].id).collect())
                        .unwrap_or_default();
                    let name = if form.name.trim().is_empty() {
                        format!("Loket {n}")
                    } else {
                        form.name.trim().chars().take(60).collect()
                    };
                    store::create_counter(
                        &app.db,
                        mpp,
                        tenant,
                        n,
                        &name,
                        &services,
                        &staff.actor(),
                        &scope,
                    )
                    .await
                    .map_err(|e| PageError::internal(lang, &here, &e))?;
                    None
                }
            }
        },
        "rule" => {
            let service = Uuid::parse_str(&form.service)
                .ok()
                .and_then(|id| catalog.service(id))
                .filter(|s| catalog.tenants[s.tenant].id == tenant);
            let release = chrono::NaiveTime::parse_from_str(form.release_time.trim(), "%H:%M").ok();
            match (
                service,
                number(&form.slot_minutes, 5..=240),
                number(&form.quota, 1..=1000),
                number(&form.days_ahead, 1..=90),
                release,
                number(&form.cutoff, 0..=1440),
            ) {
                (
                    Some(s),
                    Some(slot_minutes),
                    Some(quota),
                    Some(days),
                    Some(release),
                    Some(cutoff),
                ) => {
                    app.booking
                        .set_rule(
                            &app.db,
                            &crate::storage::bookings::BookingRule {
                                service_id: s.id,
                                slot_minutes,
                                quota_per_slot: quota,
                                days_ahead: days,
                                release_time: release.format("%H:%M").to_string(),
                                cancel_cutoff_minutes: cutoff,
                            },
                        )
                        .await
                        .map_err(|e| PageError::internal(lang, &here, &e))?;
                    None
                }
                _ => refuse(
                    "Periksa isian: lama slot 5–240 menit, kuota 1–1000, dibuka 1–90 hari sebelumnya, jam rilis JJ:MM, batas pembatalan 0–1440 menit.",
                    "Check the fields: slot 5–240 minutes, quota 1–1000, opened 1–90 days ahead, release time HH:MM, cancel cut-off 0–1440 minutes.",
                ),
            }
        }
        "lanes" => match (
            number(&form.priority_every, 1..=20),
            number(&form.max_recalls, 1..=10),
        ) {
            (Some(priority_every), Some(max_recalls)) => {
                store::set_settings(
                    &app.db,
                    tenant,
                    store::QueueSettings {
                        priority_every,
                        max_recalls,
                    },
                    &staff.actor(),
                    &scope,
                )
                .await
                .map_err(|e| PageError::internal(lang, &here, &e))?;
                None
            }
            _ => refuse(
                "Periksa isian: jumlah tiket reguler setelah tiap tiket prioritas 1–20, panggilan ulang 1–10.",
                "Check the fields: regular tickets after each priority ticket 1–20, recalls 1–10.",
            ),
        },
        _ => refuse("Formulir tidak dikenal.", "Unknown form."),
    };
    match error {
        None => Ok(Redirect::to(&format!("{here}?tersimpan=1")).into_response()),
        Some(e) => {
            setup_page(
                &app,
                lang,
                &headers,
                tenant,
                Some(e),
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// Changes which services a counter serves, or removes a counter that never had a ticket.
pub async fn save_counter(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path((tenant, counter)): Path<(String, String)>,
    form: Result<Form<PairsForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/antrean/{tenant}");
    let form = checked_form(form, &headers, lang, &here)?;
    let staff = staff_or_return!(app, headers, lang);
    let (_, tenant_id, scope) = setup_place(&app, &staff, lang, &tenant)?;
    let counter = match Uuid::parse_str(&counter) {
        Ok(id) => store::counter(&app.db, id)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?,
        Err(_) => None,
    }
    .filter(|c| c.tenant_id == tenant_id)
    .ok_or_else(|| PageError::not_found(lang, &here))?;
    let actor = staff.actor();
    let refuse = |id: &str, en: &str| {
        let message = lang.pick(id, en).to_owned();
        setup_page(
            &app,
            lang,
            &headers,
            tenant_id,
            Some(message),
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    match form.first("what") {
        Some("services") => {
            let catalog = app.catalog.get();
            let own: Vec<Uuid> = catalog
                .tenant_by_id(tenant_id)
                .map(|t| t.services.iter().map(|&s| catalog.services[s].id).collect())
                .unwrap_or_default();
            let chosen: Vec<Uuid> = form
                .all("service")
                .filter_map(|s| Uuid::parse_str(s).ok())
                .filter(|s| own.contains(s))
                .collect();
            if chosen.is_empty() {
                return refuse(
                    "Pilih sedikitnya satu layanan untuk loket ini (atau tutup loketnya).",
                    "Choose at least one service for this counter (or close it).",
                )
                .await;
            }
            store::set_counter_services(&app.db, counter.id, &chosen, &actor, &scope)
                .await
                .map_err(|e| PageError::internal(lang, &here, &e))?;
        }
        Some("remove") => {
            let removed = store::remove_counter(&app.db, counter.id, &actor, &scope)
                .await
                .map_err(|e| PageError::internal(lang, &here, &e))?;
            if !removed {
                return refuse(
                    "Loket ini sudah pernah melayani tiket, jadi riwayatnya disimpan. Tutup loketnya agar tidak melayani lagi.",
                    "This counter has served tickets, so its history is kept. Close it so it serves no more.",
                )
                .await;
            }
        }
        _ => {
            return Err(PageError::bad_request(
                lang,
                &here,
                "Tindakan tidak dikenal.",
                "Unknown action.",
            ));
        }
    }
    Ok(Redirect::to(&format!("{here}?tersimpan=1")).into_response())
}
