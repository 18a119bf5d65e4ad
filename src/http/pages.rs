//! People's pages: server-rendered HTML that works without JavaScript, in Indonesian first.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;

use uuid::Uuid;

use super::AppState;
use super::errors::PageError;
use super::i18n::{Lang, Texts};
use crate::catalog::search::SearchRequest;
use crate::catalog::{Catalog, Mpp, Service, Tenant};
use crate::domain::catalog::{Fee, Rupiah};
use crate::domain::opening::{OpenState, state_at, time_zone, time_zone_name};
use crate::domain::region::{RegionCode, RegionLevel};
use chrono::{Datelike, Utc};

pub const STYLE_CSS: &str = include_str!("../../static/style.css");
/// A hash of the stylesheet: its URL changes whenever it does, so it can be cached for a year.
pub const BOARD_JS: &str = include_str!("../../static/board.js");
pub const TICKET_JS: &str = include_str!("../../static/ticket.js");
/// Changes whenever a static file changes, so their addresses can be cached for a year.
pub const ASSET_VERSION: u64 = fnv1a(STYLE_CSS.as_bytes())
    ^ fnv1a(BOARD_JS.as_bytes())
    ^ fnv1a(TICKET_JS.as_bytes()).rotate_left(1);

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}
const PER_PAGE: usize = 20;
const MAX_PAGE: usize = 500;

fn here(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned())
}

fn fee_text(t: &Texts, fee: Fee) -> String {
    match fee {
        Fee::Free => t.free.to_owned(),
        Fee::Fixed(amount) => amount.to_string(),
        Fee::Variable { from: Rupiah(0) } => t.fee_varies.to_owned(),
        Fee::Variable { from } => {
            format!("{} {from} ({})", t.fee_from, t.fee_varies.to_lowercase())
        }
    }
}

pub async fn ticket_script() -> Response {
    script(TICKET_JS)
}

pub async fn board_script() -> Response {
    script(BOARD_JS)
}

fn script(source: &'static str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        source,
    )
        .into_response()
}

pub async fn style() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        STYLE_CSS,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct SwitchQuery {
    kembali: Option<String>,
}

/// `/bahasa/{id|en}?kembali=/path`: remembers the language in a cookie and goes back.
pub async fn switch_language(
    current: Lang,
    code: Result<Path<String>, PathRejection>,
    query: Result<Query<SwitchQuery>, QueryRejection>,
) -> Response {
    let Some(lang) = code.ok().and_then(|Path(code)| Lang::parse(&code)) else {
        return PageError::not_found(current, "/").into_response();
    };
    let back = query
        .ok()
        .and_then(|Query(q)| q.kembali)
        .and_then(|k| local_return_path(&k));
    let back = back.unwrap_or_else(|| "/".to_owned());
    let mut response = Redirect::to(&back).into_response();
    let cookie = format!(
        "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// A path on this site to return to, without its `lang` parameter (the cookie now decides), or
/// none. Only printable ASCII, starting with one `/`: browsers drop tabs and newlines from URLs, so
/// anything else could turn into `//elsewhere` — an open redirect.
fn local_return_path(raw: &str) -> Option<String> {
    if !raw.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return None;
    }
    let parsed: axum::http::uri::PathAndQuery = raw.parse().ok()?;
    let path = parsed.path();
    if !path.starts_with('/') || path.starts_with("//") || path.contains('\\') {
        return None;
    }
    let query: Vec<&str> = parsed
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("lang="))
        .collect();
    Some(if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    })
}

struct MppCard<'a> {
    slug: &'a str,
    name: &'a str,
    region_name: &'a str,
    status: &'static str,
    status_code: &'static str,
    tenant_count: usize,
    service_count: usize,
}

struct ProvinceGroup<'a> {
    code: &'a str,
    name: &'a str,
    mpps: Vec<MppCard<'a>>,
}

#[cfg(test)]
mod tests {
    use super::local_return_path;

    #[test]
    fn return_paths_stay_on_this_site() {
        assert_eq!(local_return_path("/mpp/batu").as_deref(), Some("/mpp/batu"));
        assert_eq!(
            local_return_path("/cari?q=ktp&lang=en&hal=2").as_deref(),
            Some("/cari?q=ktp&hal=2")
        );
        assert_eq!(local_return_path("/?lang=en").as_deref(), Some("/"));
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n",
            "/\r",
            "/\0",
            "evil",
            "",
            "/ /x",
        ] {
            assert_eq!(local_return_path(evil), None, "{evil:?}");
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    q: &'a str,
    provinces: Vec<ProvinceGroup<'a>>,
    /// Many MPPs (a national deployment): provinces fold, so a phone gets a short page.
    compact: bool,
}

/// Above this many MPPs the home page folds each province.
const HOME_COMPACT_ABOVE: usize = 24;

fn mpp_card<'a>(catalog: &'a Catalog, t: &Texts, m: &'a Mpp) -> MppCard<'a> {
    MppCard {
        slug: &m.slug,
        name: &m.name,
        region_name: catalog
            .region_name(&m.region_code)
            .unwrap_or(&m.region_code),
        status: t.mpp_status(m.status),
        status_code: m.status.as_str(),
        tenant_count: m.tenants.len(),
        service_count: m.service_count,
    }
}

pub async fn home(State(app): State<AppState>, lang: Lang, uri: Uri) -> Response {
    let catalog = app.catalog.get();
    let t = lang.texts();
    let mut provinces: Vec<ProvinceGroup<'_>> = Vec::new();
    let mut mpps: Vec<&Mpp> = catalog.mpps.iter().collect();
    mpps.sort_by(|a, b| (&a.province_code, &a.name).cmp(&(&b.province_code, &b.name)));
    for m in mpps {
        if provinces.last().is_none_or(|g| g.code != m.province_code) {
            provinces.push(ProvinceGroup {
                code: &m.province_code,
                name: catalog
                    .region_name(&m.province_code)
                    .unwrap_or(&m.province_code),
                mpps: Vec::new(),
            });
        }
        if let Some(group) = provinces.last_mut() {
            group.mpps.push(mpp_card(&catalog, t, m));
        }
    }
    HomePage {
        t,
        lang,
        here: here(&uri),
        q: "",
        provinces,
        compact: catalog.mpps.len() > HOME_COMPACT_ABOVE,
    }
    .into_response()
}

#[derive(Deserialize, Default)]
pub struct SearchParams {
    q: Option<String>,
    wilayah: Option<String>,
    mpp: Option<String>,
    instansi: Option<String>,
    hal: Option<String>,
}

struct SelectOption {
    value: String,
    label: String,
    selected: bool,
}

struct RegionGroup {
    label: String,
    options: Vec<SelectOption>,
}

struct ResultItem<'a> {
    id: Uuid,
    name: &'a str,
    tenant_name: &'a str,
    mpp_name: &'a str,
    region_name: &'a str,
    fee: String,
    time_limit: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "search.html")]
struct SearchPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    q: &'a str,
    region_groups: Vec<RegionGroup>,
    mpp_options: Vec<SelectOption>,
    agency_options: Vec<SelectOption>,
    results: Vec<ResultItem<'a>>,
    total: usize,
    first_rank: usize,
    page: usize,
    pages: usize,
    prev_url: Option<String>,
    next_url: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub async fn search(
    State(app): State<AppState>,
    lang: Lang,
    uri: Uri,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, PageError> {
    let here = here(&uri);
    let Ok(Query(params)) = params else {
        return Err(PageError::bad_request(
            lang,
            &here,
            "Alamat pencarian tidak dapat dibaca.",
            "The search address cannot be read.",
        ));
    };
    let catalog = app.catalog.get();
    let t = lang.texts();
    let q = non_empty(&params.q).unwrap_or("");
    if q.chars().count() > 200 {
        return Err(PageError::bad_request(
            lang,
            &here,
            "Kata pencarian terlalu panjang (paling banyak 200 huruf).",
            "The search text is too long (at most 200 characters).",
        ));
    }
    let page = match non_empty(&params.hal) {
        None => 1,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(PageError::bad_request(
                    lang,
                    &here,
                    format!("Nomor halaman harus angka 1 sampai {MAX_PAGE}."),
                    format!("The page number must be a number from 1 to {MAX_PAGE}."),
                ));
            }
        },
    };
    let region = non_empty(&params.wilayah);
    if let Some(code) = region {
        let valid = RegionCode::parse(code).is_ok_and(|c| {
            c.level() != RegionLevel::District && catalog.region_name(code).is_some()
        });
        if !valid {
            return Err(PageError::bad_request(
                lang,
                &here,
                format!("Wilayah {code:?} tidak dikenal."),
                format!("Region {code:?} is unknown."),
            ));
        }
    }
    let mpp = non_empty(&params.mpp);
    if let Some(slug) = mpp
        && catalog.mpp(slug).is_none()
    {
        return Err(PageError::bad_request(
            lang,
            &here,
            format!("MPP {slug:?} tidak dikenal."),
            format!("MPP {slug:?} is unknown."),
        ));
    }
    let agency = non_empty(&params.instansi);
    if let Some(slug) = agency
        && catalog.agency(slug).is_none()
    {
        return Err(PageError::bad_request(
            lang,
            &here,
            format!("Instansi {slug:?} tidak dikenal."),
            format!("Agency {slug:?} is unknown."),
        ));
    }
    let request = SearchRequest {
        text: q,
        region,
        mpp,
        agency,
        offset: (page - 1) * PER_PAGE,
        limit: PER_PAGE,
    };
    let found = catalog
        .search(&request)
        .map_err(|e| PageError::internal(lang, &here, &e))?;

    let results = found
        .hits
        .iter()
        .map(|&i| {
            let s = &catalog.services[i];
            let m = &catalog.mpps[s.mpp];
            ResultItem {
                id: s.id,
                name: &s.name,
                tenant_name: &catalog.tenants[s.tenant].name,
                mpp_name: &m.name,
                region_name: catalog
                    .region_name(&m.region_code)
                    .unwrap_or(&m.region_code),
                fee: fee_text(t, s.fee),
                time_limit: t.time_limit(s.time_limit),
            }
        })
        .collect();

    // Filters offer what exists: regions and MPPs that have MPPs; agencies within the chosen area.
    // Provinces as groups, each offering the whole province and its kabupaten/kota with an MPP.
    let mut codes: Vec<&str> = Vec::new();
    for m in &catalog.mpps {
        for code in [m.province_code.as_str(), m.region_code.as_str()] {
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
    }
    codes.sort();
    let mut region_groups: Vec<RegionGroup> = Vec::new();
    for code in codes {
        let name = catalog.region_name(code).unwrap_or(code);
        if code.len() == 2 {
            region_groups.push(RegionGroup {
                label: name.to_owned(),
                options: Vec::new(),
            });
        }
        let label = if code.len() == 2 {
            format!("{} {name}", t.whole_province)
        } else {
            name.to_owned()
        };
        if let Some(group) = region_groups.last_mut() {
            group.options.push(SelectOption {
                value: code.to_owned(),
                label,
                selected: region == Some(code),
            });
        }
    }
    let mut mpp_list: Vec<&Mpp> = catalog
        .mpps_in(region)
        .filter(|m| m.service_count > 0)
        .collect();
    mpp_list.sort_by(|a, b| a.name.cmp(&b.name));
    let mpp_options = mpp_list
        .iter()
        .map(|m| SelectOption {
            value: m.slug.clone(),
            label: m.name.clone(),
            selected: mpp == Some(m.slug.as_str()),
        })
        .collect();
    let mut agency_options: Vec<SelectOption> = Vec::new();
    if region.is_some() || mpp.is_some() {
        let mut agencies: Vec<usize> = catalog
            .mpps_in(region)
            .filter(|m| mpp.is_none_or(|slug| m.slug == slug))
            .flat_map(|m| m.tenants.iter().map(|&i| catalog.tenants[i].agency))
            .collect();
        agencies.sort_unstable();
        agencies.dedup();
        let mut list: Vec<&crate::catalog::Agency> =
            agencies.into_iter().map(|i| &catalog.agencies[i]).collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        agency_options = list
            .into_iter()
            .map(|a| SelectOption {
                value: a.slug.clone(),
                label: a.name.clone(),
                selected: agency == Some(a.slug.as_str()),
            })
            .collect();
    } else if let Some(slug) = agency
        && let Some(a) = catalog.agency(slug)
    {
        agency_options.push(SelectOption {
            value: a.slug.clone(),
            label: a.name.clone(),
            selected: true,
        });
    }

    let pages = found.total.div_ceil(PER_PAGE).clamp(1, MAX_PAGE);
    let page_url = |n: usize| {
        let mut query = form_urlencoded(&[
            ("q", q),
            ("wilayah", region.unwrap_or("")),
            ("mpp", mpp.unwrap_or("")),
            ("instansi", agency.unwrap_or("")),
        ]);
        query.push_str(&format!("&hal={n}"));
        format!("/cari?{query}")
    };
    let page_view = SearchPage {
        t,
        lang,
        here,
        q,
        region_groups,
        mpp_options,
        agency_options,
        results,
        total: found.total,
        first_rank: (page - 1) * PER_PAGE + 1,
        page,
        pages,
        prev_url: (page > 1).then(|| page_url(page - 1)),
        next_url: (page < pages).then(|| page_url(page + 1)),
    };
    Ok(page_view.into_response())
}

/// `a=1&b=x%20y`, skipping empty values.
fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        for b in v.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    out
}

struct TenantCard<'a> {
    slug: &'a str,
    name: &'a str,
    agency_name: &'a str,
    location: Option<&'a str>,
    service_count: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "mpp.html")]
struct MppPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    m: &'a Mpp,
    status: &'static str,
    region_name: &'a str,
    province_name: &'a str,
    inaugurated: Option<String>,
    hours: Vec<(&'static str, String)>,
    time_zone: &'static str,
    /// "Buka sekarang · tutup pukul 12:00 WIB", or when it opens again; none without hours.
    open_now: Option<String>,
    upcoming: Vec<(String, &'a str, &'static str)>,
    tenants: Vec<TenantCard<'a>>,
    /// Life-event bundles open to applications: (id, name).
    bundles: Vec<(Uuid, String)>,
}

/// The MPP's state at this moment, in words.
fn open_now_text(
    t: &Texts,
    catalog: &crate::catalog::Catalog,
    m: &Mpp,
    now: chrono::NaiveDateTime,
    zone: &str,
) -> Option<String> {
    if m.hours.is_empty() {
        return None;
    }
    let calendar = catalog.calendar(m, now.date(), true);
    Some(match state_at(&m.hours, &calendar, now) {
        OpenState::Open { closes } => format!(
            "{} · {} {} {zone}",
            t.open_now,
            t.closes_at,
            closes.format("%H:%M")
        ),
        OpenState::Closed { opens: Some(at) } => {
            let day = if at.date() == now.date() {
                t.today.to_owned()
            } else {
                let weekday = t.weekdays[at.date().weekday().num_days_from_monday() as usize];
                format!("{weekday} {}", at.date().format("%d-%m-%Y"))
            };
            format!(
                "{} · {} {day} {} {} {zone}",
                t.closed_now,
                t.opens_again,
                t.at_time,
                at.time().format("%H:%M")
            )
        }
        OpenState::Closed { opens: None } => t.closed_now.to_owned(),
    })
}

pub async fn mpp(
    State(app): State<AppState>,
    lang: Lang,
    uri: Uri,
    slug: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let catalog = app.catalog.get();
    let t = lang.texts();
    let Some(m) = slug.ok().and_then(|Path(slug)| catalog.mpp(&slug)) else {
        return Err(PageError::not_found(lang, &here(&uri)));
    };
    let hours = (1..=7u8)
        .map(|day| {
            let intervals: Vec<String> = m
                .hours
                .iter()
                .filter(|h| h.weekday == day)
                .map(|h| format!("{}–{}", h.opens.format("%H:%M"), h.closes.format("%H:%M")))
                .collect();
            let text = if intervals.is_empty() {
                t.closed.to_owned()
            } else {
                intervals.join(", ")
            };
            (t.weekdays[usize::from(day - 1)], text)
        })
        .collect();
    let tenants = m
        .tenants
        .iter()
        .map(|&i| {
            let u: &Tenant = &catalog.tenants[i];
            TenantCard {
                slug: &u.slug,
                name: &u.name,
                agency_name: &catalog.agencies[u.agency].name,
                location: u.location.as_deref(),
                service_count: u.services.len(),
            }
        })
        .collect();
    let now = Utc::now()
        .with_timezone(&time_zone(&m.province_code))
        .naive_local();
    let page = MppPage {
        t,
        lang,
        here: here(&uri),
        m,
        status: t.mpp_status(m.status),
        region_name: catalog
            .region_name(&m.region_code)
            .unwrap_or(&m.region_code),
        province_name: catalog
            .region_name(&m.province_code)
            .unwrap_or(&m.province_code),
        inaugurated: m.inaugurated_on.map(|d| d.format("%d-%m-%Y").to_string()),
        hours,
        time_zone: time_zone_name(&m.province_code),
        open_now: open_now_text(t, &catalog, m, now, time_zone_name(&m.province_code)),
        upcoming: catalog
            .upcoming_days_off(m, now.date(), 5)
            .into_iter()
            .map(|(date, name, kind)| {
                let weekday = t.weekdays[date.weekday().num_days_from_monday() as usize];
                (
                    format!("{weekday} {}", date.format("%d-%m-%Y")),
                    name,
                    t.day_off_kind(kind),
                )
            })
            .collect(),
        tenants,
        bundles: super::bundles::offered(&app, m.id, lang).await,
    };
    Ok(page.into_response())
}

struct ServiceCard<'a> {
    id: Uuid,
    name: &'a str,
    fee: String,
    time_limit: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "tenant.html")]
struct TenantPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    m: &'a Mpp,
    u: &'a Tenant,
    agency_name: &'a str,
    agency_kind: &'static str,
    services: Vec<ServiceCard<'a>>,
}

pub async fn tenant(
    State(app): State<AppState>,
    lang: Lang,
    uri: Uri,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, PageError> {
    let Ok(Path((slug, tenant_slug))) = path else {
        return Err(PageError::not_found(lang, &here(&uri)));
    };
    let catalog = app.catalog.get();
    let t = lang.texts();
    let Some((m, u)) = catalog
        .mpp(&slug)
        .and_then(|m| catalog.tenant(m, &tenant_slug).map(|u| (m, u)))
    else {
        return Err(PageError::not_found(lang, &here(&uri)));
    };
    let agency = &catalog.agencies[u.agency];
    let services = u
        .services
        .iter()
        .map(|&i| {
            let s = &catalog.services[i];
            ServiceCard {
                id: s.id,
                name: &s.name,
                fee: fee_text(t, s.fee),
                time_limit: t.time_limit(s.time_limit),
            }
        })
        .collect();
    let page = TenantPage {
        t,
        lang,
        here: here(&uri),
        m,
        u,
        agency_name: &agency.name,
        agency_kind: t.agency_kind(agency.kind),
        services,
    };
    Ok(page.into_response())
}

struct Elsewhere<'a> {
    id: Uuid,
    mpp_name: &'a str,
    region_name: &'a str,
}

#[derive(Template, WebTemplate)]
#[template(path = "service.html")]
struct ServicePage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    s: &'a Service,
    m: &'a Mpp,
    u: &'a Tenant,
    region_name: &'a str,
    template: Option<(&'a str, &'a str)>,
    fee: String,
    time_limit: String,
    other_components: [(&'static str, Option<&'a str>); 7],
    elsewhere: Vec<Elsewhere<'a>>,
    /// Whether the service takes online bookings.
    bookable: bool,
    applicable: bool,
}

pub async fn service(
    State(app): State<AppState>,
    lang: Lang,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let catalog = app.catalog.get();
    let t = lang.texts();
    let found = id
        .ok()
        .and_then(|Path(id)| Uuid::parse_str(&id).ok())
        .and_then(|id| catalog.service(id));
    let Some(s) = found else {
        return Err(PageError::not_found(lang, &here(&uri)));
    };
    // The page depends only on the snapshot, the service and the language (and the query string,
    // which then bypasses the cache).
    let cacheable = uri.query().is_none();
    // Whether it takes online bookings (the booking desk's copy of the rule, a few seconds old
    // at most) decides the "book a time" link, so it is part of the cached page's key.
    let bookable = app
        .booking
        .rule(&app.db, s.id)
        .await
        .map_err(|e| PageError::internal(lang, &here(&uri), &e))?
        .is_some();
    // So does whether it takes applications online.
    let applicable = app.forms.offers(&app.db, s.id).await;
    let offers = (bookable, applicable);
    if cacheable && let Some(html) = app.page_cache.get(catalog.version, s.id, lang, offers) {
        return Ok(html_response(html));
    }
    let m = &catalog.mpps[s.mpp];
    let elsewhere = catalog
        .same_template_elsewhere(s)
        .map(|o| {
            let om = &catalog.mpps[o.mpp];
            Elsewhere {
                id: o.id,
                mpp_name: &om.name,
                region_name: catalog.region_name(&om.region_code).unwrap_or(""),
            }
        })
        .collect();
    let page = ServicePage {
        t,
        lang,
        here: here(&uri),
        s,
        m,
        u: &catalog.tenants[s.tenant],
        region_name: catalog
            .region_name(&m.region_code)
            .unwrap_or(&m.region_code),
        template: s.template.map(|i| {
            (
                catalog.templates[i].slug.as_str(),
                catalog.templates[i].name.as_str(),
            )
        }),
        fee: fee_text(t, s.fee),
        time_limit: t.time_limit(s.time_limit),
        other_components: [
            (t.facilities, s.facilities.as_deref()),
            (t.staff_competence, s.staff_competence.as_deref()),
            (t.internal_supervision, s.internal_supervision.as_deref()),
            (t.staff_count, s.staff_count.as_deref()),
            (t.service_guarantee, s.service_guarantee.as_deref()),
            (t.security_guarantee, s.security_guarantee.as_deref()),
            (
                t.performance_evaluation,
                s.performance_evaluation.as_deref(),
            ),
        ],
        elsewhere,
        bookable,
        applicable,
    };
    let html = page
        .render()
        .map_err(|e| PageError::internal(lang, &page.here, &e))?;
    let html = bytes::Bytes::from(html);
    if cacheable {
        app.page_cache
            .put(catalog.version, s.id, lang, offers, html.clone());
    }
    Ok(html_response(html))
}

fn html_response(html: bytes::Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html,
    )
        .into_response()
}

/// Rendered service pages of the current catalog snapshot, by service and language. Bounded: when
/// full it starts over, so the pages people open most are the ones it holds.
pub struct PageCache {
    inner: std::sync::RwLock<(i64, RenderedPages)>,
}

const PAGE_CACHE_ENTRIES: usize = 4096;

/// Rendered service pages by service, language, and whether it takes (bookings, applications).
type RenderedPages = HashMap<(Uuid, Lang, (bool, bool)), bytes::Bytes>;

impl PageCache {
    pub fn new() -> PageCache {
        PageCache {
            inner: std::sync::RwLock::new((i64::MIN, HashMap::new())),
        }
    }

    fn get(
        &self,
        version: i64,
        id: Uuid,
        lang: Lang,
        offers: (bool, bool),
    ) -> Option<bytes::Bytes> {
        let guard = self.inner.read().ok()?;
        if guard.0 != version {
            return None;
        }
        guard.1.get(&(id, lang, offers)).cloned()
    }

    fn put(&self, version: i64, id: Uuid, lang: Lang, offers: (bool, bool), html: bytes::Bytes) {
        let Ok(mut guard) = self.inner.write() else {
            return;
        };
        if guard.0 != version || guard.1.len() >= PAGE_CACHE_ENTRIES {
            guard.0 = version;
            guard.1.clear();
        }
        guard.1.insert((id, lang, offers), html);
    }
}

impl Default for PageCache {
    fn default() -> PageCache {
        PageCache::new()
    }
}

struct CompareRow<'a> {
    id: Uuid,
    mpp_name: &'a str,
    region_name: &'a str,
    fee: String,
    time_limit: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "national.html")]
struct NationalPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    name: &'a str,
    description: Option<&'a str>,
    mpp_count: usize,
    rows: Vec<CompareRow<'a>>,
}

/// A national service (template): where it is offered, with each MPP's fee and time limit.
pub async fn national_service(
    State(app): State<AppState>,
    lang: Lang,
    uri: Uri,
    slug: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let catalog = app.catalog.get();
    let t = lang.texts();
    let Some((index, template)) = slug.ok().and_then(|Path(slug)| catalog.template(&slug)) else {
        return Err(PageError::not_found(lang, &here(&uri)));
    };
    let rows: Vec<CompareRow<'_>> = catalog
        .services_of_template(index)
        .map(|s| {
            let m = &catalog.mpps[s.mpp];
            CompareRow {
                id: s.id,
                mpp_name: &m.name,
                region_name: catalog
                    .region_name(&m.region_code)
                    .unwrap_or(&m.region_code),
                fee: fee_text(t, s.fee),
                time_limit: t.time_limit(s.time_limit),
            }
        })
        .collect();
    let mut mpps: Vec<usize> = catalog.services_of_template(index).map(|s| s.mpp).collect();
    mpps.dedup();
    let page = NationalPage {
        t,
        lang,
        here: here(&uri),
        name: &template.name,
        description: template.description.as_deref(),
        mpp_count: mpps.len(),
        rows,
    };
    Ok(page.into_response())
}

/// Any path no route knows: a 404 page in the reader's language.
pub async fn not_found(lang: Lang, uri: Uri) -> Response {
    let mut response = PageError::not_found(lang, &here(&uri)).into_response();
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}
