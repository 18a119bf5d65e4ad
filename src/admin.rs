//! Operators' use cases run from the command line: inviting the first national admin (or anyone,
//! by hand) and re-sealing personal data after a key rotation.

use chrono::{Duration, Utc};

use crate::catalog::Catalog;
use crate::domain::identifier::Identifier;
use crate::domain::roles::{Grant, Place, Role, Scope};
use crate::privacy::DataKeys;
use crate::storage::sealed::{ResealReport, SEALED_COLUMNS, reseal_column};
use crate::storage::staff::{self, NewLink};
use crate::storage::{Db, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    Privacy(#[from] crate::privacy::PrivacyError),
    #[error(transparent)]
    Credentials(#[from] crate::credentials::CredentialError),
}

/// Where an invited role applies, as given on the command line.
#[derive(Debug, Default, Clone)]
pub struct ScopeSpec {
    pub region: Option<String>,
    pub mpp: Option<String>,
    pub tenant: Option<String>,
}

/// Days an invitation made on the command line stays valid.
pub const CLI_INVITE_DAYS: i64 = 7;

/// Creates an invitation to `role` and returns its link (printed for the operator to hand over;
/// nothing is e-mailed). Audited with the actor `cli`.
pub async fn invite(
    db: &Db,
    keys: &DataKeys,
    public_url: &str,
    email: &str,
    role: &str,
    spec: &ScopeSpec,
) -> Result<String, AdminError> {
    let identifier = Identifier::parse(email)
        .ok()
        .filter(|i| i.kind() == "email")
        .ok_or_else(|| AdminError::Invalid(format!("{email:?} is not an e-mail address")))?;
    let role = Role::parse(role).ok_or_else(|| {
        let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        AdminError::Invalid(format!("unknown role {role:?}; one of {}", all.join(", ")))
    })?;
    let catalog = Catalog::load(db).await?;
    let (scope, place) = match (&spec.region, &spec.mpp, &spec.tenant) {
        (None, None, None) => (Scope::National, Place::national()),
        (Some(code), None, None) => {
            if catalog.region_name(code).is_none() {
                return Err(AdminError::Invalid(format!(
                    "region {code} is not in the registry"
                )));
            }
            (Scope::Region(code.clone()), Place::national())
        }
        (None, Some(slug), tenant) => {
            let mpp = catalog
                .mpp(slug)
                .ok_or_else(|| AdminError::Invalid(format!("no MPP {slug:?}")))?;
            match tenant {
                None => (Scope::Mpp(mpp.id), catalog.place(mpp, None)),
                Some(t) => {
                    let tenant = catalog
                        .tenant(mpp, t)
                        .ok_or_else(|| AdminError::Invalid(format!("no UPP {t:?} in {slug}")))?;
                    (
                        Scope::Tenant {
                            mpp: mpp.id,
                            tenant: tenant.id,
                        },
                        catalog.place(mpp, Some(tenant)),
                    )
                }
            }
        }
        _ => {
            return Err(AdminError::Invalid(
                "give --region, or --mpp (with --tenant for a UPP), or neither for a national role"
                    .into(),
            ));
        }
    };
    let grant = Grant::new(role, scope).ok_or_else(|| {
        AdminError::Invalid(format!(
            "{} is held {}",
            role.as_str(),
            match role.scope_kind() {
                crate::domain::roles::ScopeKind::Tenant => "at a UPP: give --mpp and --tenant",
                crate::domain::roles::ScopeKind::Mpp => "at an MPP: give --mpp only",
                crate::domain::roles::ScopeKind::Region => "in a region: give --region",
                crate::domain::roles::ScopeKind::National => "nationally: give no scope",
            }
        ))
    })?;
    let token = crate::credentials::random_token()?;
    let now = Utc::now();
    let identifier_sealed = keys.seal("account.identifier", identifier.as_str().as_bytes())?;
    let identifier_hash = keys.lookup_hash("account.identifier", identifier.as_str());
    let token_hash = crate::credentials::token_hash(&token);
    let link = NewLink {
        purpose: "invite",
        token_hash: &token_hash,
        identifier_hash: &identifier_hash,
        identifier_sealed: &identifier_sealed,
        grant: Some(&grant),
        created_by: "cli",
        expires_at: now + Duration::days(CLI_INVITE_DAYS),
        message: None,
        audit_scope: &place.audit_path(),
    };
    staff::create_link(db, link, now)
        .await
        .map_err(|e| match e {
            staff::LinkError::RateLimited => {
                AdminError::Invalid("too many invitations to this address within an hour".into())
            }
            staff::LinkError::Storage(e) => AdminError::Storage(e),
        })?;
    Ok(format!(
        "{}/staf/tautan/{token}",
        public_url.trim_end_matches('/')
    ))
}

/// Re-seals every sealed column with the current (first) key; returns (column, report) pairs.
/// Values sealed with a key no longer configured cannot be opened and are counted nowhere:
/// keep old keys configured until this reports nothing left to re-seal.
pub async fn reseal(db: &Db, keys: &DataKeys) -> Result<Vec<(String, ResealReport)>, AdminError> {
    let mut out = Vec::new();
    for column in SEALED_COLUMNS {
        let report = reseal_column(
            db,
            column,
            |value| keys.sealed_with_current(value),
            |value| {
                let clear = keys.open(column.context, value).ok()?;
                keys.seal(column.context, &clear).ok()
            },
        )
        .await?;
        out.push((format!("{}.{}", column.table, column.column), report));
    }
    Ok(out)
}
