//! Life-event bundles (paket layanan): an MPP manager composes services of several UPPs around
//! one event; a citizen fills their shared fields once, and the bundle fans out into one
//! application per service, each in its own UPP's inbox, followed together on one page.
//!
//! The shared form is `domain::form::merge` of the services' forms: a key in several forms is
//! asked once and its answer (or document) goes to each application whose form has it. Each
//! application is still checked against its own form, and all are sent in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use uuid::Uuid;

use super::AppState;
use super::account::{PairsForm, PlainForm, checked_form, csrf, render, signed_in};
use super::applications::{
    FieldView, Prepared, StartForm, checked_upload, day_text, field_views, form_for, form_of,
    limit_text, not_held, open_answers, place_of, seal_answers, sending_problems, start_key,
    state_words, step_refusal, store_file, upload_refusal,
};
use super::errors::PageError;
use super::i18n::{Lang, Texts};
use crate::catalog::Catalog;
use crate::domain::application::{self as rules, ApplicationAction};
use crate::domain::form::{FieldKind, FormDef, merge};
use crate::domain::roles::Action;
use crate::storage::applications::{self as store, ApplicationRow};
use crate::storage::bundles::{self, BundleRow};

fn bundle_name(b: &BundleRow, lang: Lang) -> String {
    lang.pick(&b.name_id, &b.name_en).to_owned()
}

/// A bundle's services with their forms, in order; `None` if one has lost its form.
async fn forms_of(
    app: &AppState,
    services: &[Uuid],
) -> Result<Option<Vec<(Uuid, FormDef, i32)>>, PageError> {
    let mut out = Vec::new();
    for &s in services {
        match form_of(app, s).await? {
            Some((form, version)) => out.push((s, form, version)),
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

struct ServiceLine {
    id: Uuid,
    name: String,
    tenant: String,
    limit: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "bundle.html")]
struct BundlePage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    id: Uuid,
    name: String,
    description: String,
    mpp_slug: String,
    mpp: String,
    services: Vec<ServiceLine>,
    available: bool,
    key: String,
}

/// A bundle's public page: what it covers, and the button to start it.
pub async fn bundle_page(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let here = format!("/paket/{id}");
    let (bundle, services) = find_bundle(&app, lang, &here, &id).await?;
    let catalog = app.catalog.get();
    let mpp = catalog
        .mpp_by_id(bundle.mpp_id)
        .ok_or_else(|| PageError::not_found(lang, &here))?;
    let lines = services
        .iter()
        .filter_map(|s| catalog.service(*s))
        .map(|s| ServiceLine {
            id: s.id,
            name: s.name.clone(),
            tenant: catalog.tenants[s.tenant].name.clone(),
            limit: limit_text(s, lang),
        })
        .collect();
    let available = bundle.active && forms_of(&app, &services).await?.is_some();
    let (token, fresh) = csrf(&headers)?;
    let page = BundlePage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        id: bundle.id,
        name: bundle_name(&bundle, lang),
        description: lang
            .pick(&bundle.description_id, &bundle.description_en)
            .to_owned(),
        mpp_slug: mpp.slug.clone(),
        mpp: mpp.name.clone(),
        services: lines,
        available,
        key: crate::credentials::random_token().map_err(|_| PageError::unavailable(lang, "/"))?,
    };
    Ok(render(
        page,
        StatusCode::OK,
        fresh.then_some((&app, token.as_str())),
    ))
}

async fn find_bundle(
    app: &AppState,
    lang: Lang,
    here: &str,
    id: &str,
) -> Result<(BundleRow, Vec<Uuid>), PageError> {
    let id = Uuid::parse_str(id).map_err(|_| PageError::not_found(lang, here))?;
    bundles::bundle(&app.db, id)
        .await
        .map_err(|e| PageError::internal(lang, here, &e))?
        .ok_or_else(|| PageError::not_found(lang, here))
}

/// Starts the bundle: one draft per service, together (a retry with the same key: the same).
pub async fn start(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<StartForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/paket/{id}");
    let form = checked_form(form, &headers, lang, &here)?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let (bundle, services) = find_bundle(&app, lang, &here, &id).await?;
    let key = start_key(&form.key, lang, &here)?;
    let forms = match forms_of(&app, &services).await? {
        Some(f) if bundle.active => f,
        _ => {
            return Err(PageError::status(
                lang,
                StatusCode::CONFLICT,
                "Paket ini sedang tidak menerima permohonan.",
                "This bundle does not take applications at the moment.",
            ));
        }
    };
    let catalog = app.catalog.get();
    let sealed = seal_answers(&app, &BTreeMap::new(), lang)?;
    let mut codes = Vec::new();
    for _ in &forms {
        let random = crate::credentials::random_bytes::<8>()
            .map_err(|_| PageError::unavailable(lang, &here))?;
        codes.push(rules::tracking_code(random));
    }
    let mut keys = Vec::new();
    let mut drafts = Vec::new();
    for (i, (service_id, _, version)) in forms.iter().enumerate() {
        let service = catalog
            .service(*service_id)
            .ok_or_else(|| PageError::not_found(lang, &here))?;
        keys.push(format!("{key}:{i:02}"));
        drafts.push((service, *version));
    }
    let news: Vec<store::NewApplication<'_>> = drafts
        .iter()
        .zip(codes.iter().zip(keys.iter()))
        .map(|((service, version), (code, k))| store::NewApplication {
            service_id: service.id,
            tenant_id: catalog.tenants[service.tenant].id,
            mpp_id: catalog.mpps[service.mpp].id,
            account_id: session.account_id,
            tracking_code: code,
            answers_sealed: &sealed,
            form_version: *version,
            limit_days: i32::try_from(rules::limit_in_working_days(service.time_limit)).ok(),
            idempotency_key: k,
        })
        .collect();
    let started = store::start_bundle(
        &app.db,
        bundle.id,
        session.account_id,
        &key,
        &news,
        Utc::now(),
    )
    .await
    .map_err(|e| PageError::internal(lang, &here, &e))?;
    Ok(Redirect::to(&format!("/akun/paket/{started}")).into_response())
}

struct MemberView {
    id: Uuid,
    code: String,
    service: String,
    tenant: String,
    state: &'static str,
    due: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "bundle_application.html")]
struct BundleApplicationPage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    id: Uuid,
    bundle_id: Uuid,
    name: String,
    members: Vec<MemberView>,
    /// Every application is still a draft: the shared form is shown.
    drafts: bool,
    fields: Vec<FieldView>,
    error: Option<String>,
    notice: Option<&'static str>,
}

/// The citizen's bundle application: its bundle and its applications, or a 404 (also for
/// someone else's).
async fn own_bundle_application(
    app: &AppState,
    lang: Lang,
    here: &str,
    id: &str,
    account: Uuid,
) -> Result<(Uuid, BundleRow, Vec<ApplicationRow>), PageError> {
    let id = Uuid::parse_str(id).map_err(|_| PageError::not_found(lang, here))?;
    let internal = |e: &dyn std::error::Error| PageError::internal(lang, here, e);
    let (bundle_id, owner) = store::bundle_application(&app.db, id)
        .await
        .map_err(|e| internal(&e))?
        .filter(|(_, owner)| *owner == Some(account))
        .ok_or_else(|| PageError::not_found(lang, here))?;
    debug_assert_eq!(owner, Some(account));
    let (bundle, _) = bundles::bundle(&app.db, bundle_id)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(|| PageError::not_found(lang, here))?;
    let members = store::of_bundle(&app.db, id)
        .await
        .map_err(|e| internal(&e))?;
    Ok((id, bundle, members))
}

/// The shared form of the members' forms (see `form_for`), and each member's own form with
/// its version.
async fn shared_form(
    app: &AppState,
    members: &[ApplicationRow],
) -> Result<(FormDef, Vec<(FormDef, i32)>), PageError> {
    let mut own = Vec::new();
    for m in members {
        own.push(form_for(app, m).await?);
    }
    let forms: Vec<FormDef> = own.iter().map(|(f, _)| f.clone()).collect();
    let refs: Vec<&FormDef> = forms.iter().collect();
    // Forms that no longer merge (a UPP changed one) fall back to asking each field of the
    // first form that has it.
    let merged = merge(&refs).unwrap_or_else(|_| {
        let mut seen = BTreeSet::new();
        FormDef {
            letter: None,
            fields: forms
                .iter()
                .flat_map(|f| f.fields.iter())
                .filter(|f| seen.insert(f.key.clone()))
                .cloned()
                .collect(),
        }
    });
    Ok((merged, own))
}

#[allow(clippy::too_many_arguments)]
async fn bundle_application_page(
    app: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    id: Uuid,
    bundle: &BundleRow,
    members: &[ApplicationRow],
    answers: Option<BTreeMap<String, String>>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let here = format!("/akun/paket/{id}");
    let catalog = app.catalog.get();
    let drafts = !members.is_empty() && members.iter().all(|m| m.state == "draft");
    let fields = if drafts {
        let (form, _) = shared_form(app, members).await?;
        let answers = answers.unwrap_or_else(|| {
            let mut all = BTreeMap::new();
            for m in members {
                all.extend(open_answers(app, m));
            }
            all
        });
        let mut docs = Vec::new();
        for m in members {
            docs.extend(
                store::documents(&app.db, m.id)
                    .await
                    .map_err(|e| PageError::internal(lang, &here, &e))?,
            );
        }
        let regency = members
            .first()
            .and_then(|m| place_of(&catalog, m))
            .map(|p| p.mpp.region_code.clone())
            .unwrap_or_default();
        field_views(app, lang, &regency, &form, &answers, &errors, &docs)
    } else {
        Vec::new()
    };
    let (token, fresh) = csrf(headers)?;
    let page = BundleApplicationPage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        id,
        bundle_id: bundle.id,
        name: bundle_name(bundle, lang),
        members: members
            .iter()
            .map(|m| MemberView {
                id: m.id,
                code: m.tracking_code.clone(),
                service: catalog
                    .service(m.service_id)
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                tenant: catalog
                    .tenant_by_id(m.tenant_id)
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
                state: state_words(&m.state, lang),
                due: m.due_on.as_deref().map(day_text),
            })
            .collect(),
        drafts,
        fields,
        error,
        notice,
    };
    Ok(render(page, status, fresh.then_some((app, token.as_str()))))
}

pub async fn bundle_application(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Result<Response, PageError> {
    let here = format!("/akun/paket/{id}");
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let (id, bundle, members) =
        own_bundle_application(&app, lang, &here, &id, session.account_id).await?;
    let notice = match uri.query() {
        Some("pesan=tersimpan") => Some(lang.pick("Draf tersimpan.", "Draft saved.")),
        Some("pesan=terkirim") => Some(lang.pick(
            "Semua permohonan paket terkirim, masing-masing ke UPP-nya. Ikuti di halaman ini.",
            "Every application of the bundle was sent, each to its UPP. Follow them on this page.",
        )),
        Some("pesan=terunggah") => Some(lang.pick("Dokumen tersimpan.", "Document saved.")),
        _ => None,
    };
    bundle_application_page(
        &app,
        lang,
        &headers,
        id,
        &bundle,
        &members,
        None,
        BTreeMap::new(),
        None,
        notice,
        StatusCode::OK,
    )
    .await
}

/// Saves the shared answers into each application, and sends them all when asked and every
/// one is complete.
pub async fn save(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<PairsForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/akun/paket/{id}");
    let form = checked_form(form, &headers, lang, &here)?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let (id, bundle, members) =
        own_bundle_application(&app, lang, &here, &id, session.account_id).await?;
    if members.is_empty() || members.iter().any(|m| m.state != "draft") {
        return Err(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Paket ini sudah dikirim; perbaikan dilakukan di halaman tiap permohonan.",
            "This bundle was already sent; fixes are made on each application's page.",
        ));
    }
    let (shared, forms) = shared_form(&app, &members).await?;
    let answers: BTreeMap<String, String> = shared
        .fields
        .iter()
        .filter(|f| !matches!(f.kind, FieldKind::Document { .. }))
        .filter_map(|f| {
            form.first(&f.key)
                .map(|v| (f.key.clone(), v.trim().chars().take(4000).collect()))
        })
        .collect();
    // Each application keeps the answers its own form asks.
    let own = |form: &FormDef| -> BTreeMap<String, String> {
        answers
            .iter()
            .filter(|(k, _)| form.fields.iter().any(|f| &f.key == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    // All the members' answers are saved in one transaction, or none.
    let sealed = forms
        .iter()
        .map(|(f, _)| seal_answers(&app, &own(f), lang))
        .collect::<Result<Vec<_>, _>>()?;
    let batch: Vec<store::Answers<'_>> = members
        .iter()
        .zip(&forms)
        .zip(&sealed)
        .map(|((m, (_, version)), sealed)| store::Answers {
            id: m.id,
            sealed,
            form_version: *version,
        })
        .collect();
    let saved = store::save_answers(&app.db, session.account_id, &batch, Utc::now())
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    if !saved {
        return Err(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Paket ini sudah dikirim.",
            "This bundle was already sent.",
        ));
    }
    if form.first("aksi") != Some("kirim") {
        return Ok(Redirect::to(&format!("{here}?pesan=tersimpan")).into_response());
    }
    let catalog = app.catalog.get();
    let mut errors = BTreeMap::new();
    for (m, (f, _)) in members.iter().zip(&forms) {
        let Some(place) = place_of(&catalog, m) else {
            return Err(PageError::not_found(lang, &here));
        };
        let problems = sending_problems(&app, &catalog, &place, m, f, &own(f))
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?;
        for p in problems {
            errors
                .entry(p.key)
                .or_insert_with(|| lang.pick(&p.id, &p.en).to_owned());
        }
    }
    if !errors.is_empty() {
        return bundle_application_page(
            &app,
            lang,
            &headers,
            id,
            &bundle,
            &members,
            Some(answers),
            errors,
            Some(
                lang.pick(
                    "Paket belum dapat dikirim: perbaiki isian yang ditandai. Jawaban Anda sudah disimpan.",
                    "The bundle cannot be sent yet: fix the marked fields. Your answers were saved.",
                )
                .to_owned(),
            ),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let actor = format!("account:{}", session.account_id);
    let mut prepared = Vec::new();
    for m in &members {
        let place = place_of(&catalog, m).ok_or_else(|| PageError::not_found(lang, &here))?;
        prepared
            .push(Prepared::new(&app, &catalog, &place, m, ApplicationAction::Submit, None).await?);
    }
    let steps = members
        .iter()
        .zip(&prepared)
        .map(|(m, p)| {
            (
                m.id,
                p.step(
                    ApplicationAction::Submit,
                    &actor,
                    Some(session.account_id),
                    None,
                    None,
                ),
            )
        })
        .collect();
    match store::step_all(&app.db, steps, Utc::now()).await {
        Ok(_) => Ok(Redirect::to(&format!("{here}?pesan=terkirim")).into_response()),
        Err(e) => Err(step_refusal(lang, &here, e)),
    }
}

/// Discards one's bundle while nothing of it was sent: every member draft with its documents.
pub async fn withdraw(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<PlainForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/akun/paket/{id}");
    checked_form(form, &headers, lang, &here)?;
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let (id, _, _) = own_bundle_application(&app, lang, &here, &id, session.account_id).await?;
    let discarded = store::discard_bundle(&app.db, id, session.account_id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    if !discarded {
        return Err(PageError::status(
            lang,
            StatusCode::CONFLICT,
            "Paket ini sudah dikirim; batalkan tiap permohonan di halamannya sendiri.",
            "This bundle was already sent; withdraw each application on its own page.",
        ));
    }
    Ok(Redirect::to("/akun/permohonan").into_response())
}

/// Uploads a shared document once; it is recorded for each application whose form asks it.
pub async fn upload(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let here = format!("/akun/paket/{id}");
    let Some(session) = signed_in(&app, &headers, lang).await? else {
        return Ok(Redirect::to("/masuk").into_response());
    };
    let upload = checked_upload(multipart, &headers, lang, &here).await?;
    let (id, bundle, members) =
        own_bundle_application(&app, lang, &here, &id, session.account_id).await?;
    let (shared, forms) = shared_form(&app, &members).await?;
    let key = upload.fields.get("field").cloned().unwrap_or_default();
    let Some((types, max_bytes)) = shared.document_field(&key) else {
        return Err(PageError::bad_request(
            lang,
            &here,
            "Isian dokumen ini tidak ada di formulir.",
            "This document field is not in the form.",
        ));
    };
    if members.is_empty() || members.iter().any(|m| m.state != "draft") {
        return Err(not_held(lang));
    }
    let (name, bytes) = upload.file.unwrap_or_default();
    let stored = store_file(&app, lang, &here, &name, &bytes, &types, max_bytes).await?;
    let kept = match stored {
        Ok(s) => s,
        Err((status, message)) => {
            let mut errors = BTreeMap::new();
            errors.insert(key, message.clone());
            return bundle_application_page(
                &app,
                lang,
                &headers,
                id,
                &bundle,
                &members,
                None,
                errors,
                Some(message),
                None,
                status,
            )
            .await;
        }
    };
    let targets: Vec<Uuid> = members
        .iter()
        .zip(&forms)
        .filter(|(_, (f, _))| f.fields.iter().any(|field| field.key == key))
        .map(|(m, _)| m.id)
        .collect();
    let actor = format!("account:{}", session.account_id);
    let added = store::add_document_to_all(
        &app.db,
        &targets,
        session.account_id,
        kept.input(&key, &actor),
        Utc::now(),
    )
    .await
    .map_err(|e| PageError::internal(lang, &here, &e))?;
    if let Some(refusal) = upload_refusal(lang, added) {
        return Err(refusal);
    }
    Ok(Redirect::to(&format!("{here}?pesan=terunggah")).into_response())
}

/// An MPP's active bundles for its public page: (id, name).
pub async fn offered(app: &AppState, mpp_id: Uuid, lang: Lang) -> Vec<(Uuid, String)> {
    bundles::of_mpp(&app.db, mpp_id)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|b| b.active)
        .map(|b| (b.id, bundle_name(&b, lang)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The MPP manager composes bundles.

#[derive(Template, WebTemplate)]
#[template(path = "staff_bundles.html")]
struct ComposePage<'a> {
    t: &'static Texts,
    lang: Lang,
    here: String,
    csrf: &'a str,
    slug: String,
    mpp: String,
    bundles: Vec<(Uuid, String, bool, usize)>,
    /// Services that take applications online: (id, "UPP · service").
    services: Vec<(Uuid, String)>,
    error: Option<String>,
    saved: bool,
}

fn manager_mpp<'c>(
    catalog: &'c Catalog,
    staff: &super::staff::Staff,
    lang: Lang,
    here: &str,
    slug: &str,
) -> Result<&'c crate::catalog::Mpp, PageError> {
    let mpp = catalog
        .mpp(slug)
        .ok_or_else(|| PageError::not_found(lang, here))?;
    if !staff.may(Action::EditMpp, &catalog.place(mpp, None)) {
        return Err(PageError::status(
            lang,
            StatusCode::FORBIDDEN,
            "Anda tidak berwenang menyusun paket layanan MPP ini.",
            "You may not compose this MPP's bundles.",
        ));
    }
    Ok(mpp)
}

async fn compose_page(
    app: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    mpp: &crate::catalog::Mpp,
    error: Option<String>,
    saved: bool,
    status: StatusCode,
) -> Result<Response, PageError> {
    let here = format!("/staf/mpp/{}/paket", mpp.slug);
    let catalog = app.catalog.get();
    let rows = bundles::of_mpp(&app.db, mpp.id)
        .await
        .map_err(|e| PageError::internal(lang, &here, &e))?;
    let mut list = Vec::new();
    for b in rows {
        let count = bundles::bundle(&app.db, b.id)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?
            .map_or(0, |(_, s)| s.len());
        list.push((b.id, bundle_name(&b, lang), b.active, count));
    }
    let mut services = Vec::new();
    for &t in &mpp.tenants {
        let tenant = &catalog.tenants[t];
        for &s in &tenant.services {
            let service = &catalog.services[s];
            if app.forms.offers(&app.db, service.id).await {
                services.push((service.id, format!("{} · {}", tenant.name, service.name)));
            }
        }
    }
    let (token, fresh) = csrf(headers)?;
    let page = ComposePage {
        t: lang.texts(),
        lang,
        here,
        csrf: &token,
        slug: mpp.slug.clone(),
        mpp: mpp.name.clone(),
        bundles: list,
        services,
        error,
        saved,
    };
    Ok(render(page, status, fresh.then_some((app, token.as_str()))))
}

pub async fn compose_form(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(slug): Path<String>,
    uri: axum::http::Uri,
) -> Result<Response, PageError> {
    let here = format!("/staf/mpp/{slug}/paket");
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let mpp = manager_mpp(&catalog, &staff, lang, &here, &slug)?;
    let saved = uri.query() == Some("tersimpan=1");
    compose_page(&app, lang, &headers, mpp, None, saved, StatusCode::OK).await
}

/// Saves a new bundle (or withdraws / resumes one).
pub async fn compose(
    State(app): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Path(slug): Path<String>,
    form: Result<Form<PairsForm>, FormRejection>,
) -> Result<Response, PageError> {
    let here = format!("/staf/mpp/{slug}/paket");
    let staff = staff_or_return!(app, headers, lang);
    let catalog = app.catalog.get();
    let mpp = manager_mpp(&catalog, &staff, lang, &here, &slug)?;
    let form = checked_form(form, &headers, lang, &here)?;
    let scope = catalog.place(mpp, None).audit_path();
    let actor = staff.actor();
    if let Some((active, id)) = form
        .first("tarik")
        .map(|id| (false, id))
        .or_else(|| form.first("buka").map(|id| (true, id)))
    {
        let id = Uuid::parse_str(id).map_err(|_| PageError::not_found(lang, &here))?;
        let own = bundles::bundle(&app.db, id)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?
            .is_some_and(|(b, _)| b.mpp_id == mpp.id);
        if !own {
            return Err(PageError::not_found(lang, &here));
        }
        bundles::set_active(&app.db, id, active, &actor, &scope)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?;
        return Ok(Redirect::to(&format!("{here}?tersimpan=1")).into_response());
    }
    let field = |name: &str| form.first(name).unwrap_or_default().trim().to_owned();
    let (name_id, name_en) = (field("name_id"), field("name_en"));
    let (description_id, description_en) = (field("description_id"), field("description_en"));
    let mut chosen: Vec<Uuid> = Vec::new();
    for s in form.all("service").filter_map(|s| Uuid::parse_str(s).ok()) {
        if !chosen.contains(&s) {
            chosen.push(s);
        }
    }
    let refuse = |id: &str, en: &str| Some(lang.pick(id, en).to_owned());
    let mut error = None;
    let length = |t: &str| t.chars().count();
    if !(3..=80).contains(&length(&name_id))
        || !(3..=80).contains(&length(&name_en))
        || length(&description_id) > 500
        || length(&description_en) > 500
    {
        error = refuse(
            "Beri nama paket dalam bahasa Indonesia dan Inggris (3–80 karakter), keterangan paling banyak 500 karakter.",
            "Name the bundle in Indonesian and English (3–80 characters), with descriptions of at most 500.",
        );
    }
    let mut forms = Vec::new();
    for s in &chosen {
        let in_mpp = catalog
            .service(*s)
            .is_some_and(|svc| svc.mpp == mpp_index(&catalog, mpp));
        match form_of(&app, *s).await? {
            Some((f, _)) if in_mpp => forms.push(f),
            _ => {
                error = refuse(
                    "Pilih hanya layanan MPP ini yang menerima permohonan daring.",
                    "Choose only this MPP's services that take applications online.",
                );
            }
        }
    }
    if error.is_none() && chosen.len() < 2 {
        error = refuse(
            "Paket perlu sedikitnya dua layanan.",
            "A bundle needs at least two services.",
        );
    }
    if error.is_none()
        && let Err(keys) = merge(&forms.iter().collect::<Vec<_>>())
    {
        error = Some(format!(
            "{} {}",
            lang.pick(
                "Formulir layanan ini memakai isian yang sama dengan arti berbeda:",
                "These services' forms use the same field with different meanings:"
            ),
            keys.join(", ")
        ));
    }
    let slug = crate::domain::slug::Slug::from_name(&name_id)
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    if error.is_none()
        && bundles::of_mpp(&app.db, mpp.id)
            .await
            .map_err(|e| PageError::internal(lang, &here, &e))?
            .iter()
            .any(|b| b.slug == slug)
    {
        error = refuse(
            "Nama paket ini sudah dipakai paket lain di MPP ini.",
            "Another bundle of this MPP already has this name.",
        );
    }
    if error.is_some() {
        return compose_page(
            &app,
            lang,
            &headers,
            mpp,
            error,
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    bundles::save(
        &app.db,
        bundles::NewBundle {
            mpp_id: mpp.id,
            slug: &slug,
            name_id: &name_id,
            name_en: &name_en,
            description_id: &description_id,
            description_en: &description_en,
            services: &chosen,
        },
        &actor,
        &scope,
    )
    .await
    .map_err(|e| PageError::internal(lang, &here, &e))?;
    Ok(Redirect::to(&format!("{here}?tersimpan=1")).into_response())
}

fn mpp_index(catalog: &Catalog, mpp: &crate::catalog::Mpp) -> usize {
    catalog
        .mpps
        .iter()
        .position(|m| m.id == mpp.id)
        .unwrap_or(usize::MAX)
}
