//! Staff roles and their scopes, and the one rule that says who may do what where.
//!
//! A person's account holds any number of grants; each grant is a role at a scope. Every staff
//! action is asked of [`permits`] with the place it touches; there is no second implementation
//! of the rule in handlers or queries.

use uuid::Uuid;

/// A staff role. Citizens hold no role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Petugas loket: works one UPP's counters and back office.
    Officer,
    /// Admin UPP: keeps one UPP's services and Standar Pelayanan, invites its officers.
    UppAdmin,
    /// Pengelola MPP: keeps one MPP (hours, status, tenants), invites UPP admins and officers.
    MppManager,
    /// Admin daerah: one province or one kabupaten/kota; invites MPP managers there.
    RegionalAdmin,
    /// Admin nasional (KemenPANRB): everything, everywhere.
    NationalAdmin,
    /// Analis (Bappenas, Kemenkeu): reads national figures; changes nothing.
    Analyst,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Officer,
        Role::UppAdmin,
        Role::MppManager,
        Role::RegionalAdmin,
        Role::NationalAdmin,
        Role::Analyst,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::UppAdmin => "upp_admin",
            Role::MppManager => "mpp_manager",
            Role::RegionalAdmin => "regional_admin",
            Role::NationalAdmin => "national_admin",
            Role::Analyst => "analyst",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// The role's name in Indonesian and English.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Role::Officer => ("Petugas loket", "Counter officer"),
            Role::UppAdmin => ("Admin UPP", "UPP administrator"),
            Role::MppManager => ("Pengelola MPP", "MPP manager"),
            Role::RegionalAdmin => ("Admin daerah", "Regional administrator"),
            Role::NationalAdmin => ("Admin nasional", "National administrator"),
            Role::Analyst => ("Analis", "Analyst"),
        }
    }

    /// The kind of scope the role is held at.
    pub fn scope_kind(self) -> ScopeKind {
        match self {
            Role::Officer | Role::UppAdmin => ScopeKind::Tenant,
            Role::MppManager => ScopeKind::Mpp,
            Role::RegionalAdmin => ScopeKind::Region,
            Role::NationalAdmin | Role::Analyst => ScopeKind::National,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Tenant,
    Mpp,
    Region,
    National,
}

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One UPP (tenant) of one MPP.
    Tenant {
        mpp: Uuid,
        tenant: Uuid,
    },
    Mpp(Uuid),
    /// A province (`35`) or a kabupaten/kota (`35.79`), by Kemendagri code.
    Region(String),
    National,
}

impl Scope {
    pub fn kind(&self) -> ScopeKind {
        match self {
            Scope::Tenant { .. } => ScopeKind::Tenant,
            Scope::Mpp(_) => ScopeKind::Mpp,
            Scope::Region(_) => ScopeKind::Region,
            Scope::National => ScopeKind::National,
        }
    }

    /// Whether `place` lies within this scope.
    pub fn contains(&self, place: &Place) -> bool {
        match self {
            Scope::National => true,
            Scope::Region(code) => match &place.region {
                Some(region) => region.within(code),
                None => false,
            },
            Scope::Mpp(mpp) => place.mpp == Some(*mpp),
            Scope::Tenant { mpp, tenant } => {
                place.mpp == Some(*mpp) && place.tenant == Some(*tenant)
            }
        }
    }

    /// Whether every place of `other` lies within this scope (a scope contains itself).
    pub fn covers(&self, other: &Scope, other_region: Option<&PlaceRegion>) -> bool {
        match (self, other) {
            (Scope::National, _) => true,
            (_, Scope::National) => false,
            (Scope::Region(mine), Scope::Region(theirs)) => {
                theirs == mine || theirs.starts_with(&format!("{mine}."))
            }
            (Scope::Region(mine), Scope::Mpp(_) | Scope::Tenant { .. }) => {
                other_region.is_some_and(|r| r.within(mine))
            }
            (Scope::Mpp(mine), Scope::Mpp(theirs)) => mine == theirs,
            (Scope::Mpp(mine), Scope::Tenant { mpp, .. }) => mine == mpp,
            (Scope::Tenant { .. }, Scope::Tenant { .. }) => self == other,
            _ => false,
        }
    }
}

/// The region of an MPP: its kabupaten/kota and province codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceRegion {
    pub province: String,
    pub regency: String,
}

impl PlaceRegion {
    /// Whether this region lies in the region with `code` (a province or a kabupaten/kota).
    pub fn within(&self, code: &str) -> bool {
        code == self.province || code == self.regency
    }
}

/// What an action touches: nothing in particular (national), or an MPP, or one of its tenants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Place {
    pub region: Option<PlaceRegion>,
    pub mpp: Option<Uuid>,
    pub tenant: Option<Uuid>,
}

impl Place {
    pub fn national() -> Place {
        Place::default()
    }

    /// The audit scope path of this place: `/35/35.79/{mpp}/{tenant}`, as deep as it goes.
    /// Browsing a scope's log selects the paths under its own.
    pub fn audit_path(&self) -> String {
        let mut path = String::new();
        if let Some(region) = &self.region {
            path.push('/');
            path.push_str(&region.province);
            path.push('/');
            path.push_str(&region.regency);
            if let Some(mpp) = self.mpp {
                path.push('/');
                path.push_str(&mpp.to_string());
                if let Some(tenant) = self.tenant {
                    path.push('/');
                    path.push_str(&tenant.to_string());
                }
            }
        }
        if path.is_empty() {
            "/".to_owned()
        } else {
            path
        }
    }
}

/// One role at one scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    pub role: Role,
    pub scope: Scope,
}

impl Grant {
    /// A grant is well formed when its scope is the kind its role is held at.
    pub fn new(role: Role, scope: Scope) -> Option<Grant> {
        (role.scope_kind() == scope.kind()).then_some(Grant { role, scope })
    }
}

/// What staff do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open the staff area at all.
    EnterStaffArea,
    /// Change a service's Standar Pelayanan (fee, time limit, requirements, procedure, ...).
    EditService,
    /// Change an MPP's hours, status, contact details, and its tenants' descriptions.
    EditMpp,
    /// Read the audit log of a place.
    ViewAudit,
    /// Invite someone to a role at the place.
    Invite(Role),
    /// Create and revoke one's own API tokens.
    ManageOwnTokens,
    /// Work a counter of the place's tenant: open, pause, call, serve, transfer.
    OperateCounter,
    /// Read the queue's statistics of the place.
    ViewStatistics,
    /// Work the place's tenant's inbox of applications: take, verify, ask for a revision,
    /// approve, reject, attach the output, mark collected.
    ProcessApplications,
}

/// Whether one grant allows `action` at `place`.
pub fn grant_permits(grant: &Grant, action: Action, place: &Place) -> bool {
    use Role::*;
    if !grant.scope.contains(place) {
        return false;
    }
    match action {
        Action::EnterStaffArea | Action::ManageOwnTokens => true,
        Action::EditService => matches!(grant.role, UppAdmin),
        Action::OperateCounter | Action::ProcessApplications => {
            matches!(grant.role, Officer | UppAdmin)
        }
        Action::ViewStatistics => {
            matches!(
                grant.role,
                UppAdmin | MppManager | RegionalAdmin | NationalAdmin | Analyst
            )
        }
        Action::EditMpp => matches!(grant.role, MppManager),
        Action::ViewAudit => matches!(
            grant.role,
            UppAdmin | MppManager | RegionalAdmin | NationalAdmin
        ),
        Action::Invite(role) => match grant.role {
            NationalAdmin => true,
            RegionalAdmin => matches!(role, RegionalAdmin | MppManager | UppAdmin | Officer),
            MppManager => matches!(role, UppAdmin | Officer),
            UppAdmin => matches!(role, Officer),
            Officer | Analyst => false,
        },
    }
}

/// Whether any of a person's grants allows `action` at `place`.
pub fn permits(grants: &[Grant], action: Action, place: &Place) -> bool {
    grants.iter().any(|g| grant_permits(g, action, place))
}

/// Whether `grants` may invite someone to `invited`: one grant must allow inviting that role at
/// the invited scope's place, and cover the whole invited scope (a regional admin of `35.79`
/// cannot make a regional admin of all of `35`).
pub fn may_invite(grants: &[Grant], invited: &Grant, place: &Place) -> bool {
    grants.iter().any(|g| {
        grant_permits(g, Action::Invite(invited.role), place)
            && g.scope.covers(&invited.scope, place.region.as_ref())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn batu() -> PlaceRegion {
        PlaceRegion {
            province: "35".into(),
            regency: "35.79".into(),
        }
    }

    fn place(mpp: Uuid, tenant: Option<Uuid>) -> Place {
        Place {
            region: Some(batu()),
            mpp: Some(mpp),
            tenant,
        }
    }

    #[test]
    fn upp_admins_edit_only_their_own_tenant() {
        let (mpp, dukcapil, polres) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let admin = [Grant::new(
            Role::UppAdmin,
            Scope::Tenant {
                mpp,
                tenant: dukcapil,
            },
        )
        .expect("grant")];
        assert!(permits(
            &admin,
            Action::EditService,
            &place(mpp, Some(dukcapil))
        ));
        assert!(!permits(
            &admin,
            Action::EditService,
            &place(mpp, Some(polres))
        ));
        assert!(!permits(&admin, Action::EditMpp, &place(mpp, None)));
        let officer = [Grant::new(
            Role::Officer,
            Scope::Tenant {
                mpp,
                tenant: dukcapil,
            },
        )
        .expect("grant")];
        assert!(!permits(
            &officer,
            Action::EditService,
            &place(mpp, Some(dukcapil))
        ));
        assert!(permits(
            &officer,
            Action::EnterStaffArea,
            &place(mpp, Some(dukcapil))
        ));
    }

    #[test]
    fn grants_must_match_their_role_scope() {
        assert!(Grant::new(Role::UppAdmin, Scope::National).is_none());
        assert!(Grant::new(Role::NationalAdmin, Scope::Region("35".into())).is_none());
        assert!(Grant::new(Role::RegionalAdmin, Scope::Region("35".into())).is_some());
    }

    #[test]
    fn regions_cover_their_regencies_and_not_their_neighbours() {
        let mpp = Uuid::now_v7();
        let east_java =
            [Grant::new(Role::RegionalAdmin, Scope::Region("35".into())).expect("grant")];
        let malang =
            [Grant::new(Role::RegionalAdmin, Scope::Region("35.07".into())).expect("grant")];
        let at_batu = place(mpp, None);
        assert!(permits(&east_java, Action::ViewAudit, &at_batu));
        assert!(!permits(&malang, Action::ViewAudit, &at_batu));
        let manager = Grant::new(Role::MppManager, Scope::Mpp(mpp)).expect("grant");
        assert!(may_invite(&east_java, &manager, &at_batu));
        assert!(!may_invite(&malang, &manager, &at_batu));
        // A regency admin cannot raise someone to the whole province.
        let province_admin =
            Grant::new(Role::RegionalAdmin, Scope::Region("35".into())).expect("grant");
        let batu_admin =
            [Grant::new(Role::RegionalAdmin, Scope::Region("35.79".into())).expect("grant")];
        assert!(!may_invite(
            &batu_admin,
            &province_admin,
            &Place::national()
        ));
    }

    #[test]
    fn audit_paths_nest() {
        let (mpp, tenant) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(Place::national().audit_path(), "/");
        let p = place(mpp, Some(tenant)).audit_path();
        assert_eq!(p, format!("/35/35.79/{mpp}/{tenant}"));
        assert!(p.starts_with(&place(mpp, None).audit_path()));
    }

    fn any_role() -> impl Strategy<Value = Role> {
        prop::sample::select(Role::ALL.to_vec())
    }

    proptest! {
        /// Nobody may invite to a role above their own, and only a national admin invites a
        /// national admin or an analyst; officers and analysts invite nobody.
        #[test]
        fn invitations_never_raise_above_the_inviter(inviter in any_role(), invited in any_role()) {
            let (mpp, tenant) = (Uuid::from_u128(1), Uuid::from_u128(2));
            let scope_for = |role: Role| match role.scope_kind() {
                ScopeKind::Tenant => Scope::Tenant { mpp, tenant },
                ScopeKind::Mpp => Scope::Mpp(mpp),
                ScopeKind::Region => Scope::Region("35.79".into()),
                ScopeKind::National => Scope::National,
            };
            let grants = [Grant::new(inviter, scope_for(inviter)).expect("grant")];
            let target = Grant::new(invited, scope_for(invited)).expect("grant");
            let at = place(mpp, matches!(invited.scope_kind(), ScopeKind::Tenant).then_some(tenant));
            let allowed = may_invite(&grants, &target, &at);
            if matches!(inviter, Role::Officer | Role::Analyst) {
                prop_assert!(!allowed);
            }
            if matches!(invited, Role::NationalAdmin | Role::Analyst) {
                prop_assert_eq!(allowed, inviter == Role::NationalAdmin);
            }
            if allowed && inviter != Role::NationalAdmin {
                prop_assert!(invited <= inviter);
            }
        }

        /// A grant at one tenant never reaches another tenant or another MPP.
        #[test]
        fn tenant_grants_stay_home(a in 0u128..4, b in 0u128..4, role in prop::sample::select(vec![Role::Officer, Role::UppAdmin])) {
            let mpp = Uuid::from_u128(100);
            let grants = [Grant::new(role, Scope::Tenant { mpp, tenant: Uuid::from_u128(a) }).expect("grant")];
            for action in [Action::EditService, Action::EditMpp, Action::ViewAudit, Action::EnterStaffArea] {
                prop_assert!(a == b || !permits(&grants, action, &place(mpp, Some(Uuid::from_u128(b)))));
                prop_assert!(!permits(&grants, action, &place(Uuid::from_u128(101), Some(Uuid::from_u128(a)))));
            }
        }
    }
}
