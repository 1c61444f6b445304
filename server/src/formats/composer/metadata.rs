//! Composer v2 metadata: one entry per version built from the stored composer.json, and the
//! `composer/2.0` minified list (`Composer\MetadataMinifier\MetadataMinifier::minify`).

use serde_json::{Map, Value};

use crate::db::entities::package_versions;

/// What a version's `dist` points at.
pub struct Dist {
    pub url: String,
    pub sha1: String,
}

/// A valid Composer package name: `vendor/name`, lowercase (composer's
/// `ValidatingArrayLoader::hasPackageNamingError`).
pub fn is_valid_package_name(name: &str) -> bool {
    static PATTERN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[a-z0-9]([_.-]?[a-z0-9]+)*/[a-z0-9](([_.]|-{1,2})?[a-z0-9]+)*$")
            .expect("package name pattern")
    });
    name.len() <= 200 && PATTERN.is_match(name)
}

/// The full entry Composer reads for one version: every field of composer.json, with name,
/// version, version_normalized, time and dist set by the server.
pub fn version_entry(
    package_name: &str,
    version: &package_versions::Model,
    dist: Option<Dist>,
) -> Map<String, Value> {
    let mut entry = match &version.metadata {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    // A null would read as "unset" after minification: leave such keys out.
    entry.retain(|_, value| !value.is_null());
    entry.insert("name".into(), package_name.into());
    entry.insert("version".into(), version.version.clone().into());
    entry.insert(
        "version_normalized".into(),
        version.version_normalized.clone().into(),
    );
    if !entry.get("time").is_some_and(Value::is_string) {
        entry.insert(
            "time".into(),
            version
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
                .into(),
        );
    }
    entry.remove("source");
    match dist {
        Some(dist) => {
            entry.insert(
                "dist".into(),
                serde_json::json!({
                    "type": "zip",
                    "url": dist.url,
                    "reference": dist.sha1,
                    "shasum": dist.sha1,
                }),
            );
        }
        None => {
            entry.remove("dist");
        }
    }
    entry
}

/// `MetadataMinifier::minify`: the first entry whole, each next one only with what changed
/// from the one before, removed keys as `"__unset"`.
pub fn minify(versions: Vec<Map<String, Value>>) -> Vec<Value> {
    let mut out = Vec::with_capacity(versions.len());
    let mut last: Option<Map<String, Value>> = None;
    for version in versions {
        let Some(known) = last.as_mut() else {
            out.push(Value::Object(version.clone()));
            last = Some(version);
            continue;
        };
        let mut minified = Map::new();
        for (key, value) in &version {
            if known.get(key) != Some(value) {
                minified.insert(key.clone(), value.clone());
                known.insert(key.clone(), value.clone());
            }
        }
        let removed: Vec<String> = known
            .keys()
            .filter(|key| !version.contains_key(*key))
            .cloned()
            .collect();
        for key in removed {
            minified.insert(key.clone(), "__unset".into());
            known.remove(&key);
        }
        out.push(Value::Object(minified));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    /// The expansion Composer does (`MetadataMinifier::expand`), to prove a round trip.
    fn expand(versions: &[Value]) -> Vec<Map<String, Value>> {
        let mut expanded = Vec::new();
        let mut current = Map::new();
        for version in versions {
            for (key, value) in version.as_object().unwrap() {
                if value == "__unset" {
                    current.remove(key);
                } else {
                    current.insert(key.clone(), value.clone());
                }
            }
            expanded.push(current.clone());
        }
        expanded
    }

    #[test]
    fn minifies_and_expands_back() {
        let versions = vec![
            map(json!({"name":"a/b","version":"2.0.0","require":{"php":">=8.1"},"bin":["x"]})),
            map(json!({"name":"a/b","version":"1.1.0","require":{"php":">=8.1"}})),
            map(
                json!({"name":"a/b","version":"1.0.0","require":{"php":">=7.4"},"suggest":{"c/d":"e"}}),
            ),
        ];
        let minified = minify(versions.clone());
        assert_eq!(minified[1], json!({"version":"1.1.0","bin":"__unset"}));
        assert_eq!(
            minified[2],
            json!({"version":"1.0.0","require":{"php":">=7.4"},"suggest":{"c/d":"e"}})
        );
        assert_eq!(expand(&minified), versions);
    }

    #[test]
    fn package_names() {
        for good in [
            "acme/pkg",
            "acme-corp/my_pkg",
            "a1/b.c",
            "psr/http-message",
            "x/a--b",
        ] {
            assert!(is_valid_package_name(good), "{good}");
        }
        for bad in [
            "Acme/Pkg",
            "acme",
            "acme/",
            "/pkg",
            "acme/pkg/x",
            "acme/../x",
            "acme/-x",
        ] {
            assert!(!is_valid_package_name(bad), "{bad}");
        }
    }
}
