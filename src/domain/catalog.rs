//! The catalog: agencies (instansi), national service templates, MPPs, their tenants (UPP) and the
//! services each tenant offers with its Standar Pelayanan (UU 25/2009, PermenPANRB 15/2014).
//!
//! This module holds the interchange document (`mpp import catalog` / `mpp export catalog`), its
//! validation with per-record paths, and the value types of the Standar Pelayanan.

use std::collections::HashSet;
use std::fmt;

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use super::form::FormDef;
use super::region::{RegionCode, RegionLevel};
use super::slug::Slug;

pub const FORMAT: &str = "mpp-catalog";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgencyKind {
    /// Central government (instansi vertikal): Polri, Imigrasi, KPP, BPN, Kemenag, courts.
    Pusat,
    /// Regional government (perangkat daerah / OPD).
    Daerah,
    /// State- or region-owned enterprise: BPJS, banks, PT Pos, PLN, PDAM/Perumdam.
    BumnBumd,
    Lainnya,
}

impl AgencyKind {
    pub const ALL: [AgencyKind; 4] = [
        AgencyKind::Pusat,
        AgencyKind::Daerah,
        AgencyKind::BumnBumd,
        AgencyKind::Lainnya,
    ];

    pub fn parse(raw: &str) -> Option<AgencyKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AgencyKind::Pusat => "pusat",
            AgencyKind::Daerah => "daerah",
            AgencyKind::BumnBumd => "bumn_bumd",
            AgencyKind::Lainnya => "lainnya",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MppStatus {
    Planned,
    Pilot,
    Operating,
}

impl MppStatus {
    pub const ALL: [MppStatus; 3] = [MppStatus::Planned, MppStatus::Pilot, MppStatus::Operating];

    pub fn parse(raw: &str) -> Option<MppStatus> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MppStatus::Planned => "planned",
            MppStatus::Pilot => "pilot",
            MppStatus::Operating => "operating",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    Minutes,
    Hours,
    WorkingDays,
}

impl TimeUnit {
    pub const ALL: [TimeUnit; 3] = [TimeUnit::Minutes, TimeUnit::Hours, TimeUnit::WorkingDays];

    pub fn parse(raw: &str) -> Option<TimeUnit> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Minutes => "minutes",
            TimeUnit::Hours => "hours",
            TimeUnit::WorkingDays => "working_days",
        }
    }
}

/// The time limit (jangka waktu penyelesaian) of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimit {
    pub value: u32,
    pub unit: TimeUnit,
}

/// Largest accepted time limit per unit: a week of minutes, a month of hours, a year of working days.
fn max_time_limit(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Minutes => 7 * 24 * 60,
        TimeUnit::Hours => 31 * 24,
        TimeUnit::WorkingDays => 365,
    }
}

/// A fee in whole rupiah. Zero means free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rupiah(pub i64);

/// The fee component of a Standar Pelayanan as a citizen reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fee {
    Free,
    Fixed(Rupiah),
    /// Depends on the case; the fixed part, if any, is the least one pays.
    Variable {
        from: Rupiah,
    },
}

impl Fee {
    pub fn new(rupiah: i64, variable: bool) -> Fee {
        match (rupiah, variable) {
            (_, true) => Fee::Variable {
                from: Rupiah(rupiah),
            },
            (0, false) => Fee::Free,
            (n, false) => Fee::Fixed(Rupiah(n)),
        }
    }
}

/// Largest accepted fee: one trillion rupiah (well above any PNBP tariff).
pub const MAX_FEE: i64 = 1_000_000_000_000;

impl fmt::Display for Rupiah {
    /// `Rp30.000` (Indonesian grouping with dots).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.unsigned_abs().to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push('.');
            }
            grouped.push(ch);
        }
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}Rp{grouped}")
    }
}

/// An opening interval (`08:00`–`12:00`) on a weekday, 1 = Monday … 7 = Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpeningInterval {
    pub weekday: u8,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

pub fn parse_hhmm(raw: &str) -> Option<NaiveTime> {
    if raw.len() != 5 {
        return None;
    }
    NaiveTime::parse_from_str(raw, "%H:%M").ok()
}

// ---------------------------------------------------------------------------------------------
// The interchange document
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogDoc {
    pub format: String,
    pub version: u32,
    #[serde(default)]
    pub agencies: Vec<AgencyDoc>,
    #[serde(default)]
    pub templates: Vec<TemplateDoc>,
    #[serde(default)]
    pub mpps: Vec<MppDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyDoc {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub short_name: Option<String>,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateDoc {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MppDoc {
    pub slug: String,
    pub region: String,
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    pub status: String,
    #[serde(default)]
    pub inaugurated_on: Option<String>,
    #[serde(default)]
    pub opening_hours: Vec<OpeningHoursDoc>,
    /// Days the MPP is closed besides national holidays (renovation, regional holidays).
    #[serde(default)]
    pub closures: Vec<ClosureDoc>,
    #[serde(default)]
    pub tenants: Vec<TenantDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosureDoc {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub reason: String,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHoursDoc {
    pub weekday: i64,
    pub opens: String,
    pub closes: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantDoc {
    pub slug: String,
    pub agency: String,
    pub name: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// False for tenants that work on cuti bersama (banks).
    #[serde(default = "yes")]
    pub observes_cuti_bersama: bool,
    #[serde(default)]
    pub services: Vec<ServiceDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDoc {
    pub slug: String,
    #[serde(default)]
    pub template: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub requirements: Vec<RequirementDoc>,
    #[serde(default)]
    pub procedure: Vec<String>,
    pub time_limit: TimeLimitDoc,
    pub fee: FeeDoc,
    pub product: String,
    pub complaint_channel: String,
    pub legal_basis: String,
    #[serde(default)]
    pub facilities: Option<String>,
    #[serde(default)]
    pub staff_competence: Option<String>,
    #[serde(default)]
    pub internal_supervision: Option<String>,
    #[serde(default)]
    pub staff_count: Option<String>,
    #[serde(default)]
    pub service_guarantee: Option<String>,
    #[serde(default)]
    pub security_guarantee: Option<String>,
    #[serde(default)]
    pub performance_evaluation: Option<String>,
    /// The service's application form; a service with one takes applications online. Absent
    /// leaves the service's form as it is (an import never removes a form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<FormDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementDoc {
    pub text: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeLimitDoc {
    pub value: i64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeDoc {
    /// The fee in whole rupiah; with `variable`, its fixed part (0 when there is none).
    pub rupiah: i64,
    #[serde(default)]
    pub legal_basis: Option<String>,
    /// The amount depends on the case (land area, vehicle class, building size): the legal basis
    /// says how it is computed. A variable fee is never shown as free.
    #[serde(default)]
    pub variable: bool,
}

/// One problem found in a catalog document, at a JSON path such as `mpps[0].tenants[2].slug`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// What already exists in the registry and database, for resolving references.
pub struct Known<'a> {
    /// Is this a kabupaten/kota code present in the registry?
    pub regency: &'a dyn Fn(&str) -> bool,
    pub agencies: &'a HashSet<String>,
    pub templates: &'a HashSet<String>,
}

fn trim(s: &mut String) {
    let t = s.trim();
    if t.len() != s.len() {
        *s = t.to_owned();
    }
}

fn trim_opt(s: &mut Option<String>) {
    if let Some(v) = s {
        trim(v);
        if v.is_empty() {
            *s = None;
        }
    }
}

impl CatalogDoc {
    /// Trims every text field; empty optional text becomes `None`.
    pub fn normalize(&mut self) {
        for a in &mut self.agencies {
            trim(&mut a.slug);
            trim(&mut a.name);
            trim_opt(&mut a.short_name);
            trim(&mut a.kind);
        }
        for t in &mut self.templates {
            trim(&mut t.slug);
            trim(&mut t.name);
            trim_opt(&mut t.description);
        }
        for m in &mut self.mpps {
            for s in [
                &mut m.slug,
                &mut m.region,
                &mut m.name,
                &mut m.address,
                &mut m.status,
            ] {
                trim(s);
            }
            for s in [
                &mut m.phone,
                &mut m.email,
                &mut m.website,
                &mut m.inaugurated_on,
            ] {
                trim_opt(s);
            }
            for h in &mut m.opening_hours {
                trim(&mut h.opens);
                trim(&mut h.closes);
            }
            m.opening_hours
                .sort_by(|a, b| (a.weekday, &a.opens).cmp(&(b.weekday, &b.opens)));
            for c in &mut m.closures {
                trim(&mut c.date);
                trim(&mut c.reason);
            }
            m.closures.sort_by(|a, b| a.date.cmp(&b.date));
            for t in &mut m.tenants {
                trim(&mut t.slug);
                trim(&mut t.agency);
                trim(&mut t.name);
                trim_opt(&mut t.location);
                trim_opt(&mut t.description);
                for s in &mut t.services {
                    s.normalize();
                }
            }
        }
    }

    /// Checks the whole document and returns every problem with its path; empty means valid.
    pub fn validate(&self, known: &Known<'_>) -> Vec<Problem> {
        let mut v = Validator::default();
        if self.format != FORMAT {
            v.push("format", format!("must be \"{FORMAT}\""));
        }
        if self.version != VERSION {
            v.push("version", format!("must be {VERSION}"));
        }
        let mut agency_slugs = HashSet::new();
        for (i, a) in self.agencies.iter().enumerate() {
            let p = format!("agencies[{i}]");
            v.slug(&p, &a.slug, &mut agency_slugs);
            v.text(&p, "name", &a.name, 200);
            v.opt_text(&p, "short_name", &a.short_name, 80);
            if AgencyKind::parse(&a.kind).is_none() {
                v.push(
                    format!("{p}.kind"),
                    "must be one of pusat, daerah, bumn_bumd, lainnya",
                );
            }
        }
        let mut template_slugs = HashSet::new();
        for (i, t) in self.templates.iter().enumerate() {
            let p = format!("templates[{i}]");
            v.slug(&p, &t.slug, &mut template_slugs);
            v.text(&p, "name", &t.name, 200);
            v.opt_text(&p, "description", &t.description, 2000);
        }
        let mut mpp_slugs = HashSet::new();
        for (i, m) in self.mpps.iter().enumerate() {
            let p = format!("mpps[{i}]");
            v.slug(&p, &m.slug, &mut mpp_slugs);
            match RegionCode::parse(&m.region) {
                Ok(code) if code.level() == RegionLevel::Regency => {
                    if !(known.regency)(&m.region) {
                        v.push(
                            format!("{p}.region"),
                            format!(
                                "kabupaten/kota {} is not in the registry; import regions first",
                                m.region
                            ),
                        );
                    }
                }
                _ => v.push(
                    format!("{p}.region"),
                    "must be a kabupaten/kota code such as 35.79",
                ),
            }
            v.text(&p, "name", &m.name, 200);
            v.text(&p, "address", &m.address, 500);
            v.opt_text(&p, "phone", &m.phone, 80);
            v.opt_text(&p, "email", &m.email, 200);
            if let Some(email) = &m.email
                && !email.contains('@')
            {
                v.push(format!("{p}.email"), "must be an e-mail address");
            }
            v.opt_text(&p, "website", &m.website, 300);
            if let Some(site) = &m.website
                && !(site.starts_with("https://") || site.starts_with("http://"))
            {
                v.push(
                    format!("{p}.website"),
                    "must start with https:// or http://",
                );
            }
            if MppStatus::parse(&m.status).is_none() {
                v.push(
                    format!("{p}.status"),
                    "must be one of planned, pilot, operating",
                );
            }
            // Exactly YYYY-MM-DD (chrono alone accepts 2022-12-5), so what is stored reads back the same.
            if let Some(d) = &m.inaugurated_on
                && (d.len() != 10 || NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err())
            {
                v.push(
                    format!("{p}.inaugurated_on"),
                    "must be a real date as YYYY-MM-DD",
                );
            }
            let mut intervals: Vec<OpeningInterval> = Vec::new();
            for (j, h) in m.opening_hours.iter().enumerate() {
                let hp = format!("{p}.opening_hours[{j}]");
                if !(1..=7).contains(&h.weekday) {
                    v.push(format!("{hp}.weekday"), "must be 1 (Monday) to 7 (Sunday)");
                    continue;
                }
                match (parse_hhmm(&h.opens), parse_hhmm(&h.closes)) {
                    (Some(opens), Some(closes)) if opens < closes => {
                        let weekday = h.weekday as u8;
                        if intervals
                            .iter()
                            .any(|o| o.weekday == weekday && o.opens < closes && opens < o.closes)
                        {
                            v.push(hp, "overlaps another interval of the same day");
                        } else {
                            intervals.push(OpeningInterval {
                                weekday,
                                opens,
                                closes,
                            });
                        }
                    }
                    (Some(_), Some(_)) => v.push(hp, "opens must be before closes"),
                    _ => v.push(hp, "opens and closes must be times as HH:MM"),
                }
            }
            let mut closure_dates = HashSet::new();
            for (j, c) in m.closures.iter().enumerate() {
                let cp = format!("{p}.closures[{j}]");
                if c.date.len() != 10 || NaiveDate::parse_from_str(&c.date, "%Y-%m-%d").is_err() {
                    v.push(format!("{cp}.date"), "must be a real date as YYYY-MM-DD");
                } else if !closure_dates.insert(c.date.as_str()) {
                    v.push(format!("{cp}.date"), format!("{} is listed twice", c.date));
                }
                v.text(&cp, "reason", &c.reason, 200);
            }
            let mut tenant_slugs = HashSet::new();
            for (j, t) in m.tenants.iter().enumerate() {
                let tp = format!("{p}.tenants[{j}]");
                v.slug(&tp, &t.slug, &mut tenant_slugs);
                if !agency_slugs.contains(&t.agency) && !known.agencies.contains(&t.agency) {
                    v.push(
                        format!("{tp}.agency"),
                        format!("unknown agency {:?}", t.agency),
                    );
                }
                v.text(&tp, "name", &t.name, 200);
                v.opt_text(&tp, "location", &t.location, 200);
                v.opt_text(&tp, "description", &t.description, 2000);
                let mut service_slugs = HashSet::new();
                for (k, s) in t.services.iter().enumerate() {
                    let sp = format!("{tp}.services[{k}]");
                    v.slug(&sp, &s.slug, &mut service_slugs);
                    if let Some(tpl) = &s.template
                        && !template_slugs.contains(tpl)
                        && !known.templates.contains(tpl)
                    {
                        v.push(
                            format!("{sp}.template"),
                            format!("unknown template {tpl:?}"),
                        );
                    }
                    s.validate(&sp, &mut v);
                    if let Some(form) = &s.form {
                        if form.fields.is_empty() {
                            v.push(format!("{sp}.form"), "needs at least one field");
                        }
                        for p in form.problems(s.requirements.len()) {
                            let at = if p.key.is_empty() {
                                format!("{sp}.form")
                            } else {
                                format!("{sp}.form.{}", p.key)
                            };
                            v.push(at, p.en);
                        }
                    }
                }
            }
        }
        v.problems
    }
}

/// A service's form as an import document gives it, by the slugs that name the service.
#[derive(Debug, Clone, PartialEq)]
pub struct FormAt {
    pub mpp: String,
    pub tenant: String,
    pub service: String,
    pub form: FormDef,
}

impl CatalogDoc {
    /// Takes the services' forms out of the document (they are stored apart from the Standar
    /// Pelayanan, as versions of their own).
    pub fn take_forms(&mut self) -> Vec<FormAt> {
        let mut out = Vec::new();
        for m in &mut self.mpps {
            for t in &mut m.tenants {
                for s in &mut t.services {
                    if let Some(form) = s.form.take() {
                        out.push(FormAt {
                            mpp: m.slug.clone(),
                            tenant: t.slug.clone(),
                            service: s.slug.clone(),
                            form,
                        });
                    }
                }
            }
        }
        out
    }
}

impl ServiceDoc {
    /// The document trimmed, as it would be stored.
    pub fn normalized(mut self) -> ServiceDoc {
        self.normalize();
        self
    }

    /// What is wrong with this one service, at paths `service.fee.rupiah`, ...
    pub fn problems(&self) -> Vec<Problem> {
        let mut v = Validator::default();
        self.validate("service", &mut v);
        v.problems
    }

    /// The names of the fields that differ from `before` (for the audit log).
    pub fn changed_fields(&self, before: &ServiceDoc) -> Vec<&'static str> {
        let mut changed = Vec::new();
        let pairs: [(&'static str, bool); 13] = [
            ("name", self.name != before.name),
            ("description", self.description != before.description),
            ("requirements", self.requirements != before.requirements),
            ("procedure", self.procedure != before.procedure),
            ("time_limit", self.time_limit != before.time_limit),
            ("fee", self.fee != before.fee),
            ("product", self.product != before.product),
            (
                "complaint_channel",
                self.complaint_channel != before.complaint_channel,
            ),
            ("legal_basis", self.legal_basis != before.legal_basis),
            ("facilities", self.facilities != before.facilities),
            (
                "staff_competence",
                self.staff_competence != before.staff_competence,
            ),
            (
                "service_guarantee",
                self.service_guarantee != before.service_guarantee,
            ),
            (
                "performance_evaluation",
                self.performance_evaluation != before.performance_evaluation,
            ),
        ];
        for (name, differs) in pairs {
            if differs {
                changed.push(name);
            }
        }
        changed
    }

    fn normalize(&mut self) {
        for s in [
            &mut self.slug,
            &mut self.name,
            &mut self.product,
            &mut self.complaint_channel,
            &mut self.legal_basis,
            &mut self.time_limit.unit,
        ] {
            trim(s);
        }
        for s in [
            &mut self.template,
            &mut self.description,
            &mut self.fee.legal_basis,
            &mut self.facilities,
            &mut self.staff_competence,
            &mut self.internal_supervision,
            &mut self.staff_count,
            &mut self.service_guarantee,
            &mut self.security_guarantee,
            &mut self.performance_evaluation,
        ] {
            trim_opt(s);
        }
        for r in &mut self.requirements {
            trim(&mut r.text);
            trim_opt(&mut r.note);
        }
        for step in &mut self.procedure {
            trim(step);
        }
    }

    fn validate(&self, p: &str, v: &mut Validator) {
        v.text(p, "name", &self.name, 200);
        v.opt_text(p, "description", &self.description, 4000);
        if self.requirements.len() > 50 {
            v.push(format!("{p}.requirements"), "at most 50 requirements");
        }
        for (i, r) in self.requirements.iter().enumerate() {
            let rp = format!("{p}.requirements[{i}]");
            v.text(&rp, "text", &r.text, 500);
            v.opt_text(&rp, "note", &r.note, 500);
        }
        if self.procedure.is_empty() {
            v.push(format!("{p}.procedure"), "needs at least one step");
        }
        if self.procedure.len() > 50 {
            v.push(format!("{p}.procedure"), "at most 50 steps");
        }
        for (i, step) in self.procedure.iter().enumerate() {
            v.text(p, &format!("procedure[{i}]"), step, 1000);
        }
        match TimeUnit::parse(&self.time_limit.unit) {
            None => v.push(
                format!("{p}.time_limit.unit"),
                "must be one of minutes, hours, working_days",
            ),
            Some(unit) => {
                let max = max_time_limit(unit);
                if !(1..=max).contains(&self.time_limit.value) {
                    v.push(
                        format!("{p}.time_limit.value"),
                        format!("must be 1 to {max}"),
                    );
                }
            }
        }
        if !(0..=MAX_FEE).contains(&self.fee.rupiah) {
            v.push(
                format!("{p}.fee.rupiah"),
                "must be 0 (free) or a positive whole number of rupiah",
            );
        }
        if (self.fee.rupiah > 0 || self.fee.variable) && self.fee.legal_basis.is_none() {
            v.push(
                format!("{p}.fee.legal_basis"),
                "a fee needs its legal basis",
            );
        }
        v.opt_text(p, "fee.legal_basis", &self.fee.legal_basis, 1000);
        v.text(p, "product", &self.product, 1000);
        v.text(p, "complaint_channel", &self.complaint_channel, 1000);
        v.text(p, "legal_basis", &self.legal_basis, 4000);
        for (name, value) in [
            ("facilities", &self.facilities),
            ("staff_competence", &self.staff_competence),
            ("internal_supervision", &self.internal_supervision),
            ("staff_count", &self.staff_count),
            ("service_guarantee", &self.service_guarantee),
            ("security_guarantee", &self.security_guarantee),
            ("performance_evaluation", &self.performance_evaluation),
        ] {
            v.opt_text(p, name, value, 4000);
        }
    }

    pub fn time_limit(&self) -> Option<TimeLimit> {
        Some(TimeLimit {
            value: u32::try_from(self.time_limit.value).ok()?,
            unit: TimeUnit::parse(&self.time_limit.unit)?,
        })
    }
}

/// A validation message in Indonesian and English. The validator speaks English (operators read
/// it in the CLI); people editing on the web read both.
pub fn problem_text(message: &str) -> (String, String) {
    let en = message.to_owned();
    let number = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split(' ').next())
            .map(str::to_owned)
    };
    let id = if message == "is required" {
        "Wajib diisi.".to_owned()
    } else if let Some(n) = number("at most ").filter(|_| message.ends_with("characters")) {
        format!("Paling banyak {n} karakter.")
    } else if let Some(n) = number("must be 1 to ") {
        format!("Harus antara 1 dan {n}.")
    } else {
        match message {
            "contains control characters" => "Berisi karakter kendali.".to_owned(),
            "must be 0 (free) or a positive whole number of rupiah" => {
                "Harus 0 (gratis) atau bilangan bulat rupiah yang positif.".to_owned()
            }
            "a fee needs its legal basis" => {
                "Tarif berbayar harus disertai dasar hukumnya.".to_owned()
            }
            "needs at least one step" => {
                "Prosedur memerlukan paling sedikit satu langkah.".to_owned()
            }
            "at most 50 requirements" => "Paling banyak 50 persyaratan.".to_owned(),
            "at most 50 steps" => "Paling banyak 50 langkah.".to_owned(),
            "must be one of minutes, hours, working_days" => {
                "Satuan harus menit, jam, atau hari kerja.".to_owned()
            }
            "must be an e-mail address" => "Harus alamat e-mail.".to_owned(),
            "must start with https:// or http://" => {
                "Harus diawali https:// atau http://.".to_owned()
            }
            "must be one of planned, pilot, operating" => {
                "Status harus direncanakan, uji coba, atau beroperasi.".to_owned()
            }
            "opens must be before closes" => "Jam buka harus sebelum jam tutup.".to_owned(),
            "opens and closes must be times as HH:MM" => "Jam harus berbentuk JJ:MM.".to_owned(),
            "overlaps another interval of the same day" => {
                "Bertumpang tindih dengan jam lain pada hari yang sama.".to_owned()
            }
            _ => format!("Tidak valid ({message})."),
        }
    };
    (id, en)
}

#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
}

impl Validator {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    fn slug(&mut self, p: &str, raw: &str, seen: &mut HashSet<String>) {
        if let Err(e) = Slug::parse(raw) {
            self.push(format!("{p}.slug"), format!("{e} (got {raw:?})"));
        } else if !seen.insert(raw.to_owned()) {
            self.push(format!("{p}.slug"), format!("duplicate slug {raw:?}"));
        }
    }

    fn text(&mut self, p: &str, field: &str, value: &str, max: usize) {
        if value.is_empty() {
            self.push(format!("{p}.{field}"), "is required");
        } else if value.chars().count() > max {
            self.push(format!("{p}.{field}"), format!("at most {max} characters"));
        } else if value.chars().any(|c| c.is_control() && c != '\n') {
            self.push(format!("{p}.{field}"), "contains control characters");
        }
    }

    fn opt_text(&mut self, p: &str, field: &str, value: &Option<String>, max: usize) {
        if let Some(value) = value {
            self.text(p, field, value, max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rupiah_groups_thousands() {
        assert_eq!(Rupiah(0).to_string(), "Rp0");
        assert_eq!(Rupiah(500).to_string(), "Rp500");
        assert_eq!(Rupiah(30_000).to_string(), "Rp30.000");
        assert_eq!(Rupiah(350_000).to_string(), "Rp350.000");
        assert_eq!(Rupiah(1_234_567).to_string(), "Rp1.234.567");
    }

    #[test]
    fn fees_read_as_a_citizen_reads_them() {
        assert_eq!(Fee::new(0, false), Fee::Free);
        assert_eq!(Fee::new(30_000, false), Fee::Fixed(Rupiah(30_000)));
        assert_eq!(
            Fee::new(0, true),
            Fee::Variable { from: Rupiah(0) },
            "never shown as free"
        );
        assert_eq!(
            Fee::new(50_000, true),
            Fee::Variable {
                from: Rupiah(50_000)
            }
        );
    }

    #[test]
    fn a_variable_fee_needs_its_legal_basis() {
        let mut doc = minimal_doc();
        doc.mpps[0].tenants[0].services[0].fee.variable = true;
        let paths: Vec<String> = check(&doc).into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["mpps[0].tenants[0].services[0].fee.legal_basis"]);
    }

    fn minimal_doc() -> CatalogDoc {
        serde_json::from_str(
            r#"{"format":"mpp-catalog","version":1,
            "agencies":[{"slug":"disdukcapil-batu","name":"Disdukcapil Kota Batu","kind":"daerah"}],
            "templates":[{"slug":"ktp-el","name":"Penerbitan KTP-el"}],
            "mpps":[{"slug":"batu","region":"35.79","name":"MPP Batu","address":"Jl. Panglima Sudirman",
              "status":"operating","opening_hours":[{"weekday":1,"opens":"08:00","closes":"12:00"},
                                                    {"weekday":1,"opens":"13:00","closes":"15:00"}],
              "tenants":[{"slug":"dukcapil","agency":"disdukcapil-batu","name":"Disdukcapil",
                "services":[{"slug":"ktp","template":"ktp-el","name":"Penerbitan KTP-el",
                  "requirements":[{"text":"Kartu Keluarga"}],"procedure":["Datang"],
                  "time_limit":{"value":60,"unit":"minutes"},"fee":{"rupiah":0},
                  "product":"KTP-el","complaint_channel":"SP4N-LAPOR!","legal_basis":"UU 24/2013"}]}]}]}"#,
        )
        .expect("valid json")
    }

    fn check(doc: &CatalogDoc) -> Vec<Problem> {
        let agencies = HashSet::new();
        let templates = HashSet::new();
        let regency = |code: &str| code == "35.79";
        doc.validate(&Known {
            regency: &regency,
            agencies: &agencies,
            templates: &templates,
        })
    }

    #[test]
    fn minimal_document_is_valid() {
        assert_eq!(check(&minimal_doc()), vec![]);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let mut doc = minimal_doc();
        doc.mpps[0].region = "35.99".into();
        doc.mpps[0].opening_hours[1].opens = "11:00".into();
        let s = &mut doc.mpps[0].tenants[0].services[0];
        s.fee.rupiah = -5;
        s.time_limit.unit = "days".into();
        s.template = Some("nope".into());
        s.procedure.clear();
        let paths: Vec<String> = check(&doc).into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            vec![
                "mpps[0].region",
                "mpps[0].opening_hours[1]",
                "mpps[0].tenants[0].services[0].template",
                "mpps[0].tenants[0].services[0].procedure",
                "mpps[0].tenants[0].services[0].time_limit.unit",
                "mpps[0].tenants[0].services[0].fee.rupiah",
            ]
        );
    }

    #[test]
    fn dates_must_be_canonical() {
        for (date, ok) in [
            ("2022-12-05", true),
            ("2022-12-5", false),
            ("22-12-05", false),
            ("2023-02-29", false),
        ] {
            let mut doc = minimal_doc();
            doc.mpps[0].inaugurated_on = Some(date.into());
            assert_eq!(check(&doc).is_empty(), ok, "{date}");
        }
    }

    #[test]
    fn duplicate_slugs_and_unknown_agency() {
        let mut doc = minimal_doc();
        let tenant = doc.mpps[0].tenants[0].clone();
        doc.mpps[0].tenants.push(tenant);
        doc.mpps[0].tenants[1].agency = "polres".into();
        let problems = check(&doc);
        assert!(problems.iter().any(|p| p.path == "mpps[0].tenants[1].slug"));
        assert!(
            problems
                .iter()
                .any(|p| p.path == "mpps[0].tenants[1].agency")
        );
    }

    #[test]
    fn normalize_trims_and_drops_empty_optionals() {
        let mut doc = minimal_doc();
        doc.agencies[0].name = "  Disdukcapil  ".into();
        doc.agencies[0].short_name = Some("   ".into());
        doc.normalize();
        assert_eq!(doc.agencies[0].name, "Disdukcapil");
        assert_eq!(doc.agencies[0].short_name, None);
    }
}
