//! The whole permission matrix, checked against an oracle written from the specification's
//! text (DESIGN.md, "Domain") with its own table and set logic, not from the engine's code.

use std::collections::BTreeSet;

use packistry_shared::permissions::{
    decide, effective_permissions, Caller, Decision, Permission, PermissionSet, TokenFacts,
    UserFacts,
};
use packistry_shared::{GlobalRole, RepositoryRole, Visibility};

/// The role table of the specification, row by row; rows are listed highest role first.
const ROLE_TABLE: &[(&str, &[&str])] = &[
    (
        "administrator",
        &["upload", "download", "list", "view grants", "administer"],
    ),
    ("developer", &["upload", "download", "list", "view grants"]),
    ("uploader", &["upload", "download"]),
    ("reader", &["download"]),
];
/// "Public: anyone, anonymous included, may download and list."
const PUBLIC: &[&str] = &["download", "list"];

type Names = BTreeSet<&'static str>;

fn row(role: &str) -> Names {
    ROLE_TABLE
        .iter()
        .find(|(name, _)| *name == role)
        .map(|(_, perms)| perms.iter().copied().collect())
        .expect("role in table")
}

fn rank(role: &str) -> usize {
    ROLE_TABLE
        .iter()
        .position(|(name, _)| *name == role)
        .expect("role")
}

fn names(set: PermissionSet) -> Names {
    set.iter()
        .map(|p| match p {
            Permission::Upload => "upload",
            Permission::Download => "download",
            Permission::List => "list",
            Permission::ViewGrants => "view grants",
            Permission::Administer => "administer",
        })
        .collect()
}

/// "A user's role on a repository is the highest of their direct grant and their groups'
/// grants; a global admin is administrator everywhere."
fn oracle_user_role(
    global: &str,
    direct: Option<&'static str>,
    group: Option<&'static str>,
) -> Option<&'static str> {
    if global == "admin" {
        return Some("administrator");
    }
    [direct, group]
        .into_iter()
        .flatten()
        .min_by_key(|r| rank(r))
}

fn oracle_user(
    global: &str,
    active: bool,
    direct: Option<&'static str>,
    group: Option<&'static str>,
    public: bool,
) -> Names {
    if !active {
        return Names::new(); // a deactivated user stops working at once
    }
    let mut set = oracle_user_role(global, direct, group)
        .map(row)
        .unwrap_or_default();
    if public {
        set.extend(PUBLIC);
    }
    set
}

fn permitted(roles: &[&'static str]) -> Names {
    roles.iter().flat_map(|r| row(r)).collect()
}

const ROLES: [&str; 4] = ["administrator", "developer", "uploader", "reader"];

fn role(name: &str) -> RepositoryRole {
    name.parse().unwrap()
}

fn subsets() -> Vec<Vec<&'static str>> {
    (0..16u8)
        .map(|mask| {
            ROLES
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, r)| *r)
                .collect()
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Limit {
    None,
    Inside,
    Outside,
}

#[derive(Clone, Copy, Debug)]
enum Validity {
    Valid,
    Expired,
    Revoked,
}

fn token(covered: bool, roles: &[&'static str], limit: Limit, validity: Validity) -> TokenFacts {
    TokenFacts {
        covers_repository: covered,
        permitted_roles: roles.iter().map(|r| role(r)).collect(),
        package_allowed: match limit {
            Limit::None => None,
            Limit::Inside => Some(true),
            Limit::Outside => Some(false),
        },
        expired: matches!(validity, Validity::Expired),
        revoked: matches!(validity, Validity::Revoked),
    }
}

#[test]
fn every_combination_matches_the_specification() {
    let globals = [
        ("admin", GlobalRole::Admin),
        ("developer", GlobalRole::Developer),
        ("user", GlobalRole::User),
    ];
    let grant_options: Vec<Option<&'static str>> = std::iter::once(None)
        .chain(ROLES.iter().map(|r| Some(*r)))
        .collect();
    let visibilities = [(true, Visibility::Public), (false, Visibility::Private)];
    let role_sets = subsets();
    let mut checked = 0u64;

    for (public, visibility) in visibilities {
        // Anonymous.
        let expected: Names = if public {
            PUBLIC.iter().copied().collect()
        } else {
            Names::new()
        };
        assert_eq!(
            names(effective_permissions(&Caller::Anonymous, visibility)),
            expected
        );

        for (global_name, global) in globals {
            for &direct in &grant_options {
                for &group in &grant_options {
                    for active in [true, false] {
                        let user = UserFacts {
                            global_role: global,
                            active,
                            direct_role: direct.map(role),
                            group_roles: group.map(role).into_iter().collect(),
                        };
                        let user_expected = oracle_user(global_name, active, direct, group, public);
                        assert_eq!(
                            names(effective_permissions(&Caller::User(user.clone()), visibility)),
                            user_expected,
                            "session: {global_name} direct={direct:?} group={group:?} active={active} public={public}"
                        );
                        checked += 1;

                        for covered in [true, false] {
                            for roles in &role_sets {
                                for limit in [Limit::None, Limit::Inside, Limit::Outside] {
                                    for validity in
                                        [Validity::Valid, Validity::Expired, Validity::Revoked]
                                    {
                                        let facts = token(covered, roles, limit, validity);
                                        // "permissions(user's role on R) ∩ permissions(permitted
                                        // roles) when R is covered, else none"; a package limit
                                        // narrows to those packages; expired/revoked: nothing.
                                        let usable = covered
                                            && !matches!(limit, Limit::Outside)
                                            && matches!(validity, Validity::Valid);
                                        let expected: Names = if usable {
                                            user_expected
                                                .intersection(&permitted(roles))
                                                .copied()
                                                .collect()
                                        } else {
                                            Names::new()
                                        };
                                        let caller = Caller::PersonalToken {
                                            owner: user.clone(),
                                            token: facts,
                                        };
                                        assert_eq!(
                                            names(effective_permissions(&caller, visibility)),
                                            expected,
                                            "personal token: {global_name} direct={direct:?} group={group:?} active={active} public={public} covered={covered} roles={roles:?} {limit:?} {validity:?}"
                                        );
                                        checked += 1;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        // Deploy tokens: no owner; the permitted roles on the repositories they belong to.
        for covered in [true, false] {
            for roles in &role_sets {
                for limit in [Limit::None, Limit::Inside, Limit::Outside] {
                    for validity in [Validity::Valid, Validity::Expired, Validity::Revoked] {
                        let usable = covered
                            && !matches!(limit, Limit::Outside)
                            && matches!(validity, Validity::Valid);
                        let expected = if usable {
                            permitted(roles)
                        } else {
                            Names::new()
                        };
                        let caller = Caller::DeployToken(token(covered, roles, limit, validity));
                        assert_eq!(names(effective_permissions(&caller, visibility)), expected);
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 80_000, "the matrix shrank: {checked}");
}

fn alice(repository: &str) -> UserFacts {
    UserFacts {
        global_role: GlobalRole::User,
        active: true,
        direct_role: Some(match repository {
            "acme-app" => RepositoryRole::Administrator,
            _ => RepositoryRole::Developer,
        }),
        group_roles: vec![],
    }
}

fn alice_token(repository: &str, covered: &[&str], roles: &[RepositoryRole]) -> Caller {
    Caller::PersonalToken {
        owner: alice(repository),
        token: TokenFacts {
            covers_repository: covered.is_empty() || covered.contains(&repository),
            permitted_roles: roles.to_vec(),
            package_allowed: None,
            expired: false,
            revoked: false,
        },
    }
}

/// The specification's own example.
#[test]
fn alices_tokens() {
    use Permission::*;
    // `dev`: reader on acme-libs → may only download from acme-libs, nothing on acme-app.
    let dev = |repo| {
        effective_permissions(
            &alice_token(repo, &["acme-libs"], &[RepositoryRole::Reader]),
            Visibility::Private,
        )
    };
    assert_eq!(dev("acme-libs"), PermissionSet::of(&[Download]));
    assert_eq!(dev("acme-app"), PermissionSet::NONE);
    // `publish`: uploader on all repositories → upload and download on both, nothing else.
    let publish = |repo| {
        effective_permissions(
            &alice_token(repo, &[], &[RepositoryRole::Uploader]),
            Visibility::Private,
        )
    };
    assert_eq!(publish("acme-libs"), PermissionSet::of(&[Upload, Download]));
    assert_eq!(publish("acme-app"), PermissionSet::of(&[Upload, Download]));
    // Alice herself, in the browser, keeps her full roles.
    let alice_app = effective_permissions(&Caller::User(alice("acme-app")), Visibility::Private);
    assert_eq!(alice_app, PermissionSet::all());
}

#[test]
fn decisions_hide_private_repositories_and_challenge_anonymous_callers() {
    use Permission::*;
    let needed = PermissionSet::of(&[Download]);
    let stranger = Caller::User(UserFacts {
        global_role: GlobalRole::User,
        active: true,
        direct_role: None,
        group_roles: vec![],
    });
    // Anonymous on a private repository: 401 so the client sends its credentials.
    assert_eq!(
        decide(
            &Caller::Anonymous,
            Visibility::Private,
            PermissionSet::NONE,
            needed
        ),
        Decision::Unauthenticated
    );
    // A known caller with nothing on a private repository: 404, as if it did not exist.
    assert_eq!(
        decide(&stranger, Visibility::Private, PermissionSet::NONE, needed),
        Decision::NotFound
    );
    // A reader asking to upload: 403.
    assert_eq!(
        decide(
            &stranger,
            Visibility::Private,
            PermissionSet::of(&[Download]),
            PermissionSet::of(&[Upload])
        ),
        Decision::Forbidden
    );
    // Anyone asking to upload to a public repository without the right: 403 (it is visible).
    assert_eq!(
        decide(
            &stranger,
            Visibility::Public,
            PermissionSet::of(&[Download, List]),
            PermissionSet::of(&[Upload])
        ),
        Decision::Forbidden
    );
    assert_eq!(
        decide(
            &stranger,
            Visibility::Public,
            PermissionSet::of(&[Download, List]),
            needed
        ),
        Decision::Allow
    );
}
