//! Invariants of the permission engine over random facts (proptest): whatever the roles,
//! grants, tokens and visibility, a token never has more than its owner, a higher role never
//! has less, a token that is expired, revoked or not covering has nothing, and the decision
//! allows exactly what is granted.

use packistry_shared::permissions::{
    decide, effective_permissions, Caller, Decision, Permission, PermissionSet, TokenFacts,
    UserFacts,
};
use packistry_shared::{GlobalRole, RepositoryRole, Visibility};
use proptest::prelude::*;

fn role() -> impl Strategy<Value = RepositoryRole> {
    prop_oneof![
        Just(RepositoryRole::Reader),
        Just(RepositoryRole::Uploader),
        Just(RepositoryRole::Developer),
        Just(RepositoryRole::Administrator),
    ]
}

fn user() -> impl Strategy<Value = UserFacts> {
    (
        prop_oneof![
            Just(GlobalRole::Admin),
            Just(GlobalRole::Developer),
            Just(GlobalRole::User)
        ],
        any::<bool>(),
        proptest::option::of(role()),
        proptest::collection::vec(role(), 0..3),
    )
        .prop_map(
            |(global_role, active, direct_role, group_roles)| UserFacts {
                global_role,
                active,
                direct_role,
                group_roles,
            },
        )
}

fn token() -> impl Strategy<Value = TokenFacts> {
    (
        any::<bool>(),
        proptest::collection::vec(role(), 0..4),
        proptest::option::of(any::<bool>()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(covers_repository, permitted_roles, package_allowed, expired, revoked)| TokenFacts {
                covers_repository,
                permitted_roles,
                package_allowed,
                expired,
                revoked,
            },
        )
}

fn visibility() -> impl Strategy<Value = Visibility> {
    prop_oneof![Just(Visibility::Public), Just(Visibility::Private)]
}

fn needed() -> impl Strategy<Value = PermissionSet> {
    proptest::sample::subsequence(Permission::ALL.to_vec(), 1..=3)
        .prop_map(|p| PermissionSet::of(&p))
}

proptest! {
    #[test]
    fn a_personal_token_never_exceeds_its_owner(owner in user(), token in token(), vis in visibility()) {
        let as_owner = effective_permissions(&Caller::User(owner.clone()), vis);
        let as_token = effective_permissions(&Caller::PersonalToken { owner, token: token.clone() }, vis);
        prop_assert!(as_owner.contains_all(as_token));
        let permitted = token
            .permitted_roles
            .iter()
            .fold(PermissionSet::NONE, |set, role| set.union(role.permissions()));
        prop_assert!(permitted.contains_all(as_token));
    }

    #[test]
    fn unusable_tokens_have_nothing(owner in user(), mut token in token(), vis in visibility(), which in 0..4u8) {
        match which {
            0 => token.expired = true,
            1 => token.revoked = true,
            2 => token.covers_repository = false,
            _ => token.package_allowed = Some(false),
        }
        let personal = Caller::PersonalToken { owner, token: token.clone() };
        prop_assert!(effective_permissions(&personal, vis).is_empty());
        prop_assert!(effective_permissions(&Caller::DeployToken(token), vis).is_empty());
    }

    #[test]
    fn a_higher_role_never_has_less(mut facts in user(), low in role(), high in role(), vis in visibility()) {
        // Roles are ordered highest first.
        let (high, low) = if high <= low { (high, low) } else { (low, high) };
        prop_assert!(high.permissions().contains_all(low.permissions()));
        facts.direct_role = Some(low);
        let with_low = effective_permissions(&Caller::User(facts.clone()), vis);
        facts.direct_role = Some(high);
        let with_high = effective_permissions(&Caller::User(facts), vis);
        prop_assert!(with_high.contains_all(with_low));
    }

    #[test]
    fn deactivated_users_have_nothing(mut facts in user(), vis in visibility(), token in token()) {
        facts.active = false;
        prop_assert!(effective_permissions(&Caller::User(facts.clone()), vis).is_empty());
        let personal = Caller::PersonalToken { owner: facts, token };
        prop_assert!(effective_permissions(&personal, vis).is_empty());
    }

    #[test]
    fn the_decision_allows_exactly_what_is_granted(owner in user(), token in token(), vis in visibility(), needed in needed(), kind in 0..4u8) {
        let caller = match kind {
            0 => Caller::Anonymous,
            1 => Caller::User(owner),
            2 => Caller::PersonalToken { owner, token },
            _ => Caller::DeployToken(token),
        };
        let granted = effective_permissions(&caller, vis);
        let decision = decide(&caller, vis, granted, needed);
        prop_assert_eq!(decision == Decision::Allow, granted.contains_all(needed));
        if decision == Decision::NotFound {
            prop_assert!(granted.is_empty() && vis == Visibility::Private);
        }
        if matches!(caller, Caller::Anonymous) && decision != Decision::Allow {
            prop_assert_eq!(decision, Decision::Unauthenticated);
        }
    }
}
