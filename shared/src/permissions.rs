//! The permission engine: what a caller may do on a repository (and, where it matters, a
//! package). Pure functions over plain facts, used by the server to enforce and by the SPA
//! to show or hide actions.
//!
//! The rules (DESIGN.md, "Domain"):
//! - roles include each other: administrator ⊇ developer ⊇ uploader ⊇ reader;
//! - a public repository lets anyone, anonymous included, download and list;
//! - a user's role on a repository is the highest of their direct grant and their groups'
//!   grants; a global admin is administrator everywhere; a deactivated user has nothing;
//! - a personal token has permissions(owner's role on R) ∩ permissions(permitted roles) on a
//!   repository it covers, and nothing elsewhere;
//! - a deploy token has permissions(permitted roles) on the repositories it belongs to;
//! - a package limit narrows a token to those packages: outside them it has nothing;
//! - an expired or revoked token has nothing.

use serde::{Deserialize, Serialize};

use crate::{GlobalRole, RepositoryRole, Visibility};

/// One thing a caller may do on a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Upload,
    Download,
    /// Enumerate what the repository holds.
    List,
    ViewGrants,
    /// Grant and revoke, edit or delete the repository, its packages and versions.
    Administer,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::Upload,
        Permission::Download,
        Permission::List,
        Permission::ViewGrants,
        Permission::Administer,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct PermissionSet(u8);

impl PermissionSet {
    pub const NONE: PermissionSet = PermissionSet(0);

    pub fn of(permissions: &[Permission]) -> PermissionSet {
        PermissionSet(permissions.iter().fold(0, |bits, p| bits | p.bit()))
    }

    pub fn all() -> PermissionSet {
        PermissionSet::of(&Permission::ALL)
    }

    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    pub fn contains_all(self, other: PermissionSet) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn union(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 | other.0)
    }

    pub fn intersection(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & other.0)
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        PermissionSet(iter.into_iter().fold(0, |bits, p| bits | p.bit()))
    }
}

impl RepositoryRole {
    /// What this role allows (the role table of DESIGN.md).
    pub fn permissions(self) -> PermissionSet {
        use Permission::*;
        match self {
            RepositoryRole::Administrator => PermissionSet::all(),
            RepositoryRole::Developer => PermissionSet::of(&[Upload, Download, List, ViewGrants]),
            RepositoryRole::Uploader => PermissionSet::of(&[Upload, Download]),
            RepositoryRole::Reader => PermissionSet::of(&[Download]),
        }
    }
}

/// What anyone may do on a public repository.
pub fn public_permissions() -> PermissionSet {
    PermissionSet::of(&[Permission::Download, Permission::List])
}

/// Facts about a user, relative to one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    pub global_role: GlobalRole,
    pub active: bool,
    /// The role granted to the user directly on the repository.
    pub direct_role: Option<RepositoryRole>,
    /// Roles granted on the repository to groups the user belongs to.
    pub group_roles: Vec<RepositoryRole>,
}

impl UserFacts {
    /// The user's role on the repository: the highest of their grants; admin everywhere for
    /// global admins.
    pub fn role(&self) -> Option<RepositoryRole> {
        if self.global_role == GlobalRole::Admin {
            return Some(RepositoryRole::Administrator);
        }
        self.direct_role
            .into_iter()
            .chain(self.group_roles.iter().copied())
            .reduce(RepositoryRole::max)
    }
}

/// Facts about a token, relative to one repository and, where asked, one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFacts {
    /// The token covers this repository (all repositories, or this one among its list).
    pub covers_repository: bool,
    pub permitted_roles: Vec<RepositoryRole>,
    /// `None`: no package limit on this repository. `Some(allowed)`: the token is limited to
    /// some packages, and `allowed` says whether the package asked about is one of them
    /// (false too when no particular package is asked about).
    pub package_allowed: Option<bool>,
    pub expired: bool,
    pub revoked: bool,
}

impl TokenFacts {
    fn usable(&self) -> bool {
        !self.expired
            && !self.revoked
            && self.covers_repository
            && self.package_allowed != Some(false)
    }

    fn permitted(&self) -> PermissionSet {
        self.permitted_roles
            .iter()
            .fold(PermissionSet::NONE, |set, role| {
                set.union(role.permissions())
            })
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    /// A user signed in with a browser session.
    User(UserFacts),
    PersonalToken {
        owner: UserFacts,
        token: TokenFacts,
    },
    DeployToken(TokenFacts),
}

/// Effective permissions of `caller` on a repository of the given visibility.
///
/// For a package-level question, the token facts say whether the package is inside the
/// token's package limit; for a repository-level one (listing), callers pass
/// `package_allowed: None` for unlimited tokens and filter what a limited token lists.
pub fn effective_permissions(caller: &Caller, visibility: Visibility) -> PermissionSet {
    let public = if visibility == Visibility::Public {
        public_permissions()
    } else {
        PermissionSet::NONE
    };
    let user_permissions = |user: &UserFacts| {
        if !user.active {
            return PermissionSet::NONE;
        }
        user.role()
            .map(RepositoryRole::permissions)
            .unwrap_or(PermissionSet::NONE)
            .union(public)
    };
    match caller {
        Caller::Anonymous => public,
        Caller::User(user) => user_permissions(user),
        Caller::PersonalToken { owner, token } => {
            if token.usable() {
                user_permissions(owner).intersection(token.permitted())
            } else {
                PermissionSet::NONE
            }
        }
        Caller::DeployToken(token) => {
            if token.usable() {
                token.permitted()
            } else {
                PermissionSet::NONE
            }
        }
    }
}

/// What to answer a caller who asks for `needed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Anonymous: 401 with the protocol's challenge, so the client sends credentials.
    Unauthenticated,
    /// A known caller without the needed permission on something it can see: 403.
    Forbidden,
    /// A caller with no permission at all on a private repository: 404, as if absent.
    NotFound,
}

pub fn decide(
    caller: &Caller,
    visibility: Visibility,
    granted: PermissionSet,
    needed: PermissionSet,
) -> Decision {
    if granted.contains_all(needed) {
        Decision::Allow
    } else if matches!(caller, Caller::Anonymous) {
        Decision::Unauthenticated
    } else if granted.is_empty() && visibility == Visibility::Private {
        Decision::NotFound
    } else {
        Decision::Forbidden
    }
}

/// Global rights, outside any repository.
pub fn may_create_repository(role: GlobalRole) -> bool {
    matches!(role, GlobalRole::Admin | GlobalRole::Developer)
}

pub fn may_create_group(role: GlobalRole) -> bool {
    matches!(role, GlobalRole::Admin | GlobalRole::Developer)
}

pub fn may_manage_users(role: GlobalRole) -> bool {
    role == GlobalRole::Admin
}

/// Admins manage every group; maintainers manage their own.
pub fn may_manage_group(role: GlobalRole, is_maintainer: bool) -> bool {
    role == GlobalRole::Admin || is_maintainer
}
