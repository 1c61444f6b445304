//! Composer's version rules, ported from `Composer\Semver\VersionParser` so that what this
//! server writes as `version_normalized` is exactly what Composer itself would compute:
//! `1.2` → `1.2.0.0`, `v1.0.0-beta1` → `1.0.0.0-beta1`, `dev-main` stays, `2.x-dev` →
//! `2.9999999.9999999.9999999-dev`.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

const MODIFIER: &str =
    r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?)?([.-]?dev)?";

static ALIAS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^,\s]+) +as +([^,\s]+)$").expect("alias pattern"));
static STABILITY_FLAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)@(?:stable|RC|beta|alpha|dev)$").expect("flag pattern"));
static BUILD_METADATA: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^,\s+]+)\+\S+$").expect("build pattern"));
static CLASSICAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)^v?(\d{{1,5}})(\.\d+)?(\.\d+)?(\.\d+)?{MODIFIER}$"
    ))
    .expect("classical pattern")
});
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)^v?(\d{{4}}(?:[.:-]?\d{{2}}){{1,6}}(?:[.:-]?\d{{1,3}}){{0,2}}){MODIFIER}$"
    ))
    .expect("date pattern")
});
static DEV_SUFFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(.*?)[.-]?dev$").expect("dev pattern"));
static NUMERIC_BRANCH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^v?(\d+)(\.(?:\d+|[x*]))?(\.(?:\d+|[x*]))?(\.(?:\d+|[x*]))?$")
        .expect("branch pattern")
});
static STABILITY_SUFFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"(?i){MODIFIER}(?:\+.*)?$")).expect("stability pattern"));

/// Why a version string is not one Composer accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version \"{0}\": use a version such as 1.2.3, v2.0.0-beta1, 2.x-dev or dev-main")]
pub struct InvalidVersion(pub String);

/// `VersionParser::normalize`.
pub fn normalize(version: &str) -> Result<String, InvalidVersion> {
    let original = version;
    let mut version = version.trim().to_owned();
    if version.is_empty() || version.chars().any(char::is_control) {
        return Err(InvalidVersion(original.to_owned()));
    }
    if let Some(captures) = ALIAS.captures(&version) {
        version = captures[1].to_owned();
    }
    if let Some(found) = STABILITY_FLAG.find(&version) {
        version.truncate(found.start());
    }
    if matches!(version.as_str(), "master" | "trunk" | "default") {
        version = format!("dev-{version}");
    }
    // `get` and not `[..4]`: a non-ASCII name (any Git tag) may not split at byte 4.
    if let Some(rest) = version
        .get(..4)
        .filter(|prefix| prefix.eq_ignore_ascii_case("dev-"))
        .and_then(|_| version.get(4..))
    {
        return Ok(format!("dev-{rest}"));
    }
    if let Some(captures) = BUILD_METADATA.captures(&version) {
        version = captures[1].to_owned();
    }

    let matched = if let Some(c) = CLASSICAL.captures(&version) {
        let part = |i: usize| {
            c.get(i)
                .map(|m| m.as_str())
                .filter(|s| !s.is_empty())
                .unwrap_or(".0")
                .to_owned()
        };
        Some((
            format!("{}{}{}{}", &c[1], part(2), part(3), part(4)),
            c.get(5).map(|m| m.as_str().to_owned()),
            c.get(6).map(|m| m.as_str().to_owned()),
            c.get(7).is_some_and(|m| !m.as_str().is_empty()),
        ))
    } else {
        DATE.captures(&version).map(|c| {
            let digits: String = c[1]
                .chars()
                .map(|ch| if ch.is_ascii_digit() { ch } else { '.' })
                .collect();
            (
                digits,
                c.get(2).map(|m| m.as_str().to_owned()),
                c.get(3).map(|m| m.as_str().to_owned()),
                c.get(4).is_some_and(|m| !m.as_str().is_empty()),
            )
        })
    };
    if let Some((mut normalized, stability, number, dev)) = matched {
        if let Some(stability) = stability.filter(|s| !s.is_empty()) {
            if stability == "stable" {
                return Ok(normalized);
            }
            normalized.push('-');
            normalized.push_str(&expand_stability(&stability));
            if let Some(number) = number.filter(|n| !n.is_empty()) {
                normalized.push_str(number.trim_start_matches(['.', '-']));
            }
        }
        if dev {
            normalized.push_str("-dev");
        }
        return Ok(normalized);
    }

    if let Some(captures) = DEV_SUFFIX.captures(&version) {
        let branch = normalize_branch(&captures[1]);
        if !branch.contains("dev-") {
            return Ok(branch);
        }
    }
    Err(InvalidVersion(original.to_owned()))
}

/// `VersionParser::normalizeBranch`: `2.x` → `2.9999999.9999999.9999999-dev`, other names
/// → `dev-{name}`.
pub fn normalize_branch(name: &str) -> String {
    let name = name.trim();
    if let Some(c) = NUMERIC_BRANCH.captures(name) {
        let mut version = String::new();
        for i in 1..5 {
            match c.get(i) {
                Some(m) => version.push_str(&m.as_str().replace(['*', 'X'], "x")),
                None => version.push_str(".x"),
            }
        }
        return format!("{}-dev", version.replace('x', "9999999"));
    }
    format!("dev-{name}")
}

fn expand_stability(stability: &str) -> String {
    match stability.to_ascii_lowercase().as_str() {
        "a" => "alpha".into(),
        "b" => "beta".into(),
        "p" | "pl" => "patch".into(),
        "rc" => "RC".into(),
        other => other.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stability {
    Dev,
    Alpha,
    Beta,
    Rc,
    Stable,
}

impl Stability {
    pub fn as_str(self) -> &'static str {
        match self {
            Stability::Dev => "dev",
            Stability::Alpha => "alpha",
            Stability::Beta => "beta",
            Stability::Rc => "RC",
            Stability::Stable => "stable",
        }
    }
}

/// `VersionParser::parseStability`.
pub fn stability(version: &str) -> Stability {
    let version = version.split('#').next().unwrap_or(version);
    if version.starts_with("dev-") || version.ends_with("-dev") {
        return Stability::Dev;
    }
    let lower = version.to_ascii_lowercase();
    let Some(c) = STABILITY_SUFFIX.captures(&lower) else {
        return Stability::Stable;
    };
    if c.get(3).is_some_and(|m| !m.as_str().is_empty()) {
        return Stability::Dev;
    }
    match c.get(1).map(|m| m.as_str()) {
        Some("beta" | "b") => Stability::Beta,
        Some("alpha" | "a") => Stability::Alpha,
        Some("rc") => Stability::Rc,
        _ => Stability::Stable,
    }
}

/// Whether a normalized version belongs in `p2/{name}~dev.json` rather than `p2/{name}.json`.
pub fn is_dev(normalized: &str) -> bool {
    stability(normalized) == Stability::Dev
}

/// Newest first, as Composer orders releases: numeric parts, then pre-release stability
/// (dev < alpha < beta < RC < stable < patch); named dev branches (`dev-…`) after all
/// numbered versions, by name.
pub fn compare_normalized(a: &str, b: &str) -> Ordering {
    fn key(v: &str) -> (bool, Vec<u64>, i32, u64, String) {
        if let Some(branch) = v.strip_prefix("dev-") {
            return (true, Vec::new(), 0, 0, branch.to_owned());
        }
        let (numbers, suffix) = v.split_once('-').unwrap_or((v, ""));
        let parts = numbers
            .split('.')
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .collect();
        let suffix = suffix.to_ascii_lowercase();
        let (rank, rest) = [
            ("dev", 0),
            ("alpha", 1),
            ("beta", 2),
            ("rc", 3),
            ("patch", 5),
        ]
        .iter()
        .find_map(|(word, rank)| suffix.strip_prefix(word).map(|rest| (*rank, rest)))
        .unwrap_or((4, ""));
        let rest = rest.trim_start_matches(['.', '-']);
        let number = rest
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        // "1.0.0.0-beta1-dev" is a development version of beta1: below it.
        let rank = if rank != 0 && suffix.ends_with("-dev") {
            rank * 2 - 1
        } else {
            rank * 2
        };
        (false, parts, rank, number, String::new())
    }
    let (ka, kb) = (key(a), key(b));
    // Named branches last; among numbered versions, newest first.
    ka.0.cmp(&kb.0)
        .then_with(|| kb.1.cmp(&ka.1))
        .then_with(|| kb.2.cmp(&ka.2))
        .then_with(|| kb.3.cmp(&ka.3))
        .then_with(|| ka.4.cmp(&kb.4))
}

#[cfg(test)]
mod tests {
    use super::*;

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any tag, branch or string: no panic; a normalized version normalizes to
            /// itself's order (idempotent up to compare).
            #[test]
            fn normalizing_anything_never_panics(text in "\\PC{0,40}") {
                if let Ok(normalized) = normalize(&text) {
                    prop_assert_eq!(compare_normalized(&normalized, &normalized), Ordering::Equal);
                    let _ = stability(&normalized);
                    let _ = is_dev(&normalized);
                }
                let _ = normalize_branch(&text);
            }

            #[test]
            fn version_order_is_total(
                a in "(v?[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(-(alpha|beta|RC|patch|dev)[0-9]?)?|dev-[a-z]{1,5})",
                b in "(v?[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(-(alpha|beta|RC|patch|dev)[0-9]?)?|dev-[a-z]{1,5})",
                c in "(v?[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(-(alpha|beta|RC|patch|dev)[0-9]?)?|dev-[a-z]{1,5})",
            ) {
                let (Ok(a), Ok(b), Ok(c)) = (normalize(&a), normalize(&b), normalize(&c)) else {
                    return Ok(());
                };
                prop_assert_eq!(compare_normalized(&a, &b), compare_normalized(&b, &a).reverse());
                if compare_normalized(&a, &b).is_le() && compare_normalized(&b, &c).is_le() {
                    prop_assert!(compare_normalized(&a, &c).is_le());
                }
            }
        }
    }

    /// Git tags are anything; none may panic the import that reads them.
    #[test]
    fn non_ascii_and_odd_tags_never_panic() {
        for tag in [
            "déve",
            "dév-x",
            "dev\u{e9}",
            "v1.0-ü",
            "ü",
            "1.0.0-β",
            "\u{1F600}1.0",
            "1.0\u{0301}",
            "dev-ß",
            "ΔΕV-x",
            "v",
            "-",
            "..",
            "9999999999999999999999.0",
        ] {
            let _ = normalize(tag);
            let _ = normalize_branch(tag);
        }
        assert_eq!(normalize("dev-ß").unwrap(), "dev-ß");
        assert!(normalize("déve").is_err());
    }

    /// Cases from composer/semver's VersionParserTest::successfulNormalizedVersions.
    #[test]
    fn normalizes_as_composer_does() {
        let cases = [
            ("1.0.0", "1.0.0.0"),
            ("1.2.3.4", "1.2.3.4"),
            ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
            ("1.0.0-rC15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0-rc1", "1.0.0.0-RC1"),
            ("1.0.0.pl3-dev", "1.0.0.0-patch3-dev"),
            ("1.0-dev", "1.0.0.0-dev"),
            ("0", "0.0.0.0"),
            ("10.4.13-beta", "10.4.13.0-beta"),
            ("10.4.13beta2", "10.4.13.0-beta2"),
            ("10.4.13beta.2", "10.4.13.0-beta2"),
            ("v1.13.11-beta.0", "1.13.11.0-beta0"),
            ("1.13.11.0-beta0", "1.13.11.0-beta0"),
            ("10.4.13-b", "10.4.13.0-beta"),
            ("10.4.13-b5", "10.4.13.0-beta5"),
            ("v1.0.0", "1.0.0.0"),
            ("v20100102", "20100102"),
            ("2010.01", "2010.01.0.0"),
            ("2010.01.02", "2010.01.02.0"),
            ("2010.1.555", "2010.1.555.0"),
            ("201903.0", "201903.0"),
            ("201903.0-p2", "201903.0-patch2"),
            ("2010-01-02", "2010.01.02"),
            ("2010-01-02.5", "2010.01.02.5"),
            ("20100102-203040", "20100102.203040"),
            ("20100102203040-10", "20100102203040.10"),
            ("20100102-203040-p1", "20100102.203040-patch1"),
            ("dev-master", "dev-master"),
            ("dev-trunk", "dev-trunk"),
            ("1.x-dev", "1.9999999.9999999.9999999-dev"),
            ("dev-feature-foo", "dev-feature-foo"),
            ("DEV-FOOBAR", "dev-FOOBAR"),
            ("dev-feature/foo", "dev-feature/foo"),
            ("dev-feature+issue-1", "dev-feature+issue-1"),
            ("dev-master as 1.0.0", "dev-master"),
            (
                "dev-load-varnish-only-when-used as ^2.0",
                "dev-load-varnish-only-when-used",
            ),
            ("1.0.0+foo", "1.0.0.0"),
            ("1.0.0-alpha.3.1+foo", "1.0.0.0-alpha3.1"),
            ("1.0.0+foo as 2.0", "1.0.0.0"),
            ("1.0.0-beta.5+foo", "1.0.0.0-beta5"),
            ("1.0.0@dev", "1.0.0.0"),
            ("master", "dev-master"),
            ("trunk", "dev-trunk"),
            ("default", "dev-default"),
            ("1.2", "1.2.0.0"),
            ("2.x-dev", "2.9999999.9999999.9999999-dev"),
            ("1.0.0-stable", "1.0.0.0"),
            ("99999", "99999.0.0.0"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                normalize(input).as_deref(),
                Ok(expected),
                "normalize({input})"
            );
        }
    }

    #[test]
    fn refuses_what_composer_refuses() {
        for input in [
            "",
            "a",
            "1.0.0-meh",
            "1.0.0.0.0",
            "feature-foo",
            "1.0 ../x",
            "1.0.0 foo",
        ] {
            assert!(normalize(input).is_err(), "normalize({input}) should fail");
        }
    }

    #[test]
    fn stability_of_versions() {
        assert_eq!(stability("1.0.0.0"), Stability::Stable);
        assert_eq!(stability("1.0.0.0-beta2"), Stability::Beta);
        assert_eq!(stability("1.0.0.0-RC1"), Stability::Rc);
        assert_eq!(stability("1.0.0.0-alpha1"), Stability::Alpha);
        assert_eq!(stability("2.9999999.9999999.9999999-dev"), Stability::Dev);
        assert_eq!(stability("dev-main"), Stability::Dev);
        assert_eq!(stability("1.0.0.0-patch1"), Stability::Stable);
        assert!(is_dev("dev-main") && !is_dev("1.1.0.0"));
    }

    #[test]
    fn orders_newest_first() {
        let mut versions = vec![
            "1.0.0.0",
            "dev-main",
            "2.0.0.0-beta1",
            "1.10.0.0",
            "2.0.0.0",
            "1.2.0.0",
            "2.0.0.0-RC1",
            "2.0.0.0-alpha2",
            "2.0.0.0-patch1",
        ];
        versions.sort_by(|a, b| compare_normalized(a, b));
        assert_eq!(
            versions,
            [
                "2.0.0.0-patch1",
                "2.0.0.0",
                "2.0.0.0-RC1",
                "2.0.0.0-beta1",
                "2.0.0.0-alpha2",
                "1.10.0.0",
                "1.2.0.0",
                "1.0.0.0",
                "dev-main",
            ]
        );
    }
}
