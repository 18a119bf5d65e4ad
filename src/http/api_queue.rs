//! The queue and booking API under `/api/v1`: a citizen's app signs in with a one-time code and
//! books, moves, cancels and follows bookings and tickets; a UPP's own system operates its
//! counters and reads its statistics with a staff API token. The rules are the pages' own: the
//! handlers call the same booking desk and queue functions.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::AppState;
use super::account::{
    CodeRequestError, Redeemed, SESSION_SECONDS, redeem_code, request_code, token_hash,
};
use super::api::{bearer, token_holder};
use super::errors::{ApiError, Problem};
use super::queue::{Operation, Progress, operate, progress};
use crate::booking_desk::{BookRequest, PriorRead, Refusal, changeable, day_key};
use crate::domain::identifier::Identifier;
use crate::domain::queue::TicketState;
use crate::domain::roles::{Action, permits};
use crate::storage::accounts::{self, SessionAccount, parse_timestamp};
use crate::storage::bookings::BookingRow;
use crate::storage::queue as queue_store;

fn answer<T: Serialize>(status: StatusCode, result: Result<T, ApiError>) -> Response {
    match result {
        Ok(body) => (status, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

pub(super) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|e| {
        ApiError::bad_parameter(
            format!("Isi permintaan bukan JSON yang benar: {}", e.body_text()),
            format!(
                "The request body is not valid JSON for this operation: {}",
                e.body_text()
            ),
        )
    })
}

fn uuid_param(raw: Result<Path<String>, PathRejection>, what: &str) -> Result<Uuid, ApiError> {
    raw.ok()
        .and_then(|Path(p)| Uuid::parse_str(&p).ok())
        .ok_or_else(|| {
            ApiError::bad_parameter(
                format!("{what} harus UUID."),
                format!("The {what} must be a UUID."),
            )
        })
}

fn refused(refusal: Refusal) -> ApiError {
    if let Refusal::Storage(e) = &refusal {
        return ApiError::internal(e);
    }
    let status = match refusal {
        Refusal::Full | Refusal::AlreadyBooked(_) | Refusal::NotActive | Refusal::CutoffPassed => {
            StatusCode::CONFLICT
        }
        Refusal::NoBooking => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let (code, id, en) = refusal.words();
    ApiError::new(status, code, id, en)
}

fn citizen_unauthorized() -> Response {
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Sesi tidak ada, salah, atau sudah berakhir. Masuk lewat /api/v1/session lalu kirim `Authorization: Bearer <token>`.",
        "The session is missing, wrong or over. Sign in at /api/v1/session and send `Authorization: Bearer <token>`.",
    )
    .into_response();
    response.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer realm=\"mpp\""),
    );
    response
}

/// The citizen behind an `Authorization: Bearer` session token.
pub(super) async fn citizen(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<SessionAccount, Response> {
    let Some(token) = bearer(headers) else {
        return Err(citizen_unauthorized());
    };
    match accounts::session(&app.db, &token_hash(token), chrono::Utc::now()).await {
        Ok(Some(session)) => Ok(session),
        Ok(None) => Err(citizen_unauthorized()),
        Err(e) => Err(ApiError::internal(&e).into_response()),
    }
}

// ---------------------------------------------------------------------------------------------
// Signing in

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// An e-mail address or an Indonesian mobile number.
    pub identifier: String,
}

#[derive(Serialize, ToSchema)]
pub struct CodeSent {
    /// Send it back with the code to `POST /api/v1/session`.
    pub reference: Uuid,
    pub expires_in_seconds: i64,
}

/// Sends a one-time sign-in code by e-mail or SMS. The answer is the same whether an account
/// exists or not; the first correct code makes the account.
#[utoipa::path(post, path = "/api/v1/session/code", tag = "accounts",
    request_body = CodeRequest,
    responses((status = 202, body = CodeSent),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json"),
              (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn send_code(
    State(app): State<AppState>,
    body: Result<Json<CodeRequest>, JsonRejection>,
) -> Response {
    let result = async {
        let body = json_body(body)?;
        let identifier = Identifier::parse(&body.identifier).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_identifier",
                e.message_id(),
                e.message_en(),
            )
        })?;
        match request_code(&app, &identifier).await {
            Ok(reference) => Ok(CodeSent {
                reference,
                expires_in_seconds: 600,
            }),
            Err(CodeRequestError::Undeliverable) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "undeliverable",
                CodeRequestError::UNDELIVERABLE.0,
                CodeRequestError::UNDELIVERABLE.1,
            )),
            Err(CodeRequestError::RateLimited) => Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                CodeRequestError::RATE_LIMITED.0,
                CodeRequestError::RATE_LIMITED.1,
            )),
            Err(CodeRequestError::Internal(e)) => Err(ApiError::internal(&*e)),
        }
    }
    .await;
    answer(StatusCode::ACCEPTED, result)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeEntry {
    pub reference: Uuid,
    /// The six digits received.
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionOut {
    /// Send as `Authorization: Bearer <token>`. Shown once; only its hash is kept.
    pub token: String,
    pub token_type: &'static str,
    pub expires_in_seconds: i64,
}

/// Exchanges a one-time code for a session token. A code allows 5 tries.
#[utoipa::path(post, path = "/api/v1/session", tag = "accounts",
    request_body = CodeEntry,
    responses((status = 201, body = SessionOut),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn start_session(
    State(app): State<AppState>,
    body: Result<Json<CodeEntry>, JsonRejection>,
) -> Response {
    let result = async {
        let body = json_body(body)?;
        let code: String = body.code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_code",
                "Kode terdiri dari 6 angka.",
                "The code is 6 digits.",
            ));
        }
        match redeem_code(&app, body.reference, &code)
            .await
            .map_err(|e| ApiError::internal(&e))?
        {
            Redeemed::SignedIn { session } => Ok(SessionOut {
                token: session,
                token_type: "Bearer",
                expires_in_seconds: SESSION_SECONDS,
            }),
            Redeemed::Wrong { attempts_left } => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "wrong_code",
                format!("Kode salah. Sisa percobaan: {attempts_left}."),
                format!("Wrong code. Tries left: {attempts_left}."),
            )),
            Redeemed::Dead => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "code_expired",
                "Kode sudah tidak berlaku. Minta kode baru.",
                "The code is no longer valid. Ask for a new one.",
            )),
        }
    }
    .await;
    answer(StatusCode::CREATED, result)
}

/// Ends the session whose token is sent.
#[utoipa::path(delete, path = "/api/v1/session", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 204),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn end_session(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(response) = citizen(&app, &headers).await {
        return response;
    }
    let Some(token) = bearer(&headers) else {
        return citizen_unauthorized();
    };
    match accounts::end_sessions(&app.db, &token_hash(token), false).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Slots and bookings

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotParams {
    /// A day `YYYY-MM-DD` of the booking window; the first open day when absent.
    pub day: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SlotOut {
    pub id: Uuid,
    /// Local time at the MPP, `HH:MM`.
    pub starts: String,
    pub ends: String,
    pub starts_at: String,
    /// Places left (0: full).
    pub left: i32,
    pub quota: i32,
}

#[derive(Serialize, ToSchema)]
pub struct SlotsOut {
    pub service_id: Uuid,
    /// Whether the service can be booked online at all.
    pub bookable: bool,
    /// The days open for booking now.
    pub days: Vec<String>,
    /// The day shown (absent when no day is open).
    pub day: Option<String>,
    pub slots: Vec<SlotOut>,
}

/// The days open for booking and a day's slots with the places left.
#[utoipa::path(get, path = "/api/v1/services/{id}/slots", tag = "queue",
    params(("id" = Uuid, Path, description = "The service id"), SlotParams),
    responses((status = 200, body = SlotsOut),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn service_slots(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<SlotParams>, QueryRejection>,
) -> Response {
    let result = async {
        let id = uuid_param(id, "id layanan")?;
        let Query(params) = params.map_err(|e| {
            ApiError::bad_parameter(
                format!("Parameter tidak valid: {}", e.body_text()),
                format!("Invalid parameter: {}", e.body_text()),
            )
        })?;
        let asked = match params.day.as_deref() {
            Some(d) => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                ApiError::bad_parameter(
                    "day harus berbentuk YYYY-MM-DD.",
                    "day must be YYYY-MM-DD.",
                )
            })?),
            None => None,
        };
        let catalog = app.catalog.get();
        let service = catalog
            .service(id)
            .ok_or_else(|| ApiError::not_found("Layanan", "Service"))?;
        let rule = app
            .booking
            .rule(&app.db, service.id)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let Some(rule) = rule else {
            return Ok(SlotsOut {
                service_id: service.id,
                bookable: false,
                days: Vec::new(),
                day: None,
                slots: Vec::new(),
            });
        };
        let now = app.settings.clock.now();
        let days = app.booking.open_days(&catalog, service, &rule, now);
        let day = match asked {
            Some(d) if days.contains(&d) => Some(d),
            Some(_) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "day_not_open",
                    "Hari itu tidak dibuka untuk pemesanan.",
                    "That day is not open for booking.",
                ));
            }
            None => days.first().copied(),
        };
        let slots = match day {
            Some(d) => app
                .booking
                .open_slots(&app.db, &catalog, service, &rule, d, now)
                .await
                .map_err(|e| ApiError::internal(&e))?
                .into_iter()
                .map(|s| SlotOut {
                    id: s.id,
                    starts: s.starts.format("%H:%M").to_string(),
                    ends: s.ends.format("%H:%M").to_string(),
                    starts_at: crate::storage::accounts::timestamp(s.starts_at),
                    left: s.left,
                    quota: s.quota,
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(SlotsOut {
            service_id: service.id,
            bookable: true,
            days: days.into_iter().map(day_key).collect(),
            day: day.map(day_key),
            slots,
        })
    }
    .await;
    answer(StatusCode::OK, result)
}

#[derive(Serialize, ToSchema)]
pub struct BookingOut {
    pub id: Uuid,
    /// Shown (or as a QR code) at the kiosk to check in.
    pub code: String,
    pub service_id: Uuid,
    pub slot_id: Uuid,
    pub day: String,
    pub starts_at: String,
    pub ends_at: String,
    /// `booked`, `checked_in`, `cancelled` or `no_show`.
    pub state: String,
    /// Whether it can still be cancelled or moved (before the cut-off).
    pub changeable: bool,
    /// The ticket, once checked in: follow it at `/api/v1/tickets/{id}`.
    pub ticket_id: Option<Uuid>,
    pub created_at: String,
}

async fn booking_out(app: &AppState, b: BookingRow) -> Result<BookingOut, ApiError> {
    let slot = app
        .booking
        .slot(&app.db, b.slot_id)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::not_found("Jam pesanan", "Booking slot"))?;
    let rule = app
        .booking
        .rule(&app.db, b.service_id)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let changeable = b.state == "booked"
        && changeable(
            rule.as_ref(),
            parse_timestamp(&slot.starts_at),
            app.settings.clock.now(),
        );
    Ok(BookingOut {
        id: b.id,
        code: b.code,
        service_id: b.service_id,
        slot_id: b.slot_id,
        day: b.day,
        starts_at: slot.starts_at,
        ends_at: slot.ends_at,
        state: b.state,
        changeable,
        ticket_id: b.ticket_id,
        created_at: b.created_at,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    pub slot_id: Uuid,
}

pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 64)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::bad_parameter(
                "Kirim header Idempotency-Key (1–64 karakter, sama untuk pengulangan permintaan yang sama).",
                "Send an Idempotency-Key header (1–64 characters, the same when retrying the same request).",
            )
        })
}

/// Books a place in a slot. A retry with the same `Idempotency-Key` returns the booking the
/// first request made; one active booking per citizen, service and day.
#[utoipa::path(post, path = "/api/v1/bookings", tag = "queue",
    request_body = BookingRequest,
    params(("Idempotency-Key" = String, Header, description = "1–64 characters; the same for a retried request")),
    security(("bearer" = [])),
    responses((status = 201, body = BookingOut),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_booking(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<BookingRequest>, JsonRejection>,
) -> Response {
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(e) if bearer(&headers).is_some() => return e.into_response(),
        Err(_) => return citizen_unauthorized(),
    };
    // The session and a booking already made with this key, in one read.
    let began = std::time::Instant::now();
    let found = match bearer(&headers) {
        Some(token) => {
            crate::storage::bookings::session_with_key(
                &app.db,
                &token_hash(token),
                chrono::Utc::now(),
                &key,
            )
            .await
        }
        None => Ok(None),
    };
    let (session, existing) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return citizen_unauthorized(),
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let result = async {
        let body = json_body(body)?;
        let catalog = app.catalog.get();
        let slot = app
            .booking
            .slot(&app.db, body.slot_id)
            .await
            .map_err(|e| ApiError::internal(&e))?
            .ok_or_else(|| refused(Refusal::NoSuchSlot))?;
        let service = catalog
            .service(slot.service_id)
            .ok_or_else(|| refused(Refusal::NotBookable))?;
        let booking = app
            .booking
            .book(
                &app.db,
                &catalog,
                service,
                BookRequest {
                    slot_id: slot.id,
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
            .map_err(refused)?;
        booking_out(&app, booking).await
    }
    .await;
    answer(StatusCode::CREATED, result)
}

/// The signed-in citizen's bookings, latest day first.
#[utoipa::path(get, path = "/api/v1/bookings", tag = "queue",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<BookingOut>),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn list_bookings(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let session = match citizen(&app, &headers).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let result = async {
        let rows = crate::storage::bookings::bookings_of(&app.db, session.account_id)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let mut out = Vec::with_capacity(rows.len());
        for b in rows {
            out.push(booking_out(&app, b).await?);
        }
        Ok(out)
    }
    .await;
    answer(StatusCode::OK, result)
}

/// One of the signed-in citizen's bookings (another citizen's is not found).
#[utoipa::path(get, path = "/api/v1/bookings/{id}", tag = "queue",
    params(("id" = Uuid, Path, description = "The booking id")),
    security(("bearer" = [])),
    responses((status = 200, body = BookingOut),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_booking(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let session = match citizen(&app, &headers).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let result = async {
        let id = uuid_param(id, "id pesanan")?;
        let b = app
            .booking
            .own(&app.db, id, session.account_id)
            .await
            .map_err(refused)?;
        booking_out(&app, b).await
    }
    .await;
    answer(StatusCode::OK, result)
}

/// Cancels one's booking before its cut-off; the place goes back to the slot.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/cancel", tag = "queue",
    params(("id" = Uuid, Path, description = "The booking id")),
    security(("bearer" = [])),
    responses((status = 200, body = BookingOut),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn cancel_booking(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let session = match citizen(&app, &headers).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let result = async {
        let id = uuid_param(id, "id pesanan")?;
        app.booking
            .cancel(&app.db, id, session.account_id, app.settings.clock.now())
            .await
            .map_err(refused)?;
        let b = app
            .booking
            .own(&app.db, id, session.account_id)
            .await
            .map_err(refused)?;
        booking_out(&app, b).await
    }
    .await;
    answer(StatusCode::OK, result)
}

/// Moves one's booking to another open slot of the same service before the cut-off; the code
/// stays the same.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/reschedule", tag = "queue",
    params(("id" = Uuid, Path, description = "The booking id")),
    request_body = BookingRequest,
    security(("bearer" = [])),
    responses((status = 200, body = BookingOut),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn reschedule_booking(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<BookingRequest>, JsonRejection>,
) -> Response {
    let session = match citizen(&app, &headers).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let result = async {
        let id = uuid_param(id, "id pesanan")?;
        let body = json_body(body)?;
        let catalog = app.catalog.get();
        let b = app
            .booking
            .reschedule(
                &app.db,
                &catalog,
                id,
                session.account_id,
                body.slot_id,
                app.settings.clock.now(),
            )
            .await
            .map_err(refused)?;
        booking_out(&app, b).await
    }
    .await;
    answer(StatusCode::OK, result)
}

// ---------------------------------------------------------------------------------------------
// Tickets and the board

#[derive(Serialize, ToSchema)]
pub struct TicketOut {
    pub id: Uuid,
    /// As called: prefix and number, such as `A012`.
    pub code: String,
    pub mpp_id: Uuid,
    pub tenant_id: Uuid,
    pub service_id: Uuid,
    /// `waiting`, `called`, `serving`, `done`, `no_show` or `cancelled`.
    pub state: String,
    /// `walk_in` or `booking`.
    pub kind: String,
    pub priority: bool,
    pub issued_at: String,
    /// While waiting: how many people will be called before this ticket.
    pub people_ahead: Option<usize>,
    /// While waiting, from recent service times (absent when there are none yet).
    pub estimated_wait_minutes: Option<i64>,
    /// When called or being served: the counter to go to.
    pub counter_number: Option<i32>,
    pub counter_name: Option<String>,
}

/// A ticket's state, place in the queue and counter. The ticket's id is its holder's proof (it
/// is in the QR code printed on the ticket); no personal data is shown.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "queue",
    params(("id" = Uuid, Path, description = "The ticket id")),
    responses((status = 200, body = TicketOut),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_ticket(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let id = uuid_param(id, "id tiket")?;
        let ticket = queue_store::ticket(&app.db, id)
            .await
            .map_err(|e| ApiError::internal(&e))?
            .ok_or_else(|| ApiError::not_found("Tiket", "Ticket"))?;
        let state = TicketState::parse(&ticket.state).unwrap_or(TicketState::Waiting);
        let Progress {
            ahead,
            wait_minutes,
            counter,
            counter_number,
        } = progress(&app, &ticket, state, app.settings.clock.now())
            .await
            .map_err(|e| ApiError::internal(&e))?;
        Ok(TicketOut {
            id: ticket.id,
            code: ticket.code,
            mpp_id: ticket.mpp_id,
            tenant_id: ticket.tenant_id,
            service_id: ticket.service_id,
            state: ticket.state,
            kind: ticket.kind,
            priority: ticket.priority,
            issued_at: ticket.issued_at,
            people_ahead: ahead,
            estimated_wait_minutes: wait_minutes,
            counter_number,
            counter_name: counter,
        })
    }
    .await;
    answer(StatusCode::OK, result)
}

#[derive(Serialize, ToSchema)]
pub struct BoardCallOut {
    /// Increasing per MPP: the live feed `/papan/{slug}/peristiwa` continues after it.
    pub seq: i64,
    pub at: String,
    /// `call` or `recall`.
    pub action: String,
    pub code: String,
    pub counter_number: Option<i32>,
    /// The words spoken in the hall.
    pub announcement: String,
}

/// The latest calls of an MPP's display board, newest first.
#[utoipa::path(get, path = "/api/v1/mpps/{slug}/board", tag = "queue",
    params(("slug" = String, Path, description = "The MPP's slug")),
    responses((status = 200, body = Vec<BoardCallOut>),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn board(State(app): State<AppState>, Path(slug): Path<String>) -> Response {
    let result = async {
        let catalog = app.catalog.get();
        let mpp = catalog
            .mpp(&slug)
            .ok_or_else(|| ApiError::not_found("MPP", "MPP"))?;
        let events = queue_store::latest_events(&app.db, mpp.id, 12)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        Ok(events
            .into_iter()
            .map(|e| BoardCallOut {
                seq: e.seq,
                at: e.at,
                action: e.action,
                code: e.code,
                counter_number: e.counter_number,
                announcement: e.announcement,
            })
            .collect::<Vec<_>>())
    }
    .await;
    answer(StatusCode::OK, result)
}

// ---------------------------------------------------------------------------------------------
// Counters, for a UPP's own system

#[derive(Serialize, ToSchema)]
pub struct CounterTicket {
    pub id: Uuid,
    pub code: String,
    pub state: String,
    pub service_id: Uuid,
    pub priority: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CounterOut {
    pub id: Uuid,
    pub mpp_id: Uuid,
    pub tenant_id: Uuid,
    pub number: i32,
    pub name: String,
    /// `open`, `paused` or `closed`.
    pub state: String,
    /// The services it serves.
    pub services: Vec<Uuid>,
    /// Tickets called to or being served at it.
    pub current: Vec<CounterTicket>,
    /// Tickets of its tenant waiting today.
    pub waiting: usize,
}

/// The counter, if the token's owner may operate it.
async fn operable_counter(
    app: &AppState,
    headers: &HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<(queue_store::CounterRow, String, String), Response> {
    let holder = token_holder(app, headers, "queue:operate").await?;
    let id = uuid_param(id, "id loket").map_err(IntoResponse::into_response)?;
    let counter = queue_store::counter(&app.db, id)
        .await
        .map_err(|e| ApiError::internal(&e).into_response())?
        .ok_or_else(|| ApiError::not_found("Loket", "Counter").into_response())?;
    let catalog = app.catalog.get();
    let (Some(mpp), Some(tenant)) = (
        catalog.mpp_by_id(counter.mpp_id),
        catalog.tenant_by_id(counter.tenant_id),
    ) else {
        return Err(ApiError::not_found("Loket", "Counter").into_response());
    };
    let place = catalog.place(mpp, Some(tenant));
    if !permits(&holder.grants, Action::OperateCounter, &place) {
        return Err(super::api::forbidden_api().into_response());
    }
    Ok((
        counter,
        format!("token:{}", holder.token_id),
        place.audit_path(),
    ))
}

async fn counter_out(
    app: &AppState,
    counter: queue_store::CounterRow,
) -> Result<CounterOut, ApiError> {
    let services = queue_store::counter_services(&app.db, counter.id)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let current = queue_store::at_counter(&app.db, counter.id)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let catalog = app.catalog.get();
    let today = catalog
        .mpp_by_id(counter.mpp_id)
        .map(|m| {
            crate::booking_desk::local_now(m, app.settings.clock.now())
                .date()
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default();
    let waiting = queue_store::waiting(&app.db, counter.tenant_id, &today)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .len();
    Ok(CounterOut {
        id: counter.id,
        mpp_id: counter.mpp_id,
        tenant_id: counter.tenant_id,
        number: counter.number,
        name: counter.name,
        state: counter.state,
        services,
        current: current
            .into_iter()
            .map(|t| CounterTicket {
                id: t.id,
                code: t.code,
                state: t.state,
                service_id: t.service_id,
                priority: t.priority,
            })
            .collect(),
        waiting,
    })
}

/// A counter's state, its current tickets and how many are waiting. Needs a token with scope
/// `queue:operate` whose owner may operate counters of the counter's UPP.
#[utoipa::path(get, path = "/api/v1/counters/{id}", tag = "queue",
    params(("id" = Uuid, Path, description = "The counter id")),
    security(("bearer" = ["queue:operate"])),
    responses((status = 200, body = CounterOut),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_counter(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    match operable_counter(&app, &headers, id).await {
        Ok((counter, _, _)) => answer(StatusCode::OK, counter_out(&app, counter).await),
        Err(response) => response,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterAction {
    /// `open`, `paused`, `closed`, `next` (call the next ticket by the fairness rule), or a
    /// ticket action: `recall`, `start`, `finish`, `no_show`, `transfer`.
    pub action: String,
    /// The ticket of a ticket action.
    pub ticket_id: Option<Uuid>,
    /// For `transfer`: the counter to send the ticket to (it keeps its place).
    pub to_counter_id: Option<Uuid>,
}

/// One operation of a counter, as one click of the console; audited under the token.
#[utoipa::path(post, path = "/api/v1/counters/{id}/actions", tag = "queue",
    params(("id" = Uuid, Path, description = "The counter id")),
    request_body = CounterAction,
    security(("bearer" = ["queue:operate"])),
    responses((status = 200, body = CounterOut),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn counter_action(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<CounterAction>, JsonRejection>,
) -> Response {
    let (counter, actor, scope) = match operable_counter(&app, &headers, id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = async {
        let body = json_body(body)?;
        let ticket = body.ticket_id.map(|t| t.to_string());
        let to = body.to_counter_id.map(|t| t.to_string());
        match operate(
            &app,
            &counter,
            &body.action,
            ticket.as_deref(),
            to.as_deref(),
            &actor,
            &scope,
        )
        .await
        {
            Ok(()) => {}
            Err(Operation::Refused(code, id, en)) => {
                return Err(ApiError::new(StatusCode::CONFLICT, code, id, en));
            }
            Err(Operation::Invalid(id, en)) => return Err(ApiError::bad_parameter(id, en)),
            Err(Operation::Failed(e)) => return Err(ApiError::internal(&e)),
        }
        let counter = queue_store::counter(&app.db, counter.id)
            .await
            .map_err(|e| ApiError::internal(&e))?
            .unwrap_or(counter);
        counter_out(&app, counter).await
    }
    .await;
    answer(StatusCode::OK, result)
}
