//! Container images (OCI distribution and image specifications): media types, digests,
//! and what a manifest names.

use serde_json::Value;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The manifest media types a registry stores.
pub const MANIFEST_TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// `sha256:…` or `sha512:…` with the right length of lowercase hex.
pub fn valid_digest(digest: &str) -> bool {
    match digest.split_once(':') {
        Some(("sha256", hex)) => {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        Some(("sha512", hex)) => {
            hex.len() == 128
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        _ => false,
    }
}

/// A non-distributable layer fetched from its own `urls` (Windows base layers): clients
/// never push it, so a manifest naming one is accepted without it, as the reference
/// registries do. Other layers must have been pushed.
pub fn is_foreign(layer: &Value) -> bool {
    let media_type = layer.get("mediaType").and_then(Value::as_str).unwrap_or("");
    let non_distributable = media_type
        .starts_with("application/vnd.oci.image.layer.nondistributable.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.foreign.");
    let has_urls = layer
        .get("urls")
        .and_then(Value::as_array)
        .is_some_and(|urls| {
            urls.iter()
                .any(|u| u.as_str().is_some_and(|u| !u.is_empty()))
        });
    non_distributable && has_urls
}

/// The blobs (config and distributable layers) and the child manifests a manifest names.
pub fn descriptor_digests(manifest: &Value) -> (Vec<String>, Vec<String>) {
    let mut blobs = Vec::new();
    let mut children = Vec::new();
    if let Some(config) = manifest
        .get("config")
        .and_then(|c| c.get("digest"))
        .and_then(Value::as_str)
    {
        blobs.push(config.to_owned());
    }
    for layer in manifest
        .get("layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if is_foreign(layer) {
            continue;
        }
        if let Some(d) = layer.get("digest").and_then(Value::as_str) {
            blobs.push(d.to_owned());
        }
    }
    for child in manifest
        .get("manifests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(d) = child.get("digest").and_then(Value::as_str) {
            children.push(d.to_owned());
        }
    }
    (blobs, children)
}
