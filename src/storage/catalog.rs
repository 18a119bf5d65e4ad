//! Storage of the catalog: agencies, national templates, MPPs with their opening hours, tenants
//! (UPP), services with their Standar Pelayanan, requirements and procedure steps.
//!
//! Reads load the whole catalog at once (it is read-mostly and served from memory, see
//! `crate::catalog`); writes come from a validated [`CatalogDoc`] and touch only what differs.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::regions::{DistrictRow, ProvinceRow, RegencyRow};
use super::{Db, StorageError, Tx, on_pool, on_tx};
use crate::domain::catalog::{
    AgencyDoc, CatalogDoc, ClosureDoc, FORMAT, FeeDoc, FormAt, MppDoc, OpeningHoursDoc,
    RequirementDoc, ServiceDoc, TemplateDoc, TenantDoc, TimeLimitDoc, VERSION,
};
use crate::domain::form::FormDef;

const CHUNK: usize = 500;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgencyRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub short_name: Option<String>,
    pub kind: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MppRow {
    pub id: Uuid,
    pub slug: String,
    pub region_code: String,
    pub name: String,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub status: String,
    pub inaugurated_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HoursRow {
    pub mpp_id: Uuid,
    pub weekday: i16,
    pub opens: String,
    pub closes: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: Uuid,
    pub mpp_id: Uuid,
    pub agency_id: Uuid,
    pub slug: String,
    pub name: String,
    pub location: Option<String>,
    pub description: Option<String>,
    pub observes_cuti_bersama: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClosureRow {
    pub mpp_id: Uuid,
    pub date: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DayOffRow {
    pub date: NaiveDate,
    pub kind: String,
    pub name: String,
    pub effective_from: Option<NaiveDate>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ServiceRow {
    pub id: Uuid,
    pub mpp_id: Uuid,
    pub tenant_id: Uuid,
    pub template_id: Option<Uuid>,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub time_limit_value: i32,
    pub time_limit_unit: String,
    pub fee_rupiah: i64,
    pub fee_legal_basis: Option<String>,
    pub fee_variable: bool,
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

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequirementRow {
    pub service_id: Uuid,
    pub position: i32,
    pub text: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StepRow {
    pub service_id: Uuid,
    pub position: i32,
    pub text: String,
}

/// The whole catalog as stored, ordered by natural keys.
#[derive(Debug, Default, Clone)]
pub struct CatalogRows {
    pub version: i64,
    pub provinces: Vec<ProvinceRow>,
    pub regencies: Vec<RegencyRow>,
    /// Kecamatan (for address answers); empty where the registry was imported without them.
    pub districts: Vec<DistrictRow>,
    pub agencies: Vec<AgencyRow>,
    pub templates: Vec<TemplateRow>,
    pub mpps: Vec<MppRow>,
    pub hours: Vec<HoursRow>,
    pub tenants: Vec<TenantRow>,
    pub services: Vec<ServiceRow>,
    pub requirements: Vec<RequirementRow>,
    pub steps: Vec<StepRow>,
    pub closures: Vec<ClosureRow>,
    /// The national days off (not part of the catalog document; see `mpp import holidays`).
    pub days_off: Vec<DayOffRow>,
}

const SERVICE_COLUMNS: &str = "id, mpp_id, tenant_id, template_id, slug, name, description, \
    time_limit_value, time_limit_unit, fee_rupiah, fee_legal_basis, fee_variable, product, complaint_channel, \
    legal_basis, facilities, staff_competence, internal_supervision, staff_count, \
    service_guarantee, security_guarantee, performance_evaluation";

pub async fn version(db: &Db) -> Result<i64, StorageError> {
    Ok(on_pool!(db, pool => {
        sqlx::query_scalar("SELECT version FROM catalog_meta WHERE id = 1").fetch_one(pool).await
    })?)
}

/// Marks the catalog as changed, inside the transaction that changes it.
pub async fn bump_version(tx: &mut Tx) -> Result<(), StorageError> {
    on_tx!(tx, conn => {
        sqlx::query("UPDATE catalog_meta SET version = version + 1 WHERE id = 1").execute(conn).await.map(|_| ())
    })?;
    Ok(())
}

pub async fn mpp_count(db: &Db) -> Result<i64, StorageError> {
    Ok(on_pool!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM mpps").fetch_one(pool).await)?)
}

/// Reads the whole catalog (and the region names it shows) as of one moment.
pub async fn load(db: &Db) -> Result<CatalogRows, StorageError> {
    let mut tx = db.begin_snapshot().await?;
    let rows = load_in(&mut tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Reads the whole catalog inside a transaction.
async fn load_in(tx: &mut Tx) -> Result<CatalogRows, StorageError> {
    let rows = on_tx!(tx, conn => {
        let version = sqlx::query_scalar("SELECT version FROM catalog_meta WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
        let provinces = sqlx::query_as("SELECT code, name FROM provinces ORDER BY code")
            .fetch_all(&mut *conn)
            .await?;
        let regencies = sqlx::query_as("SELECT code, province_code, name, kind FROM regencies ORDER BY code")
            .fetch_all(&mut *conn)
            .await?;
        let districts = sqlx::query_as("SELECT code, regency_code, name FROM districts ORDER BY code")
            .fetch_all(&mut *conn)
            .await?;
        let agencies = sqlx::query_as("SELECT id, slug, name, short_name, kind FROM agencies ORDER BY slug")
            .fetch_all(&mut *conn)
            .await?;
        let templates =
            sqlx::query_as("SELECT id, slug, name, description FROM service_templates ORDER BY slug")
                .fetch_all(&mut *conn)
                .await?;
        let mpps = sqlx::query_as(
            "SELECT id, slug, region_code, name, address, phone, email, website, status, \
             inaugurated_on FROM mpps ORDER BY slug",
        )
        .fetch_all(&mut *conn)
        .await?;
        let hours = sqlx::query_as(
            "SELECT mpp_id, weekday, opens, closes FROM mpp_opening_hours ORDER BY mpp_id, weekday, opens",
        )
        .fetch_all(&mut *conn)
        .await?;
        let tenants = sqlx::query_as(
            "SELECT id, mpp_id, agency_id, slug, name, location, description, observes_cuti_bersama FROM tenants \
             ORDER BY mpp_id, slug",
        )
        .fetch_all(&mut *conn)
        .await?;
        let services = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SERVICE_COLUMNS} FROM services ORDER BY tenant_id, slug"
        )))
        .fetch_all(&mut *conn)
        .await?;
        let requirements = sqlx::query_as(
            "SELECT service_id, position, text, note FROM service_requirements ORDER BY service_id, position",
        )
        .fetch_all(&mut *conn)
        .await?;
        let steps = sqlx::query_as(
            "SELECT service_id, position, text FROM service_steps ORDER BY service_id, position",
        )
        .fetch_all(&mut *conn)
        .await?;
        let closures = sqlx::query_as("SELECT mpp_id, date, reason FROM mpp_closures ORDER BY mpp_id, date")
            .fetch_all(&mut *conn)
            .await?;
        let days_off = sqlx::query_as("SELECT date, kind, name, effective_from FROM days_off ORDER BY date, kind")
            .fetch_all(&mut *conn)
            .await?;
        Ok::<_, sqlx::Error>(CatalogRows {
            version,
            provinces,
            regencies,
            districts,
            agencies,
            templates,
            mpps,
            hours,
            tenants,
            services,
            requirements,
            steps,
            closures,
            days_off,
        })
    })?;
    Ok(rows)
}

fn agency_doc(a: &AgencyRow) -> AgencyDoc {
    AgencyDoc {
        slug: a.slug.clone(),
        name: a.name.clone(),
        short_name: a.short_name.clone(),
        kind: a.kind.clone(),
    }
}

fn template_doc(t: &TemplateRow) -> TemplateDoc {
    TemplateDoc {
        slug: t.slug.clone(),
        name: t.name.clone(),
        description: t.description.clone(),
    }
}

fn mpp_doc(m: &MppRow, hours: &[&HoursRow], closures: &[&ClosureRow]) -> MppDoc {
    MppDoc {
        slug: m.slug.clone(),
        region: m.region_code.clone(),
        name: m.name.clone(),
        address: m.address.clone(),
        phone: m.phone.clone(),
        email: m.email.clone(),
        website: m.website.clone(),
        status: m.status.clone(),
        inaugurated_on: m.inaugurated_on.map(|d| d.format("%Y-%m-%d").to_string()),
        opening_hours: hours
            .iter()
            .map(|h| OpeningHoursDoc {
                weekday: i64::from(h.weekday),
                opens: h.opens.clone(),
                closes: h.closes.clone(),
            })
            .collect(),
        closures: closures
            .iter()
            .map(|c| ClosureDoc {
                date: c.date.format("%Y-%m-%d").to_string(),
                reason: c.reason.clone(),
            })
            .collect(),
        tenants: Vec::new(),
    }
}

fn tenant_doc(t: &TenantRow, agency_slug: &str) -> TenantDoc {
    TenantDoc {
        slug: t.slug.clone(),
        agency: agency_slug.to_owned(),
        name: t.name.clone(),
        location: t.location.clone(),
        description: t.description.clone(),
        observes_cuti_bersama: t.observes_cuti_bersama,
        services: Vec::new(),
    }
}

fn service_doc(
    s: &ServiceRow,
    template_slug: Option<String>,
    requirements: &[&RequirementRow],
    steps: &[&StepRow],
) -> ServiceDoc {
    ServiceDoc {
        slug: s.slug.clone(),
        template: template_slug,
        name: s.name.clone(),
        description: s.description.clone(),
        requirements: requirements
            .iter()
            .map(|r| RequirementDoc {
                text: r.text.clone(),
                note: r.note.clone(),
            })
            .collect(),
        procedure: steps.iter().map(|s| s.text.clone()).collect(),
        time_limit: TimeLimitDoc {
            value: i64::from(s.time_limit_value),
            unit: s.time_limit_unit.clone(),
        },
        fee: FeeDoc {
            rupiah: s.fee_rupiah,
            legal_basis: s.fee_legal_basis.clone(),
            variable: s.fee_variable,
        },
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
        form: None,
    }
}

fn group<T>(rows: &[T], key: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<&T>> {
    let mut map: HashMap<Uuid, Vec<&T>> = HashMap::new();
    for row in rows {
        map.entry(key(row)).or_default().push(row);
    }
    map
}

impl CatalogRows {
    /// The catalog in its interchange format, every list sorted by slug: the export.
    pub fn to_doc(&self) -> CatalogDoc {
        self.to_doc_with_forms(&HashMap::new())
    }

    /// The catalog document with the services' current application forms.
    pub fn to_doc_with_forms(&self, forms: &HashMap<Uuid, FormDef>) -> CatalogDoc {
        let agency_slug: HashMap<Uuid, &str> = self
            .agencies
            .iter()
            .map(|a| (a.id, a.slug.as_str()))
            .collect();
        let template_slug: HashMap<Uuid, &str> = self
            .templates
            .iter()
            .map(|t| (t.id, t.slug.as_str()))
            .collect();
        let hours = group(&self.hours, |h| h.mpp_id);
        let closures = group(&self.closures, |c| c.mpp_id);
        let tenants = group(&self.tenants, |t| t.mpp_id);
        let services = group(&self.services, |s| s.tenant_id);
        let requirements = group(&self.requirements, |r| r.service_id);
        let steps = group(&self.steps, |s| s.service_id);
        let mut agencies: Vec<AgencyDoc> = self.agencies.iter().map(agency_doc).collect();
        agencies.sort_by(|a, b| a.slug.cmp(&b.slug));
        let mut templates: Vec<TemplateDoc> = self.templates.iter().map(template_doc).collect();
        templates.sort_by(|a, b| a.slug.cmp(&b.slug));
        let mut mpps = Vec::with_capacity(self.mpps.len());
        for m in &self.mpps {
            let mut doc = mpp_doc(
                m,
                hours.get(&m.id).map_or(&[][..], |v| v.as_slice()),
                closures.get(&m.id).map_or(&[][..], |v| v.as_slice()),
            );
            for t in tenants.get(&m.id).into_iter().flatten() {
                let mut tenant = tenant_doc(
                    t,
                    agency_slug.get(&t.agency_id).copied().unwrap_or_default(),
                );
                for s in services.get(&t.id).into_iter().flatten() {
                    let mut service = service_doc(
                        s,
                        s.template_id
                            .and_then(|id| template_slug.get(&id))
                            .map(|s| (*s).to_owned()),
                        requirements.get(&s.id).map_or(&[][..], |v| v.as_slice()),
                        steps.get(&s.id).map_or(&[][..], |v| v.as_slice()),
                    );
                    service.form = forms.get(&s.id).cloned();
                    tenant.services.push(service);
                }
                tenant.services.sort_by(|a, b| a.slug.cmp(&b.slug));
                doc.tenants.push(tenant);
            }
            doc.tenants.sort_by(|a, b| a.slug.cmp(&b.slug));
            mpps.push(doc);
        }
        mpps.sort_by(|a, b| a.slug.cmp(&b.slug));
        CatalogDoc {
            format: FORMAT.to_owned(),
            version: VERSION,
            agencies,
            templates,
            mpps,
        }
    }
}

/// What an import did, counted over agencies, templates, MPPs, tenants and services; and the
/// application forms it saved as new versions (a form equal to the current one is not counted).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub form_versions: u64,
}

/// A service to insert, with the ids it hangs from.
struct NewService<'a> {
    id: Uuid,
    mpp_id: Uuid,
    tenant_id: Uuid,
    template_id: Option<Uuid>,
    doc: &'a ServiceDoc,
    /// False when the service row exists and was updated in place; only its lists are inserted.
    insert_row: bool,
}

/// Applies a validated, normalized document in one transaction, writing only what differs from
/// the database, and the services' forms taken out of it (`CatalogDoc::take_forms`): a form that
/// differs from the service's current one becomes its next version. Nothing is deleted.
pub async fn import(
    db: &Db,
    doc: &CatalogDoc,
    forms: &[FormAt],
    actor: &str,
) -> Result<ImportReport, StorageError> {
    let mut tx = db.begin().await?;
    // One catalog writer at a time: the row lock (PostgreSQL) or the write lock (SQLite) makes a
    // concurrent import wait, and the comparison below sees what that import wrote.
    on_tx!(&mut tx, conn => {
        sqlx::query("UPDATE catalog_meta SET version = version WHERE id = 1").execute(conn).await.map(|_| ())
    })?;
    let existing = load_in(&mut tx).await?;
    let current = existing.to_doc();
    let mut report = ImportReport::default();

    // Agencies and templates.
    let mut agency_ids: HashMap<&str, Uuid> = existing
        .agencies
        .iter()
        .map(|a| (a.slug.as_str(), a.id))
        .collect();
    let current_agencies: HashMap<&str, &AgencyDoc> = current
        .agencies
        .iter()
        .map(|a| (a.slug.as_str(), a))
        .collect();
    for a in &doc.agencies {
        match current_agencies.get(a.slug.as_str()) {
            Some(old) if *old == a => report.unchanged += 1,
            Some(_) => {
                on_tx!(&mut tx, conn => sqlx::query(
                    "UPDATE agencies SET name = $2, short_name = $3, kind = $4 WHERE slug = $1",
                ).bind(&a.slug).bind(&a.name).bind(&a.short_name).bind(&a.kind).execute(conn).await.map(|_| ()))?;
                report.updated += 1;
            }
            None => {
                let id = Uuid::now_v7();
                on_tx!(&mut tx, conn => sqlx::query(
                    "INSERT INTO agencies (id, slug, name, short_name, kind) VALUES ($1, $2, $3, $4, $5)",
                ).bind(id).bind(&a.slug).bind(&a.name).bind(&a.short_name).bind(&a.kind).execute(conn).await.map(|_| ()))?;
                agency_ids.insert(&a.slug, id);
                report.created += 1;
            }
        }
    }
    let mut template_ids: HashMap<&str, Uuid> = existing
        .templates
        .iter()
        .map(|t| (t.slug.as_str(), t.id))
        .collect();
    let current_templates: HashMap<&str, &TemplateDoc> = current
        .templates
        .iter()
        .map(|t| (t.slug.as_str(), t))
        .collect();
    for t in &doc.templates {
        match current_templates.get(t.slug.as_str()) {
            Some(old) if *old == t => report.unchanged += 1,
            Some(_) => {
                on_tx!(&mut tx, conn => sqlx::query(
                    "UPDATE service_templates SET name = $2, description = $3 WHERE slug = $1",
                ).bind(&t.slug).bind(&t.name).bind(&t.description).execute(conn).await.map(|_| ()))?;
                report.updated += 1;
            }
            None => {
                let id = Uuid::now_v7();
                on_tx!(&mut tx, conn => sqlx::query(
                    "INSERT INTO service_templates (id, slug, name, description) VALUES ($1, $2, $3, $4)",
                ).bind(id).bind(&t.slug).bind(&t.name).bind(&t.description).execute(conn).await.map(|_| ()))?;
                template_ids.insert(&t.slug, id);
                report.created += 1;
            }
        }
    }

    // MPPs, their tenants and services.
    let mpp_ids: HashMap<&str, Uuid> = existing
        .mpps
        .iter()
        .map(|m| (m.slug.as_str(), m.id))
        .collect();
    let current_mpps: HashMap<&str, &MppDoc> =
        current.mpps.iter().map(|m| (m.slug.as_str(), m)).collect();
    let tenant_ids: HashMap<(Uuid, &str), Uuid> = existing
        .tenants
        .iter()
        .map(|t| ((t.mpp_id, t.slug.as_str()), t.id))
        .collect();
    let service_ids: HashMap<(Uuid, &str), Uuid> = existing
        .services
        .iter()
        .map(|s| ((s.tenant_id, s.slug.as_str()), s.id))
        .collect();
    let mut new_services: Vec<NewService<'_>> = Vec::new();
    for m in &doc.mpps {
        let old = current_mpps.get(m.slug.as_str());
        let mpp_id = match (old, mpp_ids.get(m.slug.as_str())) {
            (Some(old), Some(&id)) => {
                let same = old.region == m.region
                    && old.name == m.name
                    && old.address == m.address
                    && old.phone == m.phone
                    && old.email == m.email
                    && old.website == m.website
                    && old.status == m.status
                    && old.inaugurated_on == m.inaugurated_on
                    && old.opening_hours == m.opening_hours
                    && old.closures == m.closures;
                if same {
                    report.unchanged += 1;
                } else {
                    write_mpp(&mut tx, id, m, false).await?;
                    report.updated += 1;
                }
                id
            }
            _ => {
                let id = Uuid::now_v7();
                write_mpp(&mut tx, id, m, true).await?;
                report.created += 1;
                id
            }
        };
        let old_tenants: HashMap<&str, &TenantDoc> = old
            .map(|o| o.tenants.iter().map(|t| (t.slug.as_str(), t)).collect())
            .unwrap_or_default();
        for t in &m.tenants {
            let agency_id = agency_ids
                .get(t.agency.as_str())
                .copied()
                .ok_or(sqlx::Error::RowNotFound)?;
            let old_tenant = old_tenants.get(t.slug.as_str());
            let tenant_id = match (old_tenant, tenant_ids.get(&(mpp_id, t.slug.as_str()))) {
                (Some(old), Some(&id)) => {
                    if old.agency == t.agency
                        && old.name == t.name
                        && old.location == t.location
                        && old.description == t.description
                        && old.observes_cuti_bersama == t.observes_cuti_bersama
                    {
                        report.unchanged += 1;
                    } else {
                        on_tx!(&mut tx, conn => sqlx::query(
                            "UPDATE tenants SET agency_id = $2, name = $3, location = $4, description = $5, \
                             observes_cuti_bersama = $6 WHERE id = $1",
                        ).bind(id).bind(agency_id).bind(&t.name).bind(&t.location).bind(&t.description)
                         .bind(t.observes_cuti_bersama).execute(conn).await.map(|_| ()))?;
                        report.updated += 1;
                    }
                    id
                }
                _ => {
                    let id = Uuid::now_v7();
                    on_tx!(&mut tx, conn => sqlx::query(
                        "INSERT INTO tenants (id, mpp_id, agency_id, slug, name, location, description, \
                         observes_cuti_bersama) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    ).bind(id).bind(mpp_id).bind(agency_id).bind(&t.slug).bind(&t.name).bind(&t.location)
                     .bind(&t.description).bind(t.observes_cuti_bersama).execute(conn).await.map(|_| ()))?;
                    report.created += 1;
                    id
                }
            };
            let old_services: HashMap<&str, &ServiceDoc> = old_tenant
                .map(|o| o.services.iter().map(|s| (s.slug.as_str(), s)).collect())
                .unwrap_or_default();
            for s in &t.services {
                let template_id = match &s.template {
                    Some(slug) => Some(
                        template_ids
                            .get(slug.as_str())
                            .copied()
                            .ok_or(sqlx::Error::RowNotFound)?,
                    ),
                    None => None,
                };
                match (
                    old_services.get(s.slug.as_str()),
                    service_ids.get(&(tenant_id, s.slug.as_str())),
                ) {
                    (Some(old), Some(_)) if *old == s => report.unchanged += 1,
                    (Some(_), Some(&id)) => {
                        // Updated in place: later records (bookings, applications) refer to the id.
                        update_service_row(&mut tx, id, template_id, s).await?;
                        new_services.push(NewService {
                            id,
                            mpp_id,
                            tenant_id,
                            template_id,
                            doc: s,
                            insert_row: false,
                        });
                        report.updated += 1;
                    }
                    _ => {
                        new_services.push(NewService {
                            id: Uuid::now_v7(),
                            mpp_id,
                            tenant_id,
                            template_id,
                            doc: s,
                            insert_row: true,
                        });
                        report.created += 1;
                    }
                }
            }
        }
    }
    insert_services(&mut tx, &new_services).await?;
    for f in forms {
        let service_id: Uuid = on_tx!(&mut tx, conn => sqlx::query_scalar(
            "SELECT s.id FROM services s JOIN tenants t ON t.id = s.tenant_id JOIN mpps m ON m.id = t.mpp_id \
             WHERE m.slug = $1 AND t.slug = $2 AND s.slug = $3",
        ).bind(&f.mpp).bind(&f.tenant).bind(&f.service).fetch_one(conn).await)?;
        let current = super::applications::form_in(&mut tx, service_id).await?;
        match current.and_then(|json| serde_json::from_str::<FormDef>(&json).ok()) {
            Some(old) if old == f.form => {}
            _ => {
                let json =
                    serde_json::to_string(&f.form).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                super::applications::write_form(&mut tx, service_id, &json, actor, "national")
                    .await?;
                report.form_versions += 1;
            }
        }
    }
    if report.created + report.updated + report.form_versions > 0 {
        bump_version(&mut tx).await?;
        let details = serde_json::json!({
            "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
            "mpps": doc.mpps.iter().map(|m| m.slug.as_str()).collect::<Vec<_>>(),
        });
        let entry = super::audit::NewEntry {
            actor,
            action: "catalog.import",
            scope: "national",
            subject: "",
            details,
        };
        super::audit::append(&mut tx, entry).await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// Rewrites a service's row in place (its id stays: later records refer to it) and removes its
/// requirements and steps, which the caller inserts again.
async fn update_service_row(
    tx: &mut Tx,
    id: Uuid,
    template_id: Option<Uuid>,
    s: &ServiceDoc,
) -> Result<(), StorageError> {
    on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE services SET template_id = $2, name = $3, description = $4, \
             time_limit_value = $5, time_limit_unit = $6, fee_rupiah = $7, \
             fee_legal_basis = $8, product = $9, complaint_channel = $10, legal_basis = $11, \
             facilities = $12, staff_competence = $13, internal_supervision = $14, \
             staff_count = $15, service_guarantee = $16, security_guarantee = $17, \
             performance_evaluation = $18, fee_variable = $19 WHERE id = $1",
        )
        .bind(id).bind(template_id).bind(&s.name).bind(&s.description)
        .bind(s.time_limit.value as i32).bind(&s.time_limit.unit).bind(s.fee.rupiah)
        .bind(&s.fee.legal_basis).bind(&s.product).bind(&s.complaint_channel)
        .bind(&s.legal_basis).bind(&s.facilities).bind(&s.staff_competence)
        .bind(&s.internal_supervision).bind(&s.staff_count).bind(&s.service_guarantee)
        .bind(&s.security_guarantee).bind(&s.performance_evaluation).bind(s.fee.variable)
        .execute(&mut *conn).await?;
        sqlx::query("DELETE FROM service_requirements WHERE service_id = $1").bind(id).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM service_steps WHERE service_id = $1").bind(id).execute(&mut *conn).await.map(|_| ())
    })?;
    Ok(())
}

/// One edit made on the web or through the API: who, where (the audit scope path), and which
/// fields changed (names only; catalog text is public, but the log stays small).
pub struct Edit<'a> {
    pub actor: &'a str,
    pub audit_scope: &'a str,
    pub changed: &'a [&'a str],
}

/// Writes one service's new Standar Pelayanan (validated by the caller), bumps the catalog
/// version and appends the audit entry, in one transaction. The service keeps its id, MPP,
/// tenant, slug and template.
pub async fn edit_service(
    db: &Db,
    service_id: Uuid,
    doc: &ServiceDoc,
    edit: Edit<'_>,
) -> Result<bool, StorageError> {
    let mut tx = db.begin().await?;
    lock_catalog(&mut tx).await?;
    let row: Option<(Uuid, Uuid, Option<Uuid>)> = on_tx!(&mut tx, conn => {
        sqlx::query_as("SELECT mpp_id, tenant_id, template_id FROM services WHERE id = $1")
            .bind(service_id).fetch_optional(conn).await
    })?;
    let Some((mpp_id, tenant_id, template_id)) = row else {
        return Ok(false);
    };
    update_service_row(&mut tx, service_id, template_id, doc).await?;
    let lists = [NewService {
        id: service_id,
        mpp_id,
        tenant_id,
        template_id,
        doc,
        insert_row: false,
    }];
    insert_services(&mut tx, &lists).await?;
    bump_version(&mut tx).await?;
    super::audit::append(
        &mut tx,
        super::audit::NewEntry {
            actor: edit.actor,
            action: "service.update",
            scope: edit.audit_scope,
            subject: &service_id.to_string(),
            details: serde_json::json!({ "fields": edit.changed }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Writes an MPP's own fields (not its tenants), bumps the version, audits; one transaction.
pub async fn edit_mpp(
    db: &Db,
    mpp_id: Uuid,
    doc: &MppDoc,
    edit: Edit<'_>,
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    lock_catalog(&mut tx).await?;
    write_mpp(&mut tx, mpp_id, doc, false).await?;
    bump_version(&mut tx).await?;
    super::audit::append(
        &mut tx,
        super::audit::NewEntry {
            actor: edit.actor,
            action: "mpp.update",
            scope: edit.audit_scope,
            subject: &mpp_id.to_string(),
            details: serde_json::json!({ "fields": edit.changed }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a tenant (UPP) to an MPP, or rewrites an existing one's own fields (its services stay),
/// bumps the version and audits; one transaction. `tenant_id` is `None` to add.
pub async fn save_tenant(
    db: &Db,
    mpp_id: Uuid,
    tenant_id: Option<Uuid>,
    agency_id: Uuid,
    doc: &TenantDoc,
    edit: Edit<'_>,
) -> Result<Uuid, StorageError> {
    let mut tx = db.begin().await?;
    lock_catalog(&mut tx).await?;
    let (id, action) = match tenant_id {
        Some(id) => {
            on_tx!(&mut tx, conn => sqlx::query(
                "UPDATE tenants SET agency_id = $3, name = $4, location = $5, description = $6, \
                 observes_cuti_bersama = $7 WHERE id = $1 AND mpp_id = $2",
            ).bind(id).bind(mpp_id).bind(agency_id).bind(&doc.name).bind(&doc.location).bind(&doc.description)
             .bind(doc.observes_cuti_bersama).execute(conn).await.map(|_| ()))?;
            (id, "tenant.update")
        }
        None => {
            let id = Uuid::now_v7();
            on_tx!(&mut tx, conn => sqlx::query(
                "INSERT INTO tenants (id, mpp_id, agency_id, slug, name, location, description, \
                 observes_cuti_bersama) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            ).bind(id).bind(mpp_id).bind(agency_id).bind(&doc.slug).bind(&doc.name).bind(&doc.location)
             .bind(&doc.description).bind(doc.observes_cuti_bersama).execute(conn).await.map(|_| ()))?;
            (id, "tenant.create")
        }
    };
    bump_version(&mut tx).await?;
    super::audit::append(
        &mut tx,
        super::audit::NewEntry {
            actor: edit.actor,
            action,
            scope: edit.audit_scope,
            subject: &id.to_string(),
            details: serde_json::json!({ "fields": edit.changed }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// One catalog writer at a time (see [`import`]).
async fn lock_catalog(tx: &mut Tx) -> Result<(), StorageError> {
    on_tx!(tx, conn => {
        sqlx::query("UPDATE catalog_meta SET version = version WHERE id = 1").execute(conn).await.map(|_| ())
    })?;
    Ok(())
}

async fn write_mpp(tx: &mut Tx, id: Uuid, m: &MppDoc, insert: bool) -> Result<(), StorageError> {
    let inaugurated = m
        .inaugurated_on
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let sql = if insert {
        "INSERT INTO mpps (id, slug, region_code, name, address, phone, email, website, status, inaugurated_on) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    } else {
        "UPDATE mpps SET slug = $2, region_code = $3, name = $4, address = $5, phone = $6, email = $7, \
         website = $8, status = $9, inaugurated_on = $10 WHERE id = $1"
    };
    on_tx!(tx, conn => {
        sqlx::query(sql)
            .bind(id).bind(&m.slug).bind(&m.region).bind(&m.name).bind(&m.address).bind(&m.phone)
            .bind(&m.email).bind(&m.website).bind(&m.status).bind(inaugurated)
            .execute(&mut *conn).await?;
        sqlx::query("DELETE FROM mpp_opening_hours WHERE mpp_id = $1").bind(id).execute(&mut *conn).await?;
        if !m.opening_hours.is_empty() {
            let mut q = QueryBuilder::new("INSERT INTO mpp_opening_hours (mpp_id, weekday, opens, closes) ");
            q.push_values(&m.opening_hours, |mut b, h| {
                b.push_bind(id).push_bind(h.weekday as i16).push_bind(&h.opens).push_bind(&h.closes);
            });
            q.build().execute(&mut *conn).await?;
        }
        sqlx::query("DELETE FROM mpp_closures WHERE mpp_id = $1").bind(id).execute(&mut *conn).await?;
        for c in &m.closures {
            let date = NaiveDate::parse_from_str(&c.date, "%Y-%m-%d").map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            sqlx::query("INSERT INTO mpp_closures (mpp_id, date, reason) VALUES ($1, $2, $3)")
                .bind(id).bind(date).bind(&c.reason)
                .execute(&mut *conn).await?;
        }
        Ok::<(), sqlx::Error>(())
    })?;
    Ok(())
}

async fn insert_services(tx: &mut Tx, services: &[NewService<'_>]) -> Result<(), StorageError> {
    on_tx!(tx, conn => {
        let rows: Vec<&NewService<'_>> = services.iter().filter(|n| n.insert_row).collect();
        for chunk in rows.chunks(CHUNK) {
            let mut q = QueryBuilder::new(format!("INSERT INTO services ({SERVICE_COLUMNS}) "));
            q.push_values(chunk, |mut b, n| {
                let s = n.doc;
                b.push_bind(n.id).push_bind(n.mpp_id).push_bind(n.tenant_id).push_bind(n.template_id)
                    .push_bind(&s.slug).push_bind(&s.name).push_bind(&s.description)
                    .push_bind(s.time_limit.value as i32).push_bind(&s.time_limit.unit)
                    .push_bind(s.fee.rupiah).push_bind(&s.fee.legal_basis).push_bind(s.fee.variable).push_bind(&s.product)
                    .push_bind(&s.complaint_channel).push_bind(&s.legal_basis).push_bind(&s.facilities)
                    .push_bind(&s.staff_competence).push_bind(&s.internal_supervision)
                    .push_bind(&s.staff_count).push_bind(&s.service_guarantee)
                    .push_bind(&s.security_guarantee).push_bind(&s.performance_evaluation);
            });
            q.build().execute(&mut *conn).await?;
        }
        let requirements: Vec<(Uuid, i32, &RequirementDoc)> = services
            .iter()
            .flat_map(|n| n.doc.requirements.iter().enumerate().map(move |(i, r)| (n.id, i as i32 + 1, r)))
            .collect();
        for chunk in requirements.chunks(CHUNK) {
            let mut q = QueryBuilder::new("INSERT INTO service_requirements (service_id, position, text, note) ");
            q.push_values(chunk, |mut b, (id, pos, r)| {
                b.push_bind(*id).push_bind(*pos).push_bind(&r.text).push_bind(&r.note);
            });
            q.build().execute(&mut *conn).await?;
        }
        let steps: Vec<(Uuid, i32, &String)> = services
            .iter()
            .flat_map(|n| n.doc.procedure.iter().enumerate().map(move |(i, s)| (n.id, i as i32 + 1, s)))
            .collect();
        for chunk in steps.chunks(CHUNK) {
            let mut q = QueryBuilder::new("INSERT INTO service_steps (service_id, position, text) ");
            q.push_values(chunk, |mut b, (id, pos, s)| {
                b.push_bind(*id).push_bind(*pos).push_bind(*s);
            });
            q.build().execute(&mut *conn).await?;
        }
        Ok::<(), sqlx::Error>(())
    })?;
    Ok(())
}
