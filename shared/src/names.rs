//! Name rules shared by the server (to refuse) and the SPA (to explain before submitting).

/// The rule for repository names, as a person reads it.
pub const REPOSITORY_NAME_RULE: &str =
    "a repository name is 1 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit";

/// `[a-z0-9][a-z0-9._-]{0,63}`
pub fn is_valid_repository_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// The rule for group names.
pub const GROUP_NAME_RULE: &str =
    "a group name is 1 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit";

pub fn is_valid_group_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A deliberately simple e-mail check: one '@', something before it, a dot after it, no spaces.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(char::is_whitespace)
}

/// Passwords: at least this many characters.
pub const MIN_PASSWORD_LENGTH: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn names_are_judged_without_panics(name in "\\PC{0,80}") {
                if is_valid_repository_name(&name) {
                    prop_assert!(name.len() <= 64 && !name.contains('/'));
                }
                let _ = is_valid_group_name(&name);
                let _ = is_plausible_email(&name);
            }
        }
    }

    #[test]
    fn repository_names() {
        for ok in ["a", "acme-app", "0lib", "a.b_c-d", &"x".repeat(64)] {
            assert!(is_valid_repository_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "_a",
            "Acme",
            "a b",
            "a/b",
            "..",
            &"x".repeat(65),
            "é",
        ] {
            assert!(!is_valid_repository_name(bad), "{bad}");
        }
    }

    #[test]
    fn group_names() {
        assert!(is_valid_group_name("Backend-Team"));
        assert!(!is_valid_group_name(""));
        assert!(!is_valid_group_name("a b"));
    }

    #[test]
    fn emails() {
        assert!(is_plausible_email("alice@example.com"));
        for bad in [
            "alice",
            "@example.com",
            "alice@example",
            "a b@example.com",
            "a@.com",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }
}
