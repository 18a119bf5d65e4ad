//! The demo: MPP "Among Warga" of Kota Batu (26 UPPs, 207 services) and a handful of MPPs in other
//! regions, loaded by `mpp serve --demo` into an empty database through the ordinary imports.

use crate::catalog::Catalog;
use crate::domain::roles::{Grant, Role, Scope};
use crate::imports::{self, ImportError};
use crate::privacy::DataKeys;
use crate::storage::{self, Db};
use uuid::Uuid;

const PROVINCES: &[u8] = include_bytes!("demo/provinces.csv");
const REGENCIES: &[u8] = include_bytes!("demo/regencies.csv");
const DISTRICTS: &[u8] = include_bytes!("demo/districts.csv");
pub const CATALOG: &[u8] = include_bytes!("demo/catalog.json");

/// Loads the demo when the database holds no MPP yet; returns whether it did.
pub async fn load_if_empty(db: &Db) -> Result<bool, ImportError> {
    if storage::catalog::mpp_count(db).await? > 0 {
        return Ok(false);
    }
    load_regions(db).await?;
    imports::import_catalog(db, CATALOG, "demo").await?;
    Ok(true)
}

/// The provinces and kabupaten/kota the demo MPPs sit in (the full registry comes from
/// `mpp import regions`).
pub async fn load_regions(db: &Db) -> Result<(), ImportError> {
    imports::import_region_bytes(
        db,
        &[
            ("demo/provinces.csv", PROVINCES),
            ("demo/regencies.csv", REGENCIES),
            ("demo/districts.csv", DISTRICTS),
        ],
        "demo",
    )
    .await?;
    Ok(())
}

/// The demo's staff: one account for each role in Kota Batu's MPP "Among Warga" (and an officer
/// of a second UPP, to show that one UPP's staff cannot touch another's services). Every account
/// has the password [`STAFF_PASSWORD`] and the TOTP key [`STAFF_TOTP_SECRET`]; both are printed in
/// the README, and `/dev/outbox` shows the current code. Only ever created by `serve --demo`.
pub const STAFF: &[(&str, Role, DemoScope)] = &[
    (
        "petugas.dukcapil@demo.mpp.id",
        Role::Officer,
        DemoScope::Tenant("dispendukcapil"),
    ),
    (
        "petugas.polres@demo.mpp.id",
        Role::Officer,
        DemoScope::Tenant("polres"),
    ),
    (
        "petugas.bpjs@demo.mpp.id",
        Role::Officer,
        DemoScope::Tenant("bpjs-kesehatan"),
    ),
    (
        "petugas.dpmptsp@demo.mpp.id",
        Role::Officer,
        DemoScope::Tenant("dpmptsp"),
    ),
    (
        "admin.dukcapil@demo.mpp.id",
        Role::UppAdmin,
        DemoScope::Tenant("dispendukcapil"),
    ),
    (
        "admin.polres@demo.mpp.id",
        Role::UppAdmin,
        DemoScope::Tenant("polres"),
    ),
    ("pengelola@demo.mpp.id", Role::MppManager, DemoScope::Mpp),
    (
        "admin.batu@demo.mpp.id",
        Role::RegionalAdmin,
        DemoScope::Region("35.79"),
    ),
    (
        "admin.nasional@demo.mpp.id",
        Role::NationalAdmin,
        DemoScope::National,
    ),
    ("analis@demo.mpp.id", Role::Analyst, DemoScope::National),
];

pub const MPP_SLUG: &str = "among-warga-kota-batu";
pub const STAFF_PASSWORD: &str = "coba-mpp-digital";
/// 20 bytes; in base32 (what an authenticator app takes) see [`staff_totp_text`].
pub const STAFF_TOTP_SECRET: &[u8; 20] = b"mpp-digital-demo-otp";

pub fn staff_totp_text() -> String {
    crate::credentials::totp_secret_text(STAFF_TOTP_SECRET)
}

#[derive(Debug, Clone, Copy)]
pub enum DemoScope {
    /// A tenant of the demo MPP, by slug.
    Tenant(&'static str),
    Mpp,
    Region(&'static str),
    National,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoStaffError {
    #[error("the demo MPP or its tenant {0} is missing")]
    Missing(&'static str),
    #[error(transparent)]
    Credentials(#[from] crate::credentials::CredentialError),
    #[error(transparent)]
    Privacy(#[from] crate::privacy::PrivacyError),
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error("the demo's data is wrong: {0}")]
    Data(String),
}

/// Creates the demo staff accounts (idempotent: an existing account keeps its id, gets the demo
/// password and grants again).
pub async fn create_staff(
    db: &Db,
    catalog: &Catalog,
    keys: &DataKeys,
) -> Result<(), DemoStaffError> {
    let mpp = catalog
        .mpp(MPP_SLUG)
        .ok_or(DemoStaffError::Missing(MPP_SLUG))?;
    let password_hash = crate::credentials::hash_password(STAFF_PASSWORD)?;
    let totp_sealed = keys.seal("staff.totp", STAFF_TOTP_SECRET)?;
    for (email, role, scope) in STAFF {
        let scope = match scope {
            DemoScope::Tenant(slug) => {
                let tenant = catalog
                    .tenant(mpp, slug)
                    .ok_or(DemoStaffError::Missing(slug))?;
                Scope::Tenant {
                    mpp: mpp.id,
                    tenant: tenant.id,
                }
            }
            DemoScope::Mpp => Scope::Mpp(mpp.id),
            DemoScope::Region(code) => Scope::Region((*code).to_owned()),
            DemoScope::National => Scope::National,
        };
        let grant =
            Grant::new(*role, scope).ok_or(DemoStaffError::Missing("a well-formed grant"))?;
        let identifier_sealed = keys.seal("account.identifier", email.as_bytes())?;
        let identifier_hash = keys.lookup_hash("account.identifier", email);
        storage::staff::create_direct(
            db,
            storage::staff::DirectStaff {
                identifier_hash: &identifier_hash,
                identifier_sealed: &identifier_sealed,
                password_hash: &password_hash,
                totp_secret_sealed: Some(&totp_sealed),
                grants: std::slice::from_ref(&grant),
            },
            "demo",
        )
        .await?;
    }
    create_counters(db, catalog, mpp).await?;
    create_forms(db, catalog, mpp).await?;
    // Dispendukcapil takes online bookings: 30-minute slots of 4 people, 14 days ahead,
    // released at midnight.
    if let Some(tenant) = catalog.tenant(mpp, "dispendukcapil") {
        for &s in &tenant.services {
            storage::bookings::set_rule(
                db,
                &storage::bookings::BookingRule {
                    service_id: catalog.services[s].id,
                    slot_minutes: 30,
                    quota_per_slot: 4,
                    days_ahead: 14,
                    release_time: "00:00".into(),
                    cancel_cutoff_minutes: 60,
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// The demo's application forms (`demo/forms.json`): a Dispendukcapil birth certificate and a
/// DPMPTSP practice licence, each checked as a UPP admin's would be.
async fn create_forms(
    db: &Db,
    catalog: &Catalog,
    mpp: &crate::catalog::Mpp,
) -> Result<(), DemoStaffError> {
    let all: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, crate::domain::form::FormDef>,
    > = serde_json::from_str(FORMS).map_err(|e| DemoStaffError::Data(e.to_string()))?;
    let Some(forms) = all.get(&mpp.slug) else {
        return Ok(());
    };
    for (path, form) in forms {
        let (tenant, service) = path.split_once('/').unwrap_or_default();
        let service = catalog
            .tenant(mpp, tenant)
            .and_then(|t| {
                t.services
                    .iter()
                    .map(|&s| &catalog.services[s])
                    .find(|s| s.slug == service)
            })
            .ok_or_else(|| DemoStaffError::Data(format!("no service {path}")))?;
        if storage::applications::form(db, service.id).await?.is_some() {
            continue;
        }
        let problems = form.problems(service.requirements.len());
        if let Some(p) = problems.first() {
            return Err(DemoStaffError::Data(format!("{path}: {}: {}", p.key, p.en)));
        }
        let json = serde_json::to_string(form).map_err(|e| DemoStaffError::Data(e.to_string()))?;
        storage::applications::save_form(db, service.id, &json, "demo", "/").await?;
    }
    // The life-event bundle "Kelahiran": the birth certificate and the baby's health insurance,
    // two UPPs, one form.
    if mpp.slug == "among-warga-kota-batu" && storage::bundles::of_mpp(db, mpp.id).await?.is_empty()
    {
        let find = |tenant: &str, slug: &str| {
            catalog.tenant(mpp, tenant).and_then(|t| {
                t.services
                    .iter()
                    .map(|&s| &catalog.services[s])
                    .find(|s| s.slug == slug)
                    .map(|s| s.id)
            })
        };
        let services: Vec<Uuid> = [
            ("dispendukcapil", "penerbitan-akta-kelahiran"),
            ("bpjs-kesehatan", "pendaftaran-bayi-baru-lahir"),
        ]
        .into_iter()
        .filter_map(|(t, s)| find(t, s))
        .collect();
        storage::bundles::save(
            db,
            storage::bundles::NewBundle {
                mpp_id: mpp.id,
                slug: "kelahiran",
                name_id: "Kelahiran",
                name_en: "Birth",
                description_id: "Akta kelahiran anak dan pendaftaran bayi sebagai peserta BPJS Kesehatan, dengan satu pengisian.",
                description_en: "The child's birth certificate and the baby's BPJS Kesehatan membership, with one form.",
                services: &services,
            },
            "demo",
            "/",
        )
        .await?;
    }
    Ok(())
}

const FORMS: &str = include_str!("demo/forms.json");

/// The demo's counters: Dispendukcapil has two (loket 1 and 2), every other UPP one, numbered in
/// the order of the tenants; each serves all of its UPP's services and is open.
async fn create_counters(
    db: &Db,
    catalog: &Catalog,
    mpp: &crate::catalog::Mpp,
) -> Result<(), DemoStaffError> {
    if !storage::queue::counters_of_mpp(db, mpp.id)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let mut tenants: Vec<&crate::catalog::Tenant> =
        mpp.tenants.iter().map(|&t| &catalog.tenants[t]).collect();
    tenants.sort_by_key(|t| (t.slug != "dispendukcapil", t.slug.clone()));
    let mut number = 1;
    for tenant in tenants {
        let services: Vec<uuid::Uuid> = tenant
            .services
            .iter()
            .map(|&s| catalog.services[s].id)
            .collect();
        let copies = if tenant.slug == "dispendukcapil" {
            2
        } else {
            1
        };
        let place = catalog.place(mpp, Some(tenant)).audit_path();
        for _ in 0..copies {
            let id = storage::queue::create_counter(
                db,
                mpp.id,
                tenant.id,
                number,
                &format!("Loket {number}"),
                &services,
                "demo",
                &place,
            )
            .await?;
            storage::queue::set_counter_state(db, id, "open", "demo", &place).await?;
            number += 1;
        }
    }
    Ok(())
}

/// Whether the database holds the demo's staff accounts (whose password and TOTP key are
/// public): a production server refuses to start on it.
pub async fn has_demo_staff(db: &Db, keys: &DataKeys) -> Result<bool, storage::StorageError> {
    for (email, _, _) in STAFF {
        let hash = keys.lookup_hash("account.identifier", email);
        if storage::staff::login(db, &hash).await?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}
