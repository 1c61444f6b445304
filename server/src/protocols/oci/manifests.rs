//! Manifests: reading (with kept answers), pushing and deleting them.

use super::*;

/// A manifest by tag or digest (cached briefly; writes through this replica invalidate).
pub(super) async fn find_manifest(
    ctx: &Ctx,
    package: &packages::Model,
    reference: &str,
) -> Result<Option<oci_manifests::Model>, OciError> {
    let key = (package.id, reference.to_owned());
    if let Some(found) = ctx.state.manifest_cache.get(&key).await {
        return Ok(found);
    }
    let found = find_manifest_uncached(ctx, package, reference).await?;
    ctx.state.manifest_cache.insert(key, found.clone()).await;
    Ok(found)
}

pub(super) async fn find_manifest_uncached(
    ctx: &Ctx,
    package: &packages::Model,
    reference: &str,
) -> Result<Option<oci_manifests::Model>, OciError> {
    Ok(images::find_manifest(&ctx.state.db, package.id, reference).await?)
}

pub(super) async fn read_all(ctx: &Ctx, sha256: &str) -> Result<Bytes, OciError> {
    let mut stream = ctx
        .state
        .blobs
        .read(sha256)
        .await
        .map_err(Error::internal)?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(Error::internal)?);
    }
    Ok(Bytes::from(bytes))
}

/// Whether the request's `Accept` admits `media_type`: no `Accept` (or an empty one)
/// admits anything; otherwise a listed type, `type/*` or `*/*` without `q=0`.
pub(super) fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    let mut ranges = headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|r| !r.trim().is_empty())
        .peekable();
    if ranges.peek().is_none() {
        return true;
    }
    let wanted = media_type.to_ascii_lowercase();
    let kind = wanted.split('/').next().unwrap_or("");
    ranges.any(|range| {
        let mut parts = range.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused
            && (name == wanted
                || name == "*/*"
                || name.strip_suffix("/*").is_some_and(|k| k == kind))
    })
}

impl ManifestAnswer {
    /// A GET of the manifest by `reference`, from `peer`: a pull of the image.
    pub(super) fn count_pull(&self, ctx: &Ctx, reference: &str, peer: Option<String>) {
        let who = Downloader {
            address: peer,
            ..self.who.clone()
        };
        ctx.state
            .downloads
            .image_pull(self.package_id, reference, valid_digest(reference), &who);
    }

    pub(super) fn response(&self, head: bool) -> Response {
        let body = if head {
            Body::empty()
        } else {
            Body::from(self.body.clone())
        };
        let mut response = Response::new(body);
        let h = response.headers_mut();
        h.insert(CONTENT_TYPE, self.media_type.clone());
        h.insert(CONTENT_LENGTH, HeaderValue::from(self.size));
        h.insert("Docker-Content-Digest", self.digest.clone());
        h.insert(http::header::ETAG, self.etag.clone());
        response
    }
}

/// The request a manifest answer is kept by: credentials, path and `Accept`.
pub(super) fn answer_key(headers: &HeaderMap, path: &str) -> String {
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let mut parts = vec![auth, path.as_bytes()];
    parts.extend(
        headers
            .get_all(http::header::ACCEPT)
            .iter()
            .map(|v| v.as_bytes()),
    );
    crate::protocols::request_key(&parts)
}

pub(super) async fn get_manifest(
    ctx: &Ctx,
    package: &packages::Model,
    reference: &str,
    headers: &HeaderMap,
    head: bool,
    who: Downloader,
) -> Result<ManifestAnswer, OciError> {
    let manifest = find_manifest(ctx, package, reference)
        .await?
        .ok_or_else(|| manifest_unknown(reference))?;
    if !accepts(headers, &manifest.media_type) {
        // As the reference registry: no conversion between formats, and a client that
        // cannot read the stored one is told the manifest is unknown to it.
        return Err(OciError::new(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            format!(
                "manifest {reference} is {}, which the Accept header does not include",
                manifest.media_type
            ),
        ));
    }
    let body = if head {
        Bytes::new()
    } else if let Some(bytes) = ctx.state.manifest_bytes.get(&manifest.blob_sha256).await {
        bytes
    } else {
        let bytes = read_all(ctx, &manifest.blob_sha256).await?;
        ctx.state
            .manifest_bytes
            .insert(manifest.blob_sha256.clone(), bytes.clone())
            .await;
        bytes
    };
    let invalid = |_| Error::internal(anyhow::anyhow!("a stored manifest's header is not valid"));
    Ok(ManifestAnswer {
        media_type: HeaderValue::from_str(&manifest.media_type).map_err(invalid)?,
        digest: HeaderValue::from_str(&manifest.digest).map_err(invalid)?,
        etag: HeaderValue::from_str(&format!("\"{}\"", manifest.digest)).map_err(invalid)?,
        size: manifest.size as u64,
        body,
        package_id: package.id,
        who,
        valid_until: None,
    })
}

pub(super) async fn put_manifest(
    ctx: &Ctx,
    access: &Access,
    target: &ImageName,
    reference: &str,
    headers: &HeaderMap,
    body: Body,
) -> Outcome {
    let invalid =
        |message: String| OciError::new(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", message);
    let is_digest = valid_digest(reference);
    if !is_digest && !TAG.is_match(reference) {
        // The specification's codes only: a malformed digest is DIGEST_INVALID, a
        // malformed tag makes the manifest's reference invalid.
        return Err(if reference.contains(':') {
            OciError::new(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                format!("invalid digest {reference}"),
            )
        } else {
            invalid(format!(
                "invalid tag {reference}: up to 128 of [A-Za-z0-9_.-], not starting with . or -"
            ))
        });
    }
    let bytes = axum::body::to_bytes(body, MANIFEST_LIMIT)
        .await
        .map_err(|err| {
            if crate::protocols::body_too_large(&err) {
                OciError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "MANIFEST_INVALID",
                    format!("manifests are limited to {MANIFEST_LIMIT} bytes"),
                )
            } else {
                from_error(Error::body(&err), "MANIFEST_INVALID", None)
            }
        })?;
    let manifest: Value = serde_json::from_slice(&bytes)
        .map_err(|err| invalid(format!("the manifest is not JSON: {err}")))?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
    let media_type = content_type
        .or_else(|| {
            manifest
                .get("mediaType")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .ok_or_else(|| invalid("no media type: send Content-Type or mediaType".into()))?;
    if !MANIFEST_TYPES.contains(&media_type.as_str()) {
        return Err(invalid(format!(
            "unsupported manifest media type {media_type}"
        )));
    }
    if let Some(inner) = manifest.get("mediaType").and_then(Value::as_str) {
        if inner != media_type {
            return Err(invalid(format!(
                "Content-Type {media_type} differs from mediaType {inner}"
            )));
        }
    }
    if manifest.get("schemaVersion").and_then(Value::as_i64) != Some(2) {
        return Err(invalid("schemaVersion must be 2".into()));
    }
    let package = ensure_image(ctx, target).await?;
    let (blobs, children) = descriptor_digests(&manifest);
    if (media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST)
        && manifest.get("config").is_none()
    {
        return Err(invalid("an image manifest needs a config".into()));
    }
    // Renewed before they are checked: a collection that has not removed them yet will not.
    renew_held(ctx, &package, &blobs).await?;
    let held = held_among(ctx, &package, &blobs).await?;
    for digest in &blobs {
        if !valid_digest(digest) || !held.contains(digest) {
            return Err(OciError::new(
                StatusCode::BAD_REQUEST,
                "MANIFEST_BLOB_UNKNOWN",
                format!("blob unknown to registry: {digest}"),
            ));
        }
    }
    for digest in &children {
        if !valid_digest(digest) || find_manifest(ctx, &package, digest).await?.is_none() {
            return Err(OciError::new(
                StatusCode::BAD_REQUEST,
                "MANIFEST_BLOB_UNKNOWN",
                format!("manifest unknown to registry: {digest}"),
            ));
        }
    }
    // The exact bytes, named by their digest: refused before anything is written when the
    // reference is a digest they do not have.
    use sha2::Digest as _;
    let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    let digest = if is_digest && reference.starts_with("sha512:") {
        format!("sha512:{}", hex::encode(sha2::Sha512::digest(&bytes)))
    } else {
        format!("sha256:{sha256}")
    };
    if is_digest && digest != reference {
        return Err(OciError::new(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("the manifest's digest is {digest}, not {reference}"),
        ));
    }
    // Stored already (a re-push, another tag): the blob's time is renewed, which keeps it
    // from garbage collection as a new commit would, and nothing is written again.
    if !renew_blob(ctx, &sha256).await? {
        let mut staging = ctx
            .state
            .blobs
            .stage_hashing(MANIFEST_LIMIT as u64, Hashes::Sha256)
            .await
            .map_err(Error::internal)?;
        staging
            .write(&bytes)
            .await
            .map_err(|e| Error::internal(anyhow::anyhow!(e.to_string())))?;
        let staged = staging.finish().await.map_err(Error::internal)?;
        commit_blob(ctx, &staged).await?;
    }
    let subject = manifest
        .get("subject")
        .and_then(|s| s.get("digest"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let artifact_type = manifest
        .get("artifactType")
        .and_then(Value::as_str)
        .or_else(|| {
            manifest
                .get("config")
                .and_then(|c| c.get("mediaType"))
                .and_then(Value::as_str)
        })
        .map(str::to_owned);
    images::put_manifest(
        &ctx.state.db,
        &package,
        images::NewManifest {
            digest: &digest,
            media_type: &media_type,
            blob_sha256: &sha256,
            size: bytes.len() as i64,
            subject: subject.as_deref(),
            artifact_type: artifact_type.as_deref(),
            annotations: manifest.get("annotations").cloned(),
        },
        (!is_digest).then_some(reference),
        &Actor::from_principal(&access.principal, None),
        &target.name,
    )
    .await?;
    ctx.state.forget_packages();
    let mut response = StatusCode::CREATED.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/{}/manifests/{digest}", target.name)) {
        h.insert(LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&digest) {
        h.insert("Docker-Content-Digest", v);
    }
    if let Some(subject) = subject.and_then(|s| HeaderValue::from_str(&s).ok()) {
        h.insert("OCI-Subject", subject);
    }
    Ok(response)
}

pub(super) async fn delete_manifest(
    ctx: &Ctx,
    access: &Access,
    target: &ImageName,
    package: Option<packages::Model>,
    reference: &str,
) -> Outcome {
    let package = package.ok_or_else(|| manifest_unknown(reference))?;
    let deleted = images::delete_manifest(
        &ctx.state.db,
        &package,
        reference,
        &Actor::from_principal(&access.principal, None),
        &target.name,
    )
    .await?;
    if !deleted {
        return Err(manifest_unknown(reference));
    }
    ctx.state.forget_packages();
    Ok(StatusCode::ACCEPTED.into_response())
}
