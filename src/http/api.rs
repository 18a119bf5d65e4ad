//! The machines' API under `/api/v1`: JSON, paginated lists, problem+json errors, described by the
//! OpenAPI document generated from these handlers.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::AppState;
use super::errors::{ApiError, Problem};
use crate::catalog::search::SearchRequest;
use crate::catalog::{Catalog, Mpp, Service};
use crate::domain::catalog::{Fee, MppStatus};
use crate::domain::opening::{OpenState, state_at, time_zone, time_zone_name};
use crate::domain::region::{RegionCode, RegionLevel};

const DEFAULT_PER_PAGE: u32 = 20;
const MAX_PER_PAGE: u32 = 100;
const MAX_PAGE: u32 = 10_000;
/// How deep a search can be paged: 100 pages of at most 100, as search engines bound their
/// result window (the cost of a page grows with its offset).
const MAX_SEARCH_PAGE: u32 = 100;

/// A page of a list.
#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Number of items in the whole list.
    pub total: usize,
    pub page: u32,
    pub per_page: u32,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<u32>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

impl Paging {
    pub(super) fn resolve(
        page: Option<u32>,
        per_page: Option<u32>,
    ) -> Result<(u32, u32), ApiError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(ApiError::bad_parameter(
                format!("page harus 1 sampai {MAX_PAGE}."),
                format!("page must be 1 to {MAX_PAGE}."),
            ));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::bad_parameter(
                format!("per_page harus 1 sampai {MAX_PER_PAGE}."),
                format!("per_page must be 1 to {MAX_PER_PAGE}."),
            ));
        }
        Ok((page, per_page))
    }
}

fn paginate<T, U>(all: Vec<T>, page: u32, per_page: u32, map: impl Fn(T) -> U) -> Page<U> {
    let total = all.len();
    let start = ((page - 1) * per_page) as usize;
    let items = all
        .into_iter()
        .skip(start)
        .take(per_page as usize)
        .map(map)
        .collect();
    Page {
        items,
        total,
        page,
        per_page,
    }
}

fn query_error(rejection: QueryRejection) -> ApiError {
    // serde's explanation names the parameter and the problem, in English.
    ApiError::bad_parameter(
        format!(
            "Parameter tidak valid: periksa nama dan jenis nilainya ({}).",
            rejection.body_text()
        ),
        format!("Invalid parameter: {}", rejection.body_text()),
    )
}

fn region_param(catalog: &Catalog, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    match RegionCode::parse(raw) {
        Ok(code) if code.level() != RegionLevel::District => {
            if catalog.region_name(raw).is_none() {
                return Err(ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "unknown_region",
                    format!("Wilayah {raw} tidak ada dalam registri."),
                    format!("Region {raw} is not in the registry."),
                ));
            }
            Ok(Some(code.to_string()))
        }
        _ => Err(ApiError::bad_parameter(
            "region harus kode Kemendagri provinsi (35) atau kabupaten/kota (35.79).",
            "region must be a Kemendagri province (35) or kabupaten/kota (35.79) code.",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Regions

#[derive(Serialize, ToSchema)]
pub struct RegionOut {
    /// Kemendagri code: `35` or `35.79`.
    pub code: String,
    pub name: String,
    /// `province` or `regency` (kabupaten/kota).
    pub level: String,
    /// The province of a kabupaten/kota.
    pub parent: Option<String>,
    /// `kabupaten` or `kota`, for a regency.
    pub kind: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegionParams {
    /// `province` or `regency`; both when absent.
    pub level: Option<String>,
    /// Only the kabupaten/kota of this province code.
    #[param(pattern = r"^[0-9]{2}$")]
    pub parent: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<u32>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// Provinces and kabupaten/kota of the national registry.
#[utoipa::path(get, path = "/api/v1/regions", tag = "registry", params(RegionParams),
    responses((status = 200, body = Page<RegionOut>), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn list_regions(
    State(app): State<AppState>,
    params: Result<Query<RegionParams>, QueryRejection>,
) -> Result<Json<Page<RegionOut>>, ApiError> {
    let Query(params) = params.map_err(query_error)?;
    let (page, per_page) = Paging::resolve(params.page, params.per_page)?;
    let catalog = app.catalog.get();
    let level = params.level.as_deref().filter(|l| !l.is_empty());
    if let Some(level) = level
        && level != "province"
        && level != "regency"
    {
        return Err(ApiError::bad_parameter(
            "level harus province atau regency.",
            "level must be province or regency.",
        ));
    }
    let parent = params.parent.as_deref().filter(|p| !p.is_empty());
    if let Some(p) = parent
        && RegionCode::parse(p).map(|c| c.level()) != Ok(RegionLevel::Province)
    {
        return Err(ApiError::bad_parameter(
            "parent harus kode provinsi, mis. 35.",
            "parent must be a province code, e.g. 35.",
        ));
    }
    let mut all: Vec<RegionOut> = Vec::new();
    if level != Some("regency") && parent.is_none() {
        all.extend(catalog.provinces.iter().map(|p| RegionOut {
            code: p.code.clone(),
            name: p.name.clone(),
            level: "province".into(),
            parent: None,
            kind: None,
        }));
    }
    if level != Some("province") {
        all.extend(
            catalog
                .regencies
                .iter()
                .filter(|r| parent.is_none_or(|p| r.province_code == p))
                .map(|r| RegionOut {
                    code: r.code.clone(),
                    name: r.name.clone(),
                    level: "regency".into(),
                    parent: Some(r.province_code.clone()),
                    kind: Some(r.kind.clone()),
                }),
        );
    }
    all.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(Json(paginate(all, page, per_page, |r| r)))
}

// ---------------------------------------------------------------------------------------------
// MPPs

#[derive(Serialize, ToSchema)]
pub struct MppSummary {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    /// Kemendagri code of the kabupaten/kota.
    pub region: String,
    pub region_name: String,
    pub province: String,
    pub province_name: String,
    #[schema(value_type = String, example = "operating")]
    pub status: MppStatus,
    pub address: String,
    pub tenant_count: usize,
    pub service_count: usize,
    /// The people's page of this MPP.
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct OpeningHoursOut {
    /// 1 = Monday … 7 = Sunday.
    pub weekday: u8,
    /// `HH:MM`, local time of the MPP.
    pub opens: String,
    pub closes: String,
}

#[derive(Serialize, ToSchema)]
pub struct MppDetail {
    #[serde(flatten)]
    pub summary: MppSummary,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub inaugurated_on: Option<chrono::NaiveDate>,
    /// Local time zone of the hours: `WIB`, `WITA` or `WIT`.
    pub time_zone: String,
    pub opening_hours: Vec<OpeningHoursOut>,
    /// Open at the moment of the request (hours, holidays and closures considered); null without hours.
    pub open_now: Option<bool>,
    /// The next national holidays, cuti bersama and MPP closures.
    pub upcoming_days_off: Vec<DayOffOut>,
}

#[derive(Serialize, ToSchema)]
pub struct DayOffOut {
    pub date: chrono::NaiveDate,
    pub name: String,
    /// `libur_nasional`, `cuti_bersama` or `closure`.
    pub kind: String,
}

fn mpp_summary(catalog: &Catalog, m: &Mpp) -> MppSummary {
    MppSummary {
        id: m.id,
        slug: m.slug.clone(),
        name: m.name.clone(),
        region: m.region_code.clone(),
        region_name: catalog
            .region_name(&m.region_code)
            .unwrap_or_default()
            .to_owned(),
        province: m.province_code.clone(),
        province_name: catalog
            .region_name(&m.province_code)
            .unwrap_or_default()
            .to_owned(),
        status: m.status,
        address: m.address.clone(),
        tenant_count: m.tenants.len(),
        service_count: m.service_count,
        url: format!("/mpp/{}", m.slug),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MppParams {
    /// Province (`35`) or kabupaten/kota (`35.79`) code.
    #[param(pattern = r"^[0-9]{2}(\.[0-9]{2})?$")]
    pub region: Option<String>,
    /// `planned`, `pilot` or `operating`.
    pub status: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<u32>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// MPPs, optionally of one region or status, ordered by region code and name.
#[utoipa::path(get, path = "/api/v1/mpps", tag = "catalog", params(MppParams),
    responses((status = 200, body = Page<MppSummary>), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn list_mpps(
    State(app): State<AppState>,
    params: Result<Query<MppParams>, QueryRejection>,
) -> Result<Json<Page<MppSummary>>, ApiError> {
    let Query(params) = params.map_err(query_error)?;
    let (page, per_page) = Paging::resolve(params.page, params.per_page)?;
    let catalog = app.catalog.get();
    let region = region_param(&catalog, params.region.as_deref())?;
    let status = match params.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(MppStatus::parse(raw).ok_or_else(|| {
            ApiError::bad_parameter(
                "status harus planned, pilot, atau operating.",
                "status must be planned, pilot or operating.",
            )
        })?),
    };
    let mut all: Vec<&Mpp> = catalog
        .mpps_in(region.as_deref())
        .filter(|m| status.is_none_or(|s| m.status == s))
        .collect();
    all.sort_by(|a, b| (&a.region_code, &a.name).cmp(&(&b.region_code, &b.name)));
    Ok(Json(paginate(all, page, per_page, |m| {
        mpp_summary(&catalog, m)
    })))
}

fn find_mpp(
    catalog: &Catalog,
    slug: Result<Path<String>, PathRejection>,
) -> Result<&Mpp, ApiError> {
    let Path(slug) = slug.map_err(|_| ApiError::not_found("MPP", "MPP"))?;
    catalog
        .mpp(&slug)
        .ok_or_else(|| ApiError::not_found(&format!("MPP {slug:?}"), &format!("MPP {slug:?}")))
}

/// One MPP with its contact details and opening hours.
#[utoipa::path(get, path = "/api/v1/mpps/{slug}", tag = "catalog",
    params(("slug" = String, Path, description = "The MPP's slug, as in /mpp/{slug}")),
    responses((status = 200, body = MppDetail), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_mpp(
    State(app): State<AppState>,
    slug: Result<Path<String>, PathRejection>,
) -> Result<Json<MppDetail>, ApiError> {
    let catalog = app.catalog.get();
    let m = find_mpp(&catalog, slug)?;
    let now = chrono::Utc::now()
        .with_timezone(&time_zone(&m.province_code))
        .naive_local();
    let open_now = (!m.hours.is_empty()).then(|| {
        let calendar = catalog.calendar(m, now.date(), true);
        matches!(state_at(&m.hours, &calendar, now), OpenState::Open { .. })
    });
    let upcoming_days_off = catalog
        .upcoming_days_off(m, now.date(), 10)
        .into_iter()
        .map(|(date, name, kind)| DayOffOut {
            date,
            name: name.to_owned(),
            kind: kind.to_owned(),
        })
        .collect();
    Ok(Json(MppDetail {
        summary: mpp_summary(&catalog, m),
        phone: m.phone.clone(),
        email: m.email.clone(),
        website: m.website.clone(),
        inaugurated_on: m.inaugurated_on,
        time_zone: time_zone_name(&m.province_code).to_owned(),
        open_now,
        upcoming_days_off,
        opening_hours: m
            .hours
            .iter()
            .map(|h| OpeningHoursOut {
                weekday: h.weekday,
                opens: h.opens.format("%H:%M").to_string(),
                closes: h.closes.format("%H:%M").to_string(),
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct AgencyOut {
    pub slug: String,
    pub name: String,
    pub short_name: Option<String>,
    /// `pusat`, `daerah`, `bumn_bumd` or `lainnya`.
    pub kind: String,
}

#[derive(Serialize, ToSchema)]
pub struct TenantOut {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub agency: AgencyOut,
    pub location: Option<String>,
    pub description: Option<String>,
    pub service_count: usize,
    pub url: String,
}

/// The tenants (UPP) of an MPP, ordered by name.
#[utoipa::path(get, path = "/api/v1/mpps/{slug}/tenants", tag = "catalog",
    params(("slug" = String, Path, description = "The MPP's slug"), Paging),
    responses((status = 200, body = Page<TenantOut>), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_tenants(
    State(app): State<AppState>,
    slug: Result<Path<String>, PathRejection>,
    params: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<Page<TenantOut>>, ApiError> {
    let Query(paging) = params.map_err(query_error)?;
    let (page, per_page) = Paging::resolve(paging.page, paging.per_page)?;
    let catalog = app.catalog.get();
    let m = find_mpp(&catalog, slug)?;
    let all: Vec<usize> = m.tenants.clone();
    Ok(Json(paginate(all, page, per_page, |i| {
        let t = &catalog.tenants[i];
        let a = &catalog.agencies[t.agency];
        TenantOut {
            id: t.id,
            slug: t.slug.clone(),
            name: t.name.clone(),
            agency: AgencyOut {
                slug: a.slug.clone(),
                name: a.name.clone(),
                short_name: a.short_name.clone(),
                kind: a.kind.as_str().to_owned(),
            },
            location: t.location.clone(),
            description: t.description.clone(),
            service_count: t.services.len(),
            url: format!("/mpp/{}/upp/{}", m.slug, t.slug),
        }
    })))
}

// ---------------------------------------------------------------------------------------------
// Services

#[derive(Serialize, ToSchema)]
pub struct TimeLimitOut {
    pub value: u32,
    /// `minutes`, `hours` or `working_days`.
    pub unit: String,
}

#[derive(Serialize, ToSchema)]
pub struct PlaceOut {
    pub slug: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceSummary {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub mpp: PlaceOut,
    pub tenant: PlaceOut,
    pub agency: PlaceOut,
    /// Kemendagri code of the MPP's kabupaten/kota.
    pub region: String,
    /// Slug of the national template the service derives from.
    pub template: Option<String>,
    /// Fee in whole rupiah; 0 means free unless `fee_variable`.
    pub fee_rupiah: i64,
    /// The amount depends on the case; `fee_rupiah` is its fixed part (see `fee_legal_basis`).
    pub fee_variable: bool,
    pub time_limit: TimeLimitOut,
    pub url: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RequirementOut {
    pub text: String,
    pub note: Option<String>,
}

/// A service with its whole Standar Pelayanan (UU 25/2009, PermenPANRB 15/2014).
#[derive(Serialize, ToSchema)]
pub struct ServiceDetail {
    #[serde(flatten)]
    pub summary: ServiceSummary,
    pub description: Option<String>,
    pub requirements: Vec<RequirementOut>,
    /// Ordered steps.
    pub procedure: Vec<String>,
    pub fee_legal_basis: Option<String>,
    pub product: String,
    pub complaint_channel: String,
    pub legal_basis: String,
    pub facilities: Option<String>,
    pub staff_competence: Option<String>,
    pub internal_supervision: Option<String>,
    pub staff_count: Option<String>,
    pub service_guarantee: Option<String>,
    pub security_guarantee: Option<String>,
    pub performance_evaluation: Option<String>,
}

fn service_summary(catalog: &Catalog, s: &Service) -> ServiceSummary {
    let m = &catalog.mpps[s.mpp];
    let t = &catalog.tenants[s.tenant];
    let a = &catalog.agencies[t.agency];
    ServiceSummary {
        id: s.id,
        slug: s.slug.clone(),
        name: s.name.clone(),
        mpp: PlaceOut {
            slug: m.slug.clone(),
            name: m.name.clone(),
        },
        tenant: PlaceOut {
            slug: t.slug.clone(),
            name: t.name.clone(),
        },
        agency: PlaceOut {
            slug: a.slug.clone(),
            name: a.name.clone(),
        },
        region: m.region_code.clone(),
        template: s.template.map(|i| catalog.templates[i].slug.clone()),
        fee_rupiah: match s.fee {
            Fee::Free => 0,
            Fee::Fixed(amount) | Fee::Variable { from: amount } => amount.0,
        },
        fee_variable: matches!(s.fee, Fee::Variable { .. }),
        time_limit: TimeLimitOut {
            value: s.time_limit.value,
            unit: s.time_limit.unit.as_str().to_owned(),
        },
        url: format!("/layanan/{}", s.id),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceParams {
    /// Search text, in Indonesian or English; ranked by relevance. Without it, every service.
    pub q: Option<String>,
    /// Province (`35`) or kabupaten/kota (`35.79`) code.
    #[param(pattern = r"^[0-9]{2}(\.[0-9]{2})?$")]
    pub region: Option<String>,
    /// MPP slug.
    pub mpp: Option<String>,
    /// Agency slug.
    pub agency: Option<String>,
    /// Page number, from 1 to 100: a search can be paged through its first 10,000 results.
    #[param(minimum = 1, maximum = 100)]
    pub page: Option<u32>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// Searches the services of every MPP.
#[utoipa::path(get, path = "/api/v1/services", tag = "catalog", params(ServiceParams),
    responses((status = 200, body = Page<ServiceSummary>), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn list_services(
    State(app): State<AppState>,
    params: Result<Query<ServiceParams>, QueryRejection>,
) -> Result<Json<Page<ServiceSummary>>, ApiError> {
    let Query(params) = params.map_err(query_error)?;
    let (page, per_page) = Paging::resolve(params.page, params.per_page)?;
    if page > MAX_SEARCH_PAGE {
        return Err(ApiError::bad_parameter(
            format!("page pencarian harus 1 sampai {MAX_SEARCH_PAGE}; persempit dengan filter."),
            format!("A search page must be 1 to {MAX_SEARCH_PAGE}; narrow with filters."),
        ));
    }
    let catalog = app.catalog.get();
    let region = region_param(&catalog, params.region.as_deref())?;
    let q = params.q.as_deref().unwrap_or("").trim();
    if q.chars().count() > 200 {
        return Err(ApiError::bad_parameter(
            "q terlalu panjang (paling banyak 200 huruf).",
            "q is too long (at most 200 characters).",
        ));
    }
    let mpp = params.mpp.as_deref().filter(|s| !s.is_empty());
    if let Some(slug) = mpp
        && catalog.mpp(slug).is_none()
    {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unknown_mpp",
            format!("MPP {slug:?} tidak dikenal."),
            format!("MPP {slug:?} is unknown."),
        ));
    }
    let agency = params.agency.as_deref().filter(|s| !s.is_empty());
    if let Some(slug) = agency
        && catalog.agency(slug).is_none()
    {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unknown_agency",
            format!("Instansi {slug:?} tidak dikenal."),
            format!("Agency {slug:?} is unknown."),
        ));
    }
    let request = SearchRequest {
        text: q,
        region: region.as_deref(),
        mpp,
        agency,
        offset: ((page - 1) * per_page) as usize,
        limit: per_page as usize,
    };
    let found = catalog
        .search(&request)
        .map_err(|e| ApiError::internal(&e))?;
    let items = found
        .hits
        .iter()
        .map(|&i| service_summary(&catalog, &catalog.services[i]))
        .collect();
    Ok(Json(Page {
        items,
        total: found.total,
        page,
        per_page,
    }))
}

/// One service with its whole Standar Pelayanan.
#[utoipa::path(get, path = "/api/v1/services/{id}", tag = "catalog",
    params(("id" = Uuid, Path, description = "The service id")),
    responses((status = 200, body = ServiceDetail), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_service(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ServiceDetail>, ApiError> {
    let Ok(Path(raw)) = id else {
        return Err(ApiError::bad_parameter(
            "id layanan tidak valid.",
            "Invalid service id.",
        ));
    };
    let id = Uuid::parse_str(&raw).map_err(|_| {
        ApiError::bad_parameter(
            "id layanan harus UUID, mis. 0193a1b2-....",
            "The service id must be a UUID, e.g. 0193a1b2-....",
        )
    })?;
    let catalog = app.catalog.get();
    let s = catalog
        .service(id)
        .ok_or_else(|| ApiError::not_found("Layanan", "Service"))?;
    Ok(Json(ServiceDetail {
        summary: service_summary(&catalog, s),
        description: s.description.clone(),
        requirements: s
            .requirements
            .iter()
            .map(|r| RequirementOut {
                text: r.text.clone(),
                note: r.note.clone(),
            })
            .collect(),
        procedure: s.procedure.clone(),
        fee_legal_basis: s.fee_legal_basis.clone(),
        product: s.product.clone(),
        complaint_channel: s.complaint_channel.clone(),
        legal_basis: s.legal_basis.clone(),
        facilities: s.facilities.clone(),
        staff_competence: s.staff_competence.clone(),
        internal_supervision: s.internal_supervision.clone(),
        staff_count: s.staff_count.clone(),
        service_guarantee: s.service_guarantee.clone(),
        security_guarantee: s.security_guarantee.clone(),
        performance_evaluation: s.performance_evaluation.clone(),
    }))
}

// ---------------------------------------------------------------------------------------------
// National templates

#[derive(Serialize, ToSchema)]
pub struct TemplateOut {
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    /// Services derived from this template across all MPPs.
    pub service_count: usize,
    /// The people's page comparing it across MPPs.
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct TemplateDetail {
    #[serde(flatten)]
    pub template: TemplateOut,
    /// Every service derived from it, by province and MPP name.
    pub services: Vec<ServiceSummary>,
}

fn template_out(catalog: &Catalog, index: usize) -> TemplateOut {
    let t = &catalog.templates[index];
    TemplateOut {
        slug: t.slug.clone(),
        name: t.name.clone(),
        description: t.description.clone(),
        service_count: catalog.services_of_template(index).count(),
        url: format!("/layanan-nasional/{}", t.slug),
    }
}

/// National service templates: the same service offered in many MPPs, by slug.
#[utoipa::path(get, path = "/api/v1/templates", tag = "catalog", params(Paging),
    responses((status = 200, body = Page<TemplateOut>), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn list_templates(
    State(app): State<AppState>,
    params: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<Page<TemplateOut>>, ApiError> {
    let Query(paging) = params.map_err(query_error)?;
    let (page, per_page) = Paging::resolve(paging.page, paging.per_page)?;
    let catalog = app.catalog.get();
    let mut all: Vec<usize> = (0..catalog.templates.len()).collect();
    all.sort_by(|a, b| catalog.templates[*a].slug.cmp(&catalog.templates[*b].slug));
    Ok(Json(paginate(all, page, per_page, |i| {
        template_out(&catalog, i)
    })))
}

/// One national template with every MPP's service derived from it.
#[utoipa::path(get, path = "/api/v1/templates/{slug}", tag = "catalog",
    params(("slug" = String, Path, description = "The template's slug")),
    responses((status = 200, body = TemplateDetail), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_template(
    State(app): State<AppState>,
    slug: Result<Path<String>, PathRejection>,
) -> Result<Json<TemplateDetail>, ApiError> {
    let catalog = app.catalog.get();
    let found = slug
        .ok()
        .and_then(|Path(slug)| catalog.template(&slug).map(|(i, _)| i));
    let index = found.ok_or_else(|| ApiError::not_found("Layanan nasional", "National service"))?;
    Ok(Json(TemplateDetail {
        template: template_out(&catalog, index),
        services: catalog
            .services_of_template(index)
            .map(|s| service_summary(&catalog, s))
            .collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Editing with an API token

/// The staff member behind an `Authorization: Bearer` token that carries `scope`.
pub struct TokenHolder {
    pub token_id: Uuid,
    /// The staff member the token acts for.
    pub account_id: Uuid,
    pub grants: Vec<crate::domain::roles::Grant>,
}

fn unauthorized() -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Token API tidak ada, salah, kedaluwarsa, atau sudah dicabut. Kirim `Authorization: Bearer <token>`.",
        "The API token is missing, wrong, expired or revoked. Send `Authorization: Bearer <token>`.",
    )
    .into_response();
    response.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer realm=\"mpp\""),
    );
    response
}

pub(super) fn forbidden_api() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "forbidden",
        "Token ini tidak berwenang untuk tindakan ini di tempat ini.",
        "This token may not do this here.",
    )
}

/// The token of an `Authorization: Bearer …` header.
pub(super) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 200)
}

/// Checks the bearer token and its scope; the caller checks the grants at the place.
pub async fn token_holder(
    app: &AppState,
    headers: &axum::http::HeaderMap,
    scope: &str,
) -> Result<TokenHolder, axum::response::Response> {
    use axum::response::IntoResponse;
    let Some(token) = bearer(headers) else {
        return Err(unauthorized());
    };
    let now = chrono::Utc::now();
    let row =
        crate::storage::staff::token_by_hash(&app.db, &crate::credentials::token_hash(token), now)
            .await
            .map_err(|e| ApiError::internal(&e).into_response())?;
    let Some(row) = row else {
        return Err(unauthorized());
    };
    if !row.scopes.split(' ').any(|s| s == scope) {
        return Err(forbidden_api().into_response());
    }
    let grants = crate::storage::staff::grants(&app.db, row.account_id)
        .await
        .map_err(|e| ApiError::internal(&e).into_response())?
        .iter()
        .filter_map(|g| g.grant())
        .collect();
    Ok(TokenHolder {
        token_id: row.id,
        account_id: row.account_id,
        grants,
    })
}

/// The fields of a service's Standar Pelayanan to change; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub requirements: Option<Vec<RequirementOut>>,
    pub procedure: Option<Vec<String>>,
    /// Whole units; `unit` is one of `minutes`, `hours`, `working_days`.
    pub time_limit_value: Option<i64>,
    pub time_limit_unit: Option<String>,
    /// Whole rupiah; 0 is free.
    pub fee_rupiah: Option<i64>,
    pub fee_variable: Option<bool>,
    pub fee_legal_basis: Option<String>,
    pub product: Option<String>,
    pub complaint_channel: Option<String>,
    pub legal_basis: Option<String>,
}

/// What an edit changed.
#[derive(Serialize, ToSchema)]
pub struct EditResult {
    pub id: Uuid,
    /// Names of the fields that changed (empty when nothing did).
    pub changed: Vec<String>,
    /// The public page, which shows the change within the catalog refresh interval.
    pub url: String,
}

/// Changes a service's Standar Pelayanan. Needs a token with scope `catalog:write` whose owner is
/// the UPP admin of the service's tenant. The change is audited under the token.
#[utoipa::path(patch, path = "/api/v1/services/{id}", tag = "catalog",
    params(("id" = Uuid, Path, description = "The service id")),
    request_body = ServicePatch,
    security(("bearer" = ["catalog:write"])),
    responses((status = 200, body = EditResult),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn patch_service(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<ServicePatch>, axum::extract::rejection::JsonRejection>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let holder = match token_holder(&app, &headers, "catalog:write").await {
        Ok(holder) => holder,
        Err(response) => return response,
    };
    let result = async {
        let Ok(Path(raw)) = id else {
            return Err(ApiError::bad_parameter(
                "id layanan tidak valid.",
                "Invalid service id.",
            ));
        };
        let id = Uuid::parse_str(&raw).map_err(|_| {
            ApiError::bad_parameter("id layanan harus UUID.", "The service id must be a UUID.")
        })?;
        let catalog = app.catalog.get();
        let service = catalog
            .service(id)
            .ok_or_else(|| ApiError::not_found("Layanan", "Service"))?;
        let place = catalog.place(
            &catalog.mpps[service.mpp],
            Some(&catalog.tenants[service.tenant]),
        );
        if !crate::domain::roles::permits(
            &holder.grants,
            crate::domain::roles::Action::EditService,
            &place,
        ) {
            return Err(forbidden_api());
        }
        let patch = match body {
            Ok(Json(patch)) => patch,
            Err(e) => {
                return Err(ApiError::bad_parameter(
                    format!("Isi permintaan bukan JSON yang benar: {}", e.body_text()),
                    format!(
                        "The request body is not valid JSON for this operation: {}",
                        e.body_text()
                    ),
                ));
            }
        };
        let before = catalog.service_doc(service);
        let mut doc = before.clone();
        if let Some(v) = patch.name {
            doc.name = v;
        }
        if let Some(v) = patch.description {
            doc.description = Some(v);
        }
        if let Some(v) = patch.requirements {
            doc.requirements = v
                .into_iter()
                .map(|r| crate::domain::catalog::RequirementDoc {
                    text: r.text,
                    note: r.note,
                })
                .collect();
        }
        if let Some(v) = patch.procedure {
            doc.procedure = v;
        }
        if let Some(v) = patch.time_limit_value {
            doc.time_limit.value = v;
        }
        if let Some(v) = patch.time_limit_unit {
            doc.time_limit.unit = v;
        }
        if let Some(v) = patch.fee_rupiah {
            doc.fee.rupiah = v;
        }
        if let Some(v) = patch.fee_variable {
            doc.fee.variable = v;
        }
        if let Some(v) = patch.fee_legal_basis {
            doc.fee.legal_basis = Some(v);
        }
        if let Some(v) = patch.product {
            doc.product = v;
        }
        if let Some(v) = patch.complaint_channel {
            doc.complaint_channel = v;
        }
        if let Some(v) = patch.legal_basis {
            doc.legal_basis = v;
        }
        let doc = doc.normalized();
        let problems = doc.problems();
        if !problems.is_empty() {
            let (ids, ens): (Vec<String>, Vec<String>) = problems
                .iter()
                .map(|p| {
                    let (id, en) = crate::domain::catalog::problem_text(&p.message);
                    (format!("{}: {id}", p.path), format!("{}: {en}", p.path))
                })
                .unzip();
            return Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_service",
                ids.join(" "),
                ens.join(" "),
            ));
        }
        let changed = doc.changed_fields(&before);
        if !changed.is_empty() {
            crate::storage::catalog::edit_service(
                &app.db,
                service.id,
                &doc,
                crate::storage::catalog::Edit {
                    actor: &format!("token:{}", holder.token_id),
                    audit_scope: &place.audit_path(),
                    changed: &changed,
                },
            )
            .await
            .map_err(|e| ApiError::internal(&e))?;
            let (db, shared) = (app.db.clone(), app.catalog.clone());
            tokio::spawn(async move {
                if let Err(e) = shared.refresh(&db).await {
                    tracing::warn!(error = %e, "catalog refresh after an edit failed");
                }
            });
        }
        Ok(EditResult {
            id: service.id,
            changed: changed.into_iter().map(str::to_owned).collect(),
            url: format!("/layanan/{}", service.id),
        })
    }
    .await;
    match result {
        Ok(edit) => Json(edit).into_response(),
        Err(e) => e.into_response(),
    }
}
