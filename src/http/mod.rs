//! HTTP: people's pages (HTML), the machines' API (`/api/v1`, OpenAPI at `/openapi.json`), health.
//! Handlers are thin: they read the catalog snapshot or call storage, and render.

/// The signed-in staff member (password and TOTP) inside a handler, or the answer sending the
/// browser to sign in (see `staff::current_staff`).
macro_rules! staff_or_return {
    ($app:expr, $headers:expr, $lang:expr) => {
        match $crate::http::staff::current_staff(&$app, &$headers, $lang).await? {
            Ok(staff) => staff,
            Err(response) => return Ok(response),
        }
    };
}

pub mod account;
pub mod api;
pub mod api_applications;
pub mod api_apply;
pub mod api_queue;
pub mod applications;
pub mod booking;
pub mod bundles;
pub mod errors;
pub mod form_editor;
pub mod i18n;
pub mod pages;
pub mod queue;
pub mod staff;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;

use axum::http::{HeaderName, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governor::clock::QuantaInstant;
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::catalog::SharedCatalog;
use crate::config::Mode;
use crate::privacy::DataKeys;
use crate::storage::Db;
use errors::ApiError;

/// What the HTTP layer needs beyond the database and the catalog.
#[derive(Clone)]
pub struct Settings {
    /// Keys sealing personal data.
    pub keys: Arc<DataKeys>,
    pub mode: Mode,
    pub secure_cookies: bool,
    /// The base of links sent by e-mail (see `Config::public_url`).
    pub public_url: String,
    /// Sign-in posts per client address in a burst (see `Config::sign_in_burst`).
    pub sign_in_burst: u32,
    /// The channels messages are delivered through.
    pub channels: Arc<crate::delivery::Channels>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (see `Config::trusted_proxies`).
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// The time the queue pages work at: the system clock, or a fixed instant in tests (so a
    /// test of the kiosk does not depend on the hour CI runs at).
    pub clock: Clock,
    /// Where documents' bytes are kept.
    pub blobs: crate::documents::BlobStore,
}

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    System,
    /// A fixed instant plus the time elapsed since the server started.
    StartingAt(chrono::DateTime<chrono::Utc>, std::time::Instant),
}

impl Clock {
    pub fn now(self) -> chrono::DateTime<chrono::Utc> {
        match self {
            Clock::System => chrono::Utc::now(),
            Clock::StartingAt(at, since) => {
                at + chrono::Duration::from_std(since.elapsed()).unwrap_or_default()
            }
        }
    }
}

impl Settings {
    /// Delivered messages are readable at /dev/outbox (never in production).
    pub fn dev_outbox(&self) -> bool {
        self.mode != Mode::Production
    }

    /// Whether a message on `channel` (`email`, `sms`) can reach a person on this node.
    pub fn can_deliver(&self, channel: &str) -> bool {
        self.channels.can_deliver(channel)
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub catalog: SharedCatalog,
    pub settings: Settings,
    openapi_json: Arc<String>,
    page_cache: Arc<pages::PageCache>,
    /// Booking rules and days' slots shared by the booking pages and the API.
    pub booking: Arc<crate::booking_desk::BookingDesk>,
    /// Which services take applications online.
    pub forms: Arc<applications::OfferedForms>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "MPP Digital API",
        description = "Katalog nasional Mal Pelayanan Publik: wilayah, MPP, UPP, dan layanan beserta Standar Pelayanan. \
                       National catalog of Indonesia's public service malls. Errors are application/problem+json \
                       with a stable `code` and messages in Indonesian and English.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "registry", description = "Wilayah (Kemendagri codes)"),
        (name = "catalog", description = "MPP, UPP and services"),
        (name = "accounts", description = "Citizens' sessions: a one-time code by e-mail or SMS, then a bearer token"),
        (name = "queue", description = "Booking slots, bookings, tickets, display boards and counters"),
        (name = "applications", description = "Applications: a UPP's inbox, officers' steps and outputs (token scope `applications:process`), public tracking by code"),
        (name = "health", description = "Liveness and readiness")
    )
)]
struct ApiDoc;

/// The bearer token scheme of the editing operations.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A staff API token created at /staf/token (scopes `catalog:write`, `queue:operate`, `applications:process`), \
                         or a citizen's session token from POST /api/v1/session.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Who may use a route. Every people's route is registered with its access, so the
/// authorization matrix test (tests/it/authz.rs) covers each one; a route cannot be added
/// without saying who may use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// A signed-in citizen; others are sent to the sign-in page.
    Citizen,
    /// Only in development and demo mode (a 404 in production).
    Development,
    /// Mid sign-in: a session whose password was checked and whose second factor is due.
    SecondFactor,
    /// Staff signed in with password and TOTP, whose grants allow the action at the place the
    /// request names (`domain::roles::permits`).
    Staff(crate::domain::roles::Action),
    /// An API token carrying this scope, whose owner's grants allow the action at the place.
    Token(&'static str, crate::domain::roles::Action),
}

/// One registered route.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

/// Collects routes and their access together.
struct Routes {
    router: Router<AppState>,
    table: Vec<RouteSpec>,
}

impl Routes {
    fn add(
        mut self,
        path: &'static str,
        methods: &[(&'static str, Access)],
        route: axum::routing::MethodRouter<AppState>,
    ) -> Routes {
        self.router = self.router.route(path, route);
        self.table
            .extend(methods.iter().map(|&(method, access)| RouteSpec {
                method,
                path,
                access,
            }));
        self
    }
}

/// The people's routes, with who may use each.
fn page_routes(
    sign_in_burst: u32,
    proxies: &Arc<Vec<std::net::IpAddr>>,
) -> (Router<AppState>, Vec<RouteSpec>) {
    use crate::domain::roles::Action::{
        EditMpp, EditService, EnterStaffArea, ManageOwnTokens, OperateCounter, ProcessApplications,
        ViewAudit, ViewStatistics,
    };
    use Access::{Citizen, Development, Public, SecondFactor, Staff};
    let routes = Routes {
        router: Router::new(),
        table: Vec::new(),
    }
    .add("/", &[("GET", Public)], get(pages::home))
    .add("/cari", &[("GET", Public)], get(pages::search))
    .add("/mpp/{slug}", &[("GET", Public)], get(pages::mpp))
    .add(
        "/mpp/{slug}/upp/{tenant}",
        &[("GET", Public)],
        get(pages::tenant),
    )
    .add("/layanan/{id}", &[("GET", Public)], get(pages::service))
    .add(
        "/layanan-nasional/{slug}",
        &[("GET", Public)],
        get(pages::national_service),
    )
    .add(
        "/bahasa/{code}",
        &[("GET", Public)],
        get(pages::switch_language),
    )
    .add(
        "/masuk",
        &[("GET", Public), ("POST", Public)],
        get(account::sign_in_form)
            .post(account::send_code)
            .route_layer(per_address_limit(sign_in_burst, proxies, false)),
    )
    .add(
        "/masuk/kode",
        &[("GET", Public), ("POST", Public)],
        get(account::code_form)
            .post(account::enter_code)
            .route_layer(per_address_limit(sign_in_burst, proxies, false)),
    )
    .add(
        "/masuk/sandi",
        &[("POST", Public)],
        post(account::password_sign_in).route_layer(per_address_limit(
            sign_in_burst,
            proxies,
            false,
        )),
    )
    .add("/akun", &[("GET", Citizen)], get(account::account))
    .add(
        "/akun/sandi",
        &[("POST", Citizen)],
        post(account::set_password),
    )
    .add(
        "/akun/profil",
        &[("POST", Citizen)],
        post(account::save_profile),
    )
    .add("/akun/data", &[("GET", Citizen)], get(account::export_data))
    .add(
        "/akun/hapus",
        &[("POST", Citizen)],
        post(account::delete_account),
    )
    .add("/keluar", &[("POST", Public)], post(account::sign_out))
    .add(
        "/staf/masuk",
        &[("GET", Public), ("POST", Public)],
        get(staff::sign_in_form)
            .post(staff::sign_in)
            .route_layer(per_address_limit(sign_in_burst, proxies, false)),
    )
    .add(
        "/staf/verifikasi",
        &[("GET", SecondFactor), ("POST", SecondFactor)],
        get(staff::totp_form)
            .post(staff::verify_totp)
            .route_layer(per_address_limit(sign_in_burst, proxies, false)),
    )
    .add(
        "/staf/lupa",
        &[("GET", Public), ("POST", Public)],
        get(staff::reset_form)
            .post(staff::request_reset)
            .route_layer(per_address_limit(sign_in_burst, proxies, false)),
    )
    .add(
        "/staf/tautan/{token}",
        &[("GET", Public), ("POST", Public)],
        get(staff::link_form)
            .post(staff::use_link)
            .route_layer(per_address_limit(sign_in_burst, proxies, false)),
    )
    .add("/staf", &[("GET", Staff(EnterStaffArea))], get(staff::home))
    .add(
        "/staf/layanan/{id}",
        &[("GET", Staff(EditService)), ("POST", Staff(EditService))],
        get(staff::service_form).post(staff::save_service),
    )
    .add(
        "/staf/layanan/{id}/formulir",
        &[("GET", Staff(EditService)), ("POST", Staff(EditService))],
        get(form_editor::edit).post(form_editor::save),
    )
    .add(
        "/staf/mpp/{slug}/upp/{tenant}",
        &[("GET", Staff(EditMpp)), ("POST", Staff(EditMpp))],
        get(staff::tenant_form).post(staff::save_tenant),
    )
    .add(
        "/staf/mpp/{slug}",
        &[("GET", Staff(EditMpp)), ("POST", Staff(EditMpp))],
        get(staff::mpp_form).post(staff::save_mpp),
    )
    .add(
        "/staf/antrean/{tenant}",
        &[("GET", Staff(EditService)), ("POST", Staff(EditService))],
        get(queue::setup).post(queue::save_setup),
    )
    .add(
        "/staf/antrean/{tenant}/loket/{counter}",
        &[("POST", Staff(EditService))],
        post(queue::save_counter),
    )
    .add(
        "/staf/statistik/{slug}",
        &[("GET", Staff(ViewStatistics))],
        get(queue::statistics),
    )
    .add(
        "/staf/statistik-csv/{slug}",
        &[("GET", Staff(ViewStatistics))],
        get(queue::statistics_csv),
    )
    .add(
        "/staf/audit",
        &[("GET", Staff(ViewAudit))],
        get(staff::audit),
    )
    .add(
        "/staf/undang",
        &[("GET", Staff(INVITE)), ("POST", Staff(INVITE))],
        get(staff::invite_form).post(staff::invite),
    )
    .add(
        "/staf/peran/{id}/cabut",
        &[("POST", Staff(INVITE))],
        post(staff::revoke_grant),
    )
    .add(
        "/staf/token",
        &[
            ("GET", Staff(ManageOwnTokens)),
            ("POST", Staff(ManageOwnTokens)),
        ],
        get(staff::tokens).post(staff::create_token),
    )
    .add(
        "/staf/token/{id}/cabut",
        &[("POST", Staff(ManageOwnTokens))],
        post(staff::revoke_token),
    )
    .add(
        "/dev/outbox",
        &[("GET", Development)],
        get(account::dev_outbox),
    )
    .add("/kiosk/{slug}", &[("GET", Public)], get(queue::kiosk))
    .add(
        "/kiosk/{slug}/tiket",
        &[("POST", Public)],
        post(queue::take_ticket),
    )
    .add(
        "/kiosk/{slug}/lapor",
        &[("POST", Public)],
        post(booking::check_in),
    )
    .add(
        "/layanan/{id}/pesan",
        &[("GET", Citizen), ("POST", Citizen)],
        get(booking::book_form).post(booking::book),
    )
    .add(
        "/akun/pesanan/{id}",
        &[("GET", Citizen)],
        get(booking::booking),
    )
    .add(
        "/akun/pesanan/{id}/batal",
        &[("POST", Citizen)],
        post(booking::cancel),
    )
    .add(
        "/akun/pesanan/{id}/pindah",
        &[("POST", Citizen)],
        post(booking::reschedule),
    )
    .add(
        "/layanan/{id}/ajukan",
        &[("GET", Citizen), ("POST", Citizen)],
        get(applications::apply_form).post(applications::apply),
    )
    .add(
        "/akun/permohonan",
        &[("GET", Citizen)],
        get(applications::list),
    )
    .add(
        "/akun/permohonan/{id}",
        &[("GET", Citizen), ("POST", Citizen)],
        get(applications::application).post(applications::save),
    )
    .add(
        "/akun/permohonan/{id}/dokumen",
        &[("POST", Citizen)],
        post(applications::upload).layer(upload_limit()),
    )
    .add(
        "/akun/permohonan/{id}/dokumen/{doc}",
        &[("GET", Citizen), ("POST", Citizen)],
        get(applications::download).post(applications::collect),
    )
    .add(
        "/akun/permohonan/{id}/tarik",
        &[("POST", Citizen)],
        post(applications::withdraw),
    )
    .add(
        "/akun/permohonan/{id}/tanda-terima",
        &[("GET", Citizen)],
        get(applications::receipt),
    )
    .add(
        "/lacak",
        &[("GET", Public)],
        get(applications::track).route_layer(lookup_limit(sign_in_burst, proxies)),
    )
    .add(
        "/staf/permohonan/{tenant}",
        &[("GET", Staff(ProcessApplications))],
        get(applications::inbox),
    )
    .add(
        "/staf/permohonan/{tenant}/{application}",
        &[
            ("GET", Staff(ProcessApplications)),
            ("POST", Staff(ProcessApplications)),
        ],
        get(applications::office_item).post(applications::office_step),
    )
    .add(
        "/staf/permohonan/{tenant}/{application}/surat",
        &[("POST", Staff(ProcessApplications))],
        post(applications::office_letter),
    )
    .add(
        "/staf/permohonan/{tenant}/{application}/hasil",
        &[("POST", Staff(ProcessApplications))],
        post(applications::office_attach).layer(upload_limit()),
    )
    .add(
        "/staf/permohonan/{tenant}/{application}/dokumen/{doc}",
        &[("GET", Staff(ProcessApplications))],
        get(applications::office_download),
    )
    .add("/paket/{id}", &[("GET", Public)], get(bundles::bundle_page))
    .add(
        "/paket/{id}/ajukan",
        &[("POST", Citizen)],
        post(bundles::start),
    )
    .add(
        "/akun/paket/{id}",
        &[("GET", Citizen), ("POST", Citizen)],
        get(bundles::bundle_application).post(bundles::save),
    )
    .add(
        "/akun/paket/{id}/tarik",
        &[("POST", Citizen)],
        post(bundles::withdraw),
    )
    .add(
        "/akun/paket/{id}/dokumen",
        &[("POST", Citizen)],
        post(bundles::upload).layer(upload_limit()),
    )
    .add(
        "/staf/mpp/{slug}/paket",
        &[("GET", Staff(EditMpp)), ("POST", Staff(EditMpp))],
        get(bundles::compose_form).post(bundles::compose),
    )
    .add("/antrean/{id}", &[("GET", Public)], get(queue::ticket))
    .add(
        "/antrean/{id}/batal",
        &[("POST", Public)],
        post(queue::cancel_ticket),
    )
    .add("/papan/{slug}", &[("GET", Public)], get(queue::board))
    .add(
        "/papan/{slug}/peristiwa",
        &[("GET", Public)],
        get(queue::board_feed),
    )
    .add(
        "/staf/loket/{id}",
        &[
            ("GET", Staff(OperateCounter)),
            ("POST", Staff(OperateCounter)),
        ],
        get(queue::console).post(queue::console_action),
    )
    .add("/static/style.css", &[("GET", Public)], get(pages::style))
    .add(
        "/static/board.js",
        &[("GET", Public)],
        get(pages::board_script),
    )
    .add(
        "/static/ticket.js",
        &[("GET", Public)],
        get(pages::ticket_script),
    )
    .add("/openapi.json", &[("GET", Public)], get(openapi_document));
    (routes.router, routes.table)
}

/// Uploads may carry one document of up to `MAX_DOCUMENT_BYTES` and the form's few fields.
fn upload_limit() -> axum::extract::DefaultBodyLimit {
    let limit = crate::domain::form::MAX_DOCUMENT_BYTES + 64 * 1024;
    axum::extract::DefaultBodyLimit::max(usize::try_from(limit).unwrap_or(usize::MAX))
}

/// Every people's route with its access (for the authorization matrix test).
pub fn page_route_table() -> Vec<RouteSpec> {
    page_routes(10, &Arc::new(Vec::new())).1
}

/// Inviting: the role invited decides, so the route stands for "invite someone".
pub const INVITE: crate::domain::roles::Action =
    crate::domain::roles::Action::Invite(crate::domain::roles::Role::Officer);

/// Access of each API operation, by method and path: every operation in the OpenAPI document
/// must be here.
pub const API_ACCESS: &[(&str, &str, Access)] = &[
    ("get", "/api/v1/regions", Access::Public),
    ("get", "/api/v1/mpps", Access::Public),
    ("get", "/api/v1/mpps/{slug}", Access::Public),
    ("get", "/api/v1/mpps/{slug}/tenants", Access::Public),
    ("get", "/api/v1/services", Access::Public),
    ("get", "/api/v1/services/{id}", Access::Public),
    (
        "patch",
        "/api/v1/services/{id}",
        Access::Token("catalog:write", crate::domain::roles::Action::EditService),
    ),
    ("get", "/api/v1/services/{id}/slots", Access::Public),
    ("post", "/api/v1/session/code", Access::Public),
    ("post", "/api/v1/session", Access::Public),
    ("delete", "/api/v1/session", Access::Citizen),
    ("get", "/api/v1/bookings", Access::Citizen),
    ("post", "/api/v1/bookings", Access::Citizen),
    ("get", "/api/v1/bookings/{id}", Access::Citizen),
    ("post", "/api/v1/bookings/{id}/cancel", Access::Citizen),
    ("post", "/api/v1/bookings/{id}/reschedule", Access::Citizen),
    ("get", "/api/v1/tickets/{id}", Access::Public),
    ("get", "/api/v1/mpps/{slug}/board", Access::Public),
    (
        "get",
        "/api/v1/counters/{id}",
        Access::Token(
            "queue:operate",
            crate::domain::roles::Action::OperateCounter,
        ),
    ),
    (
        "post",
        "/api/v1/counters/{id}/actions",
        Access::Token(
            "queue:operate",
            crate::domain::roles::Action::OperateCounter,
        ),
    ),
    (
        "get",
        "/api/v1/tenants/{id}/applications",
        Access::Token(
            "applications:process",
            crate::domain::roles::Action::ProcessApplications,
        ),
    ),
    (
        "get",
        "/api/v1/applications/{id}",
        Access::Token(
            "applications:process",
            crate::domain::roles::Action::ProcessApplications,
        ),
    ),
    (
        "get",
        "/api/v1/applications/{id}/documents/{document}",
        Access::Token(
            "applications:process",
            crate::domain::roles::Action::ProcessApplications,
        ),
    ),
    (
        "post",
        "/api/v1/applications/{id}/steps",
        Access::Token(
            "applications:process",
            crate::domain::roles::Action::ProcessApplications,
        ),
    ),
    (
        "post",
        "/api/v1/applications/{id}/letter",
        Access::Token(
            "applications:process",
            crate::domain::roles::Action::ProcessApplications,
        ),
    ),
    (
        "put",
        "/api/v1/applications/{id}/output",
        Access::Token(
            "applications:process",
            crate::domain::roles::Action::ProcessApplications,
        ),
    ),
    ("get", "/api/v1/tracking/{code}", Access::Public),
    ("get", "/api/v1/me/applications", Access::Citizen),
    ("post", "/api/v1/me/applications", Access::Citizen),
    ("get", "/api/v1/me/applications/{id}", Access::Citizen),
    (
        "put",
        "/api/v1/me/applications/{id}/answers",
        Access::Citizen,
    ),
    (
        "put",
        "/api/v1/me/applications/{id}/uploads/{field}",
        Access::Citizen,
    ),
    (
        "post",
        "/api/v1/me/applications/{id}/submit",
        Access::Citizen,
    ),
    (
        "post",
        "/api/v1/me/applications/{id}/withdraw",
        Access::Citizen,
    ),
    (
        "post",
        "/api/v1/me/applications/{id}/collect",
        Access::Citizen,
    ),
    (
        "post",
        "/api/v1/me/applications/{id}/uploads/{field}/resumable",
        Access::Citizen,
    ),
    ("get", "/api/v1/me/uploads/{upload}", Access::Citizen),
    ("patch", "/api/v1/me/uploads/{upload}", Access::Citizen),
    ("get", "/api/v1/services/{id}/form", Access::Public),
    (
        "get",
        "/api/v1/me/applications/{id}/documents/{document}",
        Access::Citizen,
    ),
    ("get", "/api/v1/templates", Access::Public),
    ("get", "/api/v1/templates/{slug}", Access::Public),
    ("get", "/healthz", Access::Public),
    ("get", "/readyz", Access::Public),
];

/// The API routes and their OpenAPI description, from one registration.
fn api_router(sign_in_burst: u32, proxies: &Arc<Vec<std::net::IpAddr>>) -> OpenApiRouter<AppState> {
    // Signing in is limited per client address, as on the sign-in pages.
    let sign_in = OpenApiRouter::new()
        .routes(routes!(api_queue::send_code))
        .routes(routes!(api_queue::start_session, api_queue::end_session))
        .route_layer(per_address_limit(sign_in_burst, proxies, true));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(sign_in)
        .routes(routes!(api_queue::service_slots))
        .routes(routes!(api_queue::list_bookings, api_queue::create_booking))
        .routes(routes!(api_queue::get_booking))
        .routes(routes!(api_queue::cancel_booking))
        .routes(routes!(api_queue::reschedule_booking))
        .routes(routes!(api_queue::get_ticket))
        .routes(routes!(api_queue::board))
        .routes(routes!(api_queue::get_counter))
        .routes(routes!(api_queue::counter_action))
        .routes(routes!(api_applications::inbox))
        .routes(routes!(api_applications::get_application))
        .routes(routes!(api_applications::get_document))
        .routes(routes!(api_applications::post_step))
        .routes(routes!(api_applications::post_letter))
        .routes(routes!(api_applications::my_applications, api_apply::start))
        .routes(routes!(api_applications::my_application))
        .routes(routes!(api_applications::my_document))
        .routes(routes!(api_apply::service_form))
        .routes(routes!(api_apply::put_answers))
        .routes(routes!(api_apply::submit))
        .routes(routes!(api_apply::withdraw))
        .routes(routes!(api_apply::collect))
        .routes(routes!(api_apply::start_resumable))
        .routes(routes!(api_apply::get_upload, api_apply::patch_upload))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(api_applications::put_output))
                .routes(routes!(api_apply::put_document))
                .layer(upload_limit()),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(api_applications::track))
                .route_layer(address_limit(
                    sign_in_burst.saturating_mul(2),
                    3,
                    axum::http::Method::GET,
                    proxies,
                    true,
                )),
        )
        .routes(routes!(api::list_regions))
        .routes(routes!(api::list_mpps))
        .routes(routes!(api::get_mpp))
        .routes(routes!(api::list_tenants))
        .routes(routes!(api::list_services))
        .routes(routes!(api::get_service, api::patch_service))
        .routes(routes!(api::list_templates))
        .routes(routes!(api::get_template))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// The OpenAPI document as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router(10, &Arc::new(Vec::new())).split_for_parts().1
}

pub fn openapi_json() -> String {
    openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

pub fn router(db: Db, catalog: SharedCatalog, settings: Settings) -> Router {
    let (api, doc) =
        api_router(settings.sign_in_burst, &settings.trusted_proxies).split_for_parts();
    let booking = Arc::new(crate::booking_desk::BookingDesk::new(&db));
    let state = AppState {
        db,
        catalog,
        settings,
        openapi_json: Arc::new(doc.to_pretty_json().unwrap_or_default()),
        page_cache: Arc::new(pages::PageCache::new()),
        booking,
        forms: Arc::new(applications::OfferedForms::default()),
    };
    let (pages, _) = page_routes(
        state.settings.sign_in_burst,
        &state.settings.trusted_proxies,
    );
    // Pages differ by the `lang` cookie: caches must key on it.
    let pages = pages.layer(SetResponseHeaderLayer::appending(
        header::VARY,
        HeaderValue::from_static("Cookie"),
    ));
    let secure = state.settings.secure_cookies;
    let router = pages
        .merge(api)
        .fallback(fallback)
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::new())
        // A span per request carrying its id, so every log line of a request can be found together;
        // the path holds no personal data (records are addressed by opaque ids).
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<axum::body::Body>| {
            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %logged_path(request.uri().path()), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIds::new()))
        // Headers on every response, pages, API and errors alike.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ));
    // Behind TLS, browsers are told to never use plain HTTP for this site again.
    if secure {
        router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ))
    } else {
        router
    }
}

/// The path as logged: secrets carried in a path (invitation and reset links) are cut off.
fn logged_path(path: &str) -> &str {
    if path.starts_with("/staf/tautan/") {
        "/staf/tautan/…"
    } else if path.starts_with("/api/v1/tracking/") {
        // A tracking code is a key to an application's status.
        "/api/v1/tracking/…"
    } else {
        path
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids `PREFIX-N`: a random prefix per process and a counter, unique across nodes
/// without a random draw (a system call) per request.
#[derive(Clone)]
struct RequestIds {
    prefix: u32,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl RequestIds {
    fn new() -> RequestIds {
        let random = uuid::Uuid::new_v4().as_u128();
        RequestIds {
            prefix: random as u32,
            next: Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:08x}-{n:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// Sign-in requests per client address: a burst of `burst` (10 by default), then one every 6 seconds (POST only;
/// reading the forms is not limited). Per account limits live in storage (codes per address,
/// tries per code). Each node counts on its own. Behind trusted proxies the client's address
/// comes from `X-Forwarded-For` ([`client_address`]).
fn per_address_limit(
    burst: u32,
    proxies: &Arc<Vec<std::net::IpAddr>>,
    api: bool,
) -> GovernorLayer<ClientAddress, NoOpMiddleware<QuantaInstant>, axum::body::Body> {
    address_limit(burst, 6, axum::http::Method::POST, proxies, api)
}

/// Lookups by a secret code (public tracking): `burst` at once, then one every 3 seconds per
/// client address, so guessing a 60-bit code is hopeless.
fn lookup_limit(
    burst: u32,
    proxies: &Arc<Vec<std::net::IpAddr>>,
) -> GovernorLayer<ClientAddress, NoOpMiddleware<QuantaInstant>, axum::body::Body> {
    address_limit(
        burst.saturating_mul(2),
        3,
        axum::http::Method::GET,
        proxies,
        false,
    )
}

fn address_limit(
    burst: u32,
    period_seconds: u64,
    method: axum::http::Method,
    proxies: &Arc<Vec<std::net::IpAddr>>,
    api: bool,
) -> GovernorLayer<ClientAddress, NoOpMiddleware<QuantaInstant>, axum::body::Body> {
    let config = GovernorConfigBuilder::default()
        .key_extractor(ClientAddress {
            trusted: proxies.clone(),
        })
        .period(std::time::Duration::from_secs(period_seconds))
        .burst_size(burst.max(1))
        .methods(vec![method])
        .finish()
        .expect("a non-zero period and burst");
    // Forget quiet addresses every minute, until the router is dropped.
    let limiter = Arc::downgrade(config.limiter());
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(60));
            match limiter.upgrade() {
                Some(limiter) => limiter.retain_recent(),
                None => break,
            }
        }
    });
    GovernorLayer::new(config).error_handler(move |error| match error {
        GovernorError::TooManyRequests { .. } => {
            let (id, en) = (
                "Terlalu banyak percobaan dari alamat jaringan ini. Tunggu sebentar lalu coba lagi.",
                "Too many attempts from this network address. Wait a moment and try again.",
            );
            let status = axum::http::StatusCode::TOO_MANY_REQUESTS;
            if api {
                errors::ApiError::new(status, "rate_limited", id, en).into_response()
            } else {
                errors::PageError::status(i18n::Lang::Id, status, id, en).into_response()
            }
        }
        other => {
            tracing::warn!(error = %other, "rate limiter");
            errors::PageError::status(
                i18n::Lang::Id,
                axum::http::StatusCode::BAD_REQUEST,
                "Permintaan tidak dapat diproses.",
                "The request cannot be processed.",
            )
            .into_response()
        }
    })
}

/// The client's network address for rate limits: the peer, or, when the peer is a trusted
/// reverse proxy, the nearest address in `X-Forwarded-For` that is not a trusted proxy (the
/// ones further left can be forged by the client).
#[derive(Clone)]
pub struct ClientAddress {
    trusted: Arc<Vec<std::net::IpAddr>>,
}

impl KeyExtractor for ClientAddress {
    type Key = std::net::IpAddr;

    fn extract<T>(&self, req: &axum::http::Request<T>) -> Result<Self::Key, GovernorError> {
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or(GovernorError::UnableToExtractKey)?;
        Ok(client_address(peer, req.headers(), &self.trusted))
    }
}

pub fn client_address(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer)
}

/// The content security policy: no inline script or style is ever needed, so none is allowed.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: std::net::IpAddr = "10.0.0.5".parse().expect("ip");
        let client: std::net::IpAddr = "36.85.1.2".parse().expect("ip");
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 36.85.1.2"),
        );
        // Not trusted: the peer is the client, whatever the header says.
        assert_eq!(client_address(proxy, &headers, &[]), proxy);
        // Trusted: the rightmost untrusted address; the forged one on the left is ignored.
        assert_eq!(client_address(proxy, &headers, &[proxy]), client);
        // Two proxies in a row.
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("36.85.1.2, 10.0.0.9"),
        );
        let inner: std::net::IpAddr = "10.0.0.9".parse().expect("ip");
        assert_eq!(client_address(proxy, &headers, &[proxy, inner]), client);
        // No header: the proxy itself.
        assert_eq!(
            client_address(proxy, &axum::http::HeaderMap::new(), &[proxy]),
            proxy
        );
    }
}

async fn openapi_document(State(app): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        app.openapi_json.as_str().to_owned(),
    )
        .into_response()
}

async fn fallback(lang: i18n::Lang, uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::not_found("Alamat API", "API path").into_response()
    } else {
        pages::not_found(lang, uri).await
    }
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "ok", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "ready", body = String),
              (status = 503, body = errors::Problem, content_type = "application/problem+json")))]
async fn readyz(State(app): State<AppState>) -> Result<&'static str, ApiError> {
    app.db.ping().await.map_err(|e| ApiError::unavailable(&e))?;
    Ok("ready")
}
