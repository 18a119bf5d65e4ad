//! The catalog as served: an immutable in-memory snapshot of the registry and every MPP, tenant and
//! service, with its search index. The database is the source of truth; a snapshot is rebuilt when
//! the catalog version in the database moves (after an import, or an edit on another node).
//!
//! Reading from memory keeps a service page at a few microseconds on both engines and keeps
//! statements per request at zero for the public catalog.

pub mod search;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::NaiveDate;
use uuid::Uuid;

use crate::domain::calendar::{CalendarRules, DayOff, DayOffKind, WorkingCalendar};
use crate::domain::catalog::{
    AgencyKind, Fee, MppStatus, OpeningInterval, TimeLimit, TimeUnit, parse_hhmm,
};
use crate::storage::catalog::CatalogRows;
use crate::storage::{self, Db, StorageError};
use search::{IndexedService, SearchError, SearchIndex};

#[derive(Debug, Clone)]
pub struct Province {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Regency {
    pub code: String,
    pub province_code: String,
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct Agency {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub short_name: Option<String>,
    pub kind: AgencyKind,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Mpp {
    pub id: Uuid,
    pub slug: String,
    pub region_code: String,
    pub province_code: String,
    pub name: String,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub status: MppStatus,
    pub inaugurated_on: Option<NaiveDate>,
    pub hours: Vec<OpeningInterval>,
    /// The MPP's own closures, by date.
    pub closures: Vec<(NaiveDate, String)>,
    /// Positions in [`Catalog::tenants`], sorted by name.
    pub tenants: Vec<usize>,
    pub service_count: usize,
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: Uuid,
    pub mpp: usize,
    pub agency: usize,
    pub slug: String,
    pub name: String,
    pub location: Option<String>,
    pub description: Option<String>,
    /// Positions in [`Catalog::services`], sorted by name.
    /// False for tenants that work on cuti bersama (banks).
    pub observes_cuti_bersama: bool,
    pub services: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Requirement {
    pub text: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub id: Uuid,
    pub mpp: usize,
    pub tenant: usize,
    pub template: Option<usize>,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub requirements: Vec<Requirement>,
    pub procedure: Vec<String>,
    pub time_limit: TimeLimit,
    pub fee: Fee,
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

pub struct Catalog {
    pub version: i64,
    pub provinces: Vec<Province>,
    pub regencies: Vec<Regency>,
    regency_by_code: HashMap<String, usize>,
    /// Kecamatan by code, sorted by code (so a kabupaten/kota's are together).
    districts: Vec<crate::storage::regions::DistrictRow>,
    district_by_code: HashMap<String, usize>,
    province_by_code: HashMap<String, usize>,
    pub agencies: Vec<Agency>,
    agency_by_slug: HashMap<String, usize>,
    pub templates: Vec<Template>,
    pub mpps: Vec<Mpp>,
    mpp_by_slug: HashMap<String, usize>,
    pub tenants: Vec<Tenant>,
    pub services: Vec<Service>,
    service_by_id: HashMap<Uuid, usize>,
    /// For each service, up to five services of the same national template in other MPPs, those
    /// in the same province first (computed once per snapshot, not per page view).
    elsewhere: Vec<Vec<usize>>,
    /// For each national template, its services in every MPP, by province and MPP name.
    template_services: Vec<Vec<usize>>,
    template_by_slug: HashMap<String, usize>,
    /// National days off with their effective dates (`mpp import holidays`).
    pub days_off: Vec<DayOff>,
    search: SearchIndex,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Search(#[from] SearchError),
}

impl Catalog {
    /// Reads the registry and catalog from the database and builds the snapshot.
    pub async fn load(db: &Db) -> Result<Catalog, CatalogError> {
        let rows = storage::catalog::load(db).await?;
        tokio::task::spawn_blocking(move || Catalog::build(rows))
            .await
            .map_err(|e| SearchError::from(tantivy::TantivyError::InternalError(e.to_string())))?
    }

    pub fn build(mut rows: CatalogRows) -> Result<Catalog, CatalogError> {
        let regencies = std::mem::take(&mut rows.regencies);
        let districts = std::mem::take(&mut rows.districts);
        let district_by_code = districts
            .iter()
            .enumerate()
            .map(|(i, d)| (d.code.clone(), i))
            .collect();
        let provinces: Vec<Province> = std::mem::take(&mut rows.provinces)
            .into_iter()
            .map(|p| Province {
                code: p.code,
                name: p.name,
            })
            .collect();
        let regencies: Vec<Regency> = regencies
            .into_iter()
            .map(|r| Regency {
                code: r.code,
                province_code: r.province_code,
                name: r.name,
                kind: r.kind,
            })
            .collect();
        let province_by_code = provinces
            .iter()
            .enumerate()
            .map(|(i, p)| (p.code.clone(), i))
            .collect();
        let regency_by_code = regencies
            .iter()
            .enumerate()
            .map(|(i, r)| (r.code.clone(), i))
            .collect();

        let agencies: Vec<Agency> = rows
            .agencies
            .into_iter()
            .map(|a| Agency {
                id: a.id,
                slug: a.slug,
                name: a.name,
                short_name: a.short_name,
                kind: AgencyKind::parse(&a.kind).unwrap_or(AgencyKind::Lainnya),
            })
            .collect();
        let agency_by_slug: HashMap<String, usize> = agencies
            .iter()
            .enumerate()
            .map(|(i, a)| (a.slug.clone(), i))
            .collect();
        let agency_by_id: HashMap<Uuid, usize> = agencies
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id, i))
            .collect();
        let templates: Vec<Template> = rows
            .templates
            .into_iter()
            .map(|t| Template {
                id: t.id,
                slug: t.slug,
                name: t.name,
                description: t.description,
            })
            .collect();
        let template_by_id: HashMap<Uuid, usize> = templates
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id, i))
            .collect();

        let mut hours: HashMap<Uuid, Vec<OpeningInterval>> = HashMap::new();
        for h in rows.hours {
            if let (Some(opens), Some(closes), Ok(weekday)) = (
                parse_hhmm(&h.opens),
                parse_hhmm(&h.closes),
                u8::try_from(h.weekday),
            ) {
                hours.entry(h.mpp_id).or_default().push(OpeningInterval {
                    weekday,
                    opens,
                    closes,
                });
            }
        }
        let mut closures: HashMap<Uuid, Vec<(NaiveDate, String)>> = HashMap::new();
        for c in rows.closures {
            closures
                .entry(c.mpp_id)
                .or_default()
                .push((c.date, c.reason));
        }
        let days_off: Vec<DayOff> = rows
            .days_off
            .into_iter()
            .filter_map(|d| {
                Some(DayOff {
                    date: d.date,
                    name: d.name,
                    kind: DayOffKind::parse(&d.kind)?,
                    effective_from: d.effective_from,
                })
            })
            .collect();
        let mut mpps: Vec<Mpp> = rows
            .mpps
            .into_iter()
            .map(|m| Mpp {
                closures: closures.remove(&m.id).unwrap_or_default(),
                hours: {
                    let mut h = hours.remove(&m.id).unwrap_or_default();
                    h.sort();
                    h
                },
                id: m.id,
                province_code: m.region_code.get(..2).unwrap_or_default().to_owned(),
                slug: m.slug,
                region_code: m.region_code,
                name: m.name,
                address: m.address,
                phone: m.phone,
                email: m.email,
                website: m.website,
                status: MppStatus::parse(&m.status).unwrap_or(MppStatus::Planned),
                inaugurated_on: m.inaugurated_on,
                tenants: Vec::new(),
                service_count: 0,
            })
            .collect();
        let mpp_by_id: HashMap<Uuid, usize> =
            mpps.iter().enumerate().map(|(i, m)| (m.id, i)).collect();

        let mut tenants: Vec<Tenant> = Vec::with_capacity(rows.tenants.len());
        for t in rows.tenants {
            let (Some(&mpp), Some(&agency)) =
                (mpp_by_id.get(&t.mpp_id), agency_by_id.get(&t.agency_id))
            else {
                continue;
            };
            tenants.push(Tenant {
                id: t.id,
                mpp,
                agency,
                slug: t.slug,
                name: t.name,
                location: t.location,
                description: t.description,
                observes_cuti_bersama: t.observes_cuti_bersama,
                services: Vec::new(),
            });
        }
        let tenant_by_id: HashMap<Uuid, usize> =
            tenants.iter().enumerate().map(|(i, t)| (t.id, i)).collect();

        let mut requirements: HashMap<Uuid, Vec<Requirement>> = HashMap::new();
        for r in rows.requirements {
            requirements
                .entry(r.service_id)
                .or_default()
                .push(Requirement {
                    text: r.text,
                    note: r.note,
                });
        }
        let mut steps: HashMap<Uuid, Vec<String>> = HashMap::new();
        for s in rows.steps {
            steps.entry(s.service_id).or_default().push(s.text);
        }
        let mut services: Vec<Service> = Vec::with_capacity(rows.services.len());
        for s in rows.services {
            let Some(&tenant) = tenant_by_id.get(&s.tenant_id) else {
                continue;
            };
            services.push(Service {
                id: s.id,
                mpp: tenants[tenant].mpp,
                tenant,
                template: s
                    .template_id
                    .and_then(|id| template_by_id.get(&id).copied()),
                requirements: requirements.remove(&s.id).unwrap_or_default(),
                procedure: steps.remove(&s.id).unwrap_or_default(),
                time_limit: TimeLimit {
                    value: u32::try_from(s.time_limit_value).unwrap_or(1),
                    unit: TimeUnit::parse(&s.time_limit_unit).unwrap_or(TimeUnit::WorkingDays),
                },
                fee: Fee::new(s.fee_rupiah, s.fee_variable),
                slug: s.slug,
                name: s.name,
                description: s.description,
                fee_legal_basis: s.fee_legal_basis,
                product: s.product,
                complaint_channel: s.complaint_channel,
                legal_basis: s.legal_basis,
                facilities: s.facilities,
                staff_competence: s.staff_competence,
                internal_supervision: s.internal_supervision,
                staff_count: s.staff_count,
                service_guarantee: s.service_guarantee,
                security_guarantee: s.security_guarantee,
                performance_evaluation: s.performance_evaluation,
            });
        }
        // One order on both engines (SQL collations differ): MPP, tenant, then service by name. It is
        // also the order of a search without words.
        services.sort_by(|a, b| {
            (&mpps[a.mpp].name, &tenants[a.tenant].name, &a.name, &a.slug).cmp(&(
                &mpps[b.mpp].name,
                &tenants[b.tenant].name,
                &b.name,
                &b.slug,
            ))
        });
        for (i, s) in services.iter().enumerate() {
            tenants[s.tenant].services.push(i);
            mpps[s.mpp].service_count += 1;
        }
        for t in &mut tenants {
            t.services
                .sort_by(|a, b| services[*a].name.cmp(&services[*b].name));
        }
        for (i, t) in tenants.iter().enumerate() {
            mpps[t.mpp].tenants.push(i);
        }
        for m in &mut mpps {
            m.tenants
                .sort_by(|a, b| tenants[*a].name.cmp(&tenants[*b].name));
        }
        let mpp_by_slug = mpps
            .iter()
            .enumerate()
            .map(|(i, m)| (m.slug.clone(), i))
            .collect();
        let service_by_id = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id, i))
            .collect();
        let mut by_template: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, s) in services.iter().enumerate() {
            if let Some(t) = s.template {
                by_template.entry(t).or_default().push(i);
            }
        }
        let mut elsewhere: Vec<Vec<usize>> = vec![Vec::new(); services.len()];
        for group in by_template.values_mut() {
            group.sort_by(|a, b| {
                let (ma, mb) = (&mpps[services[*a].mpp], &mpps[services[*b].mpp]);
                (&ma.province_code, &ma.name).cmp(&(&mb.province_code, &mb.name))
            });
            for &i in group.iter() {
                let here = &mpps[services[i].mpp];
                let other_mpp = |j: &&usize| services[**j].mpp != services[i].mpp;
                let same_province =
                    |j: &&usize| mpps[services[**j].mpp].province_code == here.province_code;
                let mut picks: Vec<usize> = group
                    .iter()
                    .filter(other_mpp)
                    .filter(same_province)
                    .take(5)
                    .copied()
                    .collect();
                if picks.len() < 5 {
                    let rest = group
                        .iter()
                        .filter(other_mpp)
                        .filter(|j| !same_province(j))
                        .take(5 - picks.len());
                    picks.extend(rest.copied());
                }
                elsewhere[i] = picks;
            }
        }
        let mut template_services: Vec<Vec<usize>> = vec![Vec::new(); templates.len()];
        for (t, group) in by_template {
            template_services[t] = group;
        }
        let template_by_slug: HashMap<String, usize> = templates
            .iter()
            .enumerate()
            .map(|(i, t)| (t.slug.clone(), i))
            .collect();

        let regency_name = |code: &str| -> &str {
            regency_by_code_lookup(&regencies, &regency_by_code, code)
                .map_or("", |r| r.name.as_str())
        };
        let province_name = |code: &str| -> &str {
            province_by_code_lookup(&provinces, &province_by_code, code)
                .map_or("", |p| p.name.as_str())
        };
        let search = SearchIndex::build(services.iter().enumerate().map(|(idx, s)| {
            let tenant = &tenants[s.tenant];
            let agency = &agencies[tenant.agency];
            let mpp = &mpps[s.mpp];
            let mut body = String::new();
            for part in [
                s.description.as_deref(),
                Some(s.product.as_str()),
                s.template.map(|t| templates[t].name.as_str()),
                Some(tenant.name.as_str()),
                Some(agency.name.as_str()),
                agency.short_name.as_deref(),
            ]
            .into_iter()
            .flatten()
            {
                body.push_str(part);
                body.push('\n');
            }
            for r in &s.requirements {
                body.push_str(&r.text);
                body.push('\n');
            }
            IndexedService {
                idx,
                name: &s.name,
                body,
                place: format!(
                    "{} {} {}",
                    mpp.name,
                    regency_name(&mpp.region_code),
                    province_name(&mpp.province_code)
                ),
                regions: [mpp.province_code.as_str(), mpp.region_code.as_str()],
                mpp: &mpp.slug,
                agency: &agency.slug,
                template: s.template.map(|t| templates[t].slug.as_str()),
            }
        }))?;

        Ok(Catalog {
            version: rows.version,
            provinces,
            regencies,
            regency_by_code,
            districts,
            district_by_code,
            province_by_code,
            agencies,
            agency_by_slug,
            templates,
            mpps,
            mpp_by_slug,
            tenants,
            services,
            service_by_id,
            elsewhere,
            template_services,
            template_by_slug,
            days_off,
            search,
        })
    }

    /// The working calendar of an MPP (or of one of its tenants that does not observe cuti
    /// bersama), as known on `as_of`.
    pub fn calendar(
        &self,
        mpp: &Mpp,
        as_of: NaiveDate,
        observe_cuti_bersama: bool,
    ) -> WorkingCalendar {
        let closures: Vec<NaiveDate> = mpp.closures.iter().map(|(d, _)| *d).collect();
        WorkingCalendar::new(
            &self.days_off,
            CalendarRules {
                as_of,
                observe_cuti_bersama,
                local_closures: &closures,
            },
        )
    }

    /// The next days an MPP is closed besides weekends, from `from` on: (date, name, kind) where
    /// kind is `libur_nasional`, `cuti_bersama` or `closure`.
    pub fn upcoming_days_off<'a>(
        &'a self,
        mpp: &'a Mpp,
        from: NaiveDate,
        limit: usize,
    ) -> Vec<(NaiveDate, &'a str, &'static str)> {
        let mut days: Vec<(NaiveDate, &'a str, &'static str)> = self
            .days_off
            .iter()
            .filter(|d| d.date >= from && d.effective_from.is_none_or(|e| e <= from))
            .map(|d| (d.date, d.name.as_str(), d.kind.as_str()))
            .chain(
                mpp.closures
                    .iter()
                    .filter(|(d, _)| *d >= from)
                    .map(|(d, r)| (*d, r.as_str(), "closure")),
            )
            .collect();
        days.sort_by_key(|(d, _, _)| *d);
        days.truncate(limit);
        days
    }

    pub fn mpp(&self, slug: &str) -> Option<&Mpp> {
        self.mpp_by_slug.get(slug).map(|&i| &self.mpps[i])
    }

    pub fn tenant(&self, mpp: &Mpp, slug: &str) -> Option<&Tenant> {
        mpp.tenants
            .iter()
            .map(|&i| &self.tenants[i])
            .find(|t| t.slug == slug)
    }

    pub fn service(&self, id: Uuid) -> Option<&Service> {
        self.service_by_id.get(&id).map(|&i| &self.services[i])
    }

    /// Other services derived from the same national template, those in the same province first.
    pub fn same_template_elsewhere(&self, service: &Service) -> impl Iterator<Item = &Service> {
        let idx = self.service_by_id.get(&service.id).copied();
        idx.map(|i| self.elsewhere[i].as_slice())
            .unwrap_or_default()
            .iter()
            .map(|&j| &self.services[j])
    }

    /// A national template by slug, with its position.
    pub fn template(&self, slug: &str) -> Option<(usize, &Template)> {
        self.template_by_slug
            .get(slug)
            .map(|&i| (i, &self.templates[i]))
    }

    /// The services derived from a template in every MPP, by province and MPP name.
    pub fn services_of_template(&self, template: usize) -> impl Iterator<Item = &Service> {
        self.template_services
            .get(template)
            .into_iter()
            .flatten()
            .map(|&i| &self.services[i])
    }

    pub fn agency(&self, slug: &str) -> Option<&Agency> {
        self.agency_by_slug.get(slug).map(|&i| &self.agencies[i])
    }

    pub fn regency(&self, code: &str) -> Option<&Regency> {
        regency_by_code_lookup(&self.regencies, &self.regency_by_code, code)
    }

    pub fn province(&self, code: &str) -> Option<&Province> {
        province_by_code_lookup(&self.provinces, &self.province_by_code, code)
    }

    /// The name of a province or kabupaten/kota code.
    /// The name of a province, kabupaten/kota or kecamatan by its Kemendagri code.
    pub fn region_name(&self, code: &str) -> Option<&str> {
        self.regency(code)
            .map(|r| r.name.as_str())
            .or_else(|| self.province(code).map(|p| p.name.as_str()))
            .or_else(|| {
                self.district_by_code
                    .get(code)
                    .map(|&i| self.districts[i].name.as_str())
            })
    }

    /// The kecamatan of a kabupaten/kota (`35.79`), in code order: (code, name).
    pub fn districts_of(&self, regency: &str) -> Vec<(&str, &str)> {
        let start = self
            .districts
            .partition_point(|d| d.regency_code.as_str() < regency);
        self.districts[start..]
            .iter()
            .take_while(|d| d.regency_code == regency)
            .map(|d| (d.code.as_str(), d.name.as_str()))
            .collect()
    }

    pub fn search(
        &self,
        request: &search::SearchRequest<'_>,
    ) -> Result<search::SearchResults, SearchError> {
        self.search.search(request)
    }

    /// MPPs of a region (a province or a kabupaten/kota code), or all of them.
    pub fn mpps_in(&self, region: Option<&str>) -> impl Iterator<Item = &Mpp> {
        self.mpps.iter().filter(move |m| match region {
            None => true,
            Some(code) if code.len() == 2 => m.province_code == code,
            Some(code) => m.region_code == code,
        })
    }
}

fn regency_by_code_lookup<'a>(
    regencies: &'a [Regency],
    index: &HashMap<String, usize>,
    code: &str,
) -> Option<&'a Regency> {
    index.get(code).map(|&i| &regencies[i])
}

fn province_by_code_lookup<'a>(
    provinces: &'a [Province],
    index: &HashMap<String, usize>,
    code: &str,
) -> Option<&'a Province> {
    index.get(code).map(|&i| &provinces[i])
}

/// The current snapshot, shared by every request; replaced whole, never mutated.
#[derive(Clone)]
pub struct SharedCatalog(Arc<RwLock<Arc<Catalog>>>);

impl SharedCatalog {
    pub fn new(catalog: Catalog) -> SharedCatalog {
        SharedCatalog(Arc::new(RwLock::new(Arc::new(catalog))))
    }

    pub fn get(&self) -> Arc<Catalog> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, catalog: Catalog) {
        let mut guard = match self.0.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(catalog);
    }

    /// Reloads from the database when its catalog version differs from the snapshot's.
    pub async fn refresh(&self, db: &Db) -> Result<bool, CatalogError> {
        let version = storage::catalog::version(db).await?;
        if version == self.get().version {
            return Ok(false);
        }
        let catalog = Catalog::load(db).await?;
        self.replace(catalog);
        Ok(true)
    }
}

impl Catalog {
    /// A service of the snapshot in the interchange format (the starting point of an edit).
    pub fn service_doc(&self, s: &Service) -> crate::domain::catalog::ServiceDoc {
        use crate::domain::catalog::{Fee, FeeDoc, RequirementDoc, ServiceDoc, TimeLimitDoc};
        let (rupiah, variable) = match s.fee {
            Fee::Free => (0, false),
            Fee::Fixed(r) => (r.0, false),
            Fee::Variable { from } => (from.0, true),
        };
        ServiceDoc {
            slug: s.slug.clone(),
            template: s.template.map(|t| self.templates[t].slug.clone()),
            name: s.name.clone(),
            description: s.description.clone(),
            requirements: s
                .requirements
                .iter()
                .map(|r| RequirementDoc {
                    text: r.text.clone(),
                    note: r.note.clone(),
                })
                .collect(),
            procedure: s.procedure.clone(),
            time_limit: TimeLimitDoc {
                value: i64::from(s.time_limit.value),
                unit: s.time_limit.unit.as_str().to_owned(),
            },
            fee: FeeDoc {
                rupiah,
                legal_basis: s.fee_legal_basis.clone(),
                variable,
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

    /// An MPP of the snapshot in the interchange format, without its tenants.
    pub fn mpp_doc(&self, m: &Mpp) -> crate::domain::catalog::MppDoc {
        use crate::domain::catalog::{ClosureDoc, MppDoc, OpeningHoursDoc};
        MppDoc {
            slug: m.slug.clone(),
            region: m.region_code.clone(),
            name: m.name.clone(),
            address: m.address.clone(),
            phone: m.phone.clone(),
            email: m.email.clone(),
            website: m.website.clone(),
            status: m.status.as_str().to_owned(),
            inaugurated_on: m.inaugurated_on.map(|d| d.format("%Y-%m-%d").to_string()),
            opening_hours: m
                .hours
                .iter()
                .map(|h| OpeningHoursDoc {
                    weekday: i64::from(h.weekday),
                    opens: h.opens.format("%H:%M").to_string(),
                    closes: h.closes.format("%H:%M").to_string(),
                })
                .collect(),
            closures: m
                .closures
                .iter()
                .map(|(date, reason)| ClosureDoc {
                    date: date.format("%Y-%m-%d").to_string(),
                    reason: reason.clone(),
                })
                .collect(),
            tenants: Vec::new(),
        }
    }

    /// Where an MPP, or one of its tenants, sits (for the access rule and the audit log).
    pub fn place(&self, mpp: &Mpp, tenant: Option<&Tenant>) -> crate::domain::roles::Place {
        crate::domain::roles::Place {
            region: Some(crate::domain::roles::PlaceRegion {
                province: mpp.province_code.clone(),
                regency: mpp.region_code.clone(),
            }),
            mpp: Some(mpp.id),
            tenant: tenant.map(|t| t.id),
        }
    }

    pub fn mpp_by_id(&self, id: Uuid) -> Option<&Mpp> {
        self.mpps.iter().find(|m| m.id == id)
    }

    pub fn tenant_by_id(&self, id: Uuid) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id == id)
    }
}
