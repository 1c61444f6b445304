//! Global roles, per-repository roles, repository formats and visibility.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An error for a word that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} \"{given}\"; expected one of: {expected}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub given: String,
    pub expected: &'static str,
}

macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal, { $($variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The lowercase word used on the command line, in the database and on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        kind: $kind,
                        given: s.to_owned(),
                        expected: concat!($($word, " "),+).trim_ascii_end(),
                    }),
                }
            }
        }
    };
}

word_enum!(
    /// A user's role across the whole installation.
    GlobalRole, "global role", {
        Admin => "admin",
        Developer => "developer",
        User => "user",
    }
);

word_enum!(
    /// A role on one repository. Each role includes every permission of the roles after it:
    /// administrator ⊇ developer ⊇ uploader ⊇ reader (ordered highest first).
    RepositoryRole, "repository role", {
        Administrator => "administrator",
        Developer => "developer",
        Uploader => "uploader",
        Reader => "reader",
    }
);

word_enum!(
    /// The package format a repository holds.
    Format, "format", {
        Composer => "composer",
        Maven => "maven",
        Container => "container",
        Npm => "npm",
        Cargo => "cargo",
        Pypi => "pypi",
    }
);

word_enum!(
    /// Who may see a repository without a grant.
    Visibility, "visibility", {
        Public => "public",
        Private => "private",
    }
);

impl RepositoryRole {
    /// The higher of two roles.
    pub fn max(self, other: RepositoryRole) -> RepositoryRole {
        // Variants are declared highest first, so the smaller ordinal is the higher role.
        if self <= other {
            self
        } else {
            other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for role in GlobalRole::ALL {
            assert_eq!(role.as_str().parse::<GlobalRole>(), Ok(*role));
        }
        for role in RepositoryRole::ALL {
            assert_eq!(role.as_str().parse::<RepositoryRole>(), Ok(*role));
        }
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>(), Ok(*format));
        }
    }

    #[test]
    fn unknown_word_names_the_choices() {
        let err = "owner".parse::<RepositoryRole>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown repository role \"owner\"; expected one of: administrator developer uploader reader"
        );
    }

    #[test]
    fn max_picks_the_higher_role() {
        use RepositoryRole::*;
        assert_eq!(Reader.max(Developer), Developer);
        assert_eq!(Administrator.max(Reader), Administrator);
        assert_eq!(Uploader.max(Uploader), Uploader);
    }
}
