//! Composer uploads, whoever sends them (the protocol, GraphQL, imports from Git): a
//! checked archive and its composer.json made into the version to publish.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::formats::composer::{archive, version};
use crate::services::packages::NewVersion;

/// Check an inspected archive against the URL and turn it into a version to publish.
pub fn prepare<'a>(
    package_name: &'a str,
    contents: archive::Contents,
    version: Option<String>,
    staged: &'a crate::storage::Staged,
    overwrite: bool,
) -> Result<NewVersion<'a>> {
    let mut composer_json = contents.composer_json;
    match composer_json.get("name").and_then(Value::as_str) {
        None => {
            return Err(Error::bad_input(
                "composer.json has no \"name\"; it must be the package name of the URL",
            ))
        }
        Some(name) if name != package_name => {
            return Err(Error::bad_input(format!(
            "composer.json names the package \"{name}\" but it is uploaded as \"{package_name}\""
        )))
        }
        Some(_) => {}
    }
    let version = match version {
        Some(version) => version,
        None => composer_json
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::bad_input(
                    "no version: send the field \"version\" or set \"version\" in composer.json",
                )
            })?,
    };
    let version = version.trim().to_owned();
    let normalized =
        version::normalize(&version).map_err(|err| Error::bad_input(err.to_string()))?;
    if version.len() > 200 || (version.contains(['/', '\\']) && !version.starts_with("dev-")) {
        return Err(Error::bad_input(format!("invalid version \"{version}\"")));
    }
    composer_json.insert("version".into(), version.clone().into());
    let description = composer_json
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(1000)
        .collect();
    Ok(NewVersion {
        package_name,
        description,
        version,
        version_normalized: normalized,
        metadata: Value::Object(composer_json),
        readme: contents.readme,
        file_name: "dist.zip".into(),
        media_type: "application/zip",
        file: staged,
        overwrite,
    })
}
