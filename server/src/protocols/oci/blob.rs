//! Blobs: staging and committing them, their links to images, reading and deleting them.

use super::*;

/// The digests to compute for content named by `digest` (`sha256:` or `sha512:`).
pub(super) fn hashes_for(digest: &str) -> Hashes {
    if digest.starts_with("sha512:") {
        Hashes::Sha256AndSha512
    } else {
        Hashes::Sha256
    }
}

pub(super) async fn stage_body(
    ctx: &Ctx,
    body: Body,
    limit: u64,
    hashes: Hashes,
) -> Result<Staged, OciError> {
    let mut staging = ctx
        .state
        .blobs
        .stage_hashing(limit, hashes)
        .await
        .map_err(Error::internal)?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| match Error::body(&err) {
            Error::RequestTimeout(message) => {
                OciError::new(StatusCode::REQUEST_TIMEOUT, "BLOB_UPLOAD_INVALID", message)
            }
            other => OciError::new(
                StatusCode::BAD_REQUEST,
                "BLOB_UPLOAD_INVALID",
                other.to_string(),
            ),
        })?;
        staging.write(&chunk).await.map_err(|err| match err {
            StageError::TooLarge(limit) => OciError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SIZE_INVALID",
                format!("larger than the limit of {limit} bytes"),
            ),
            StageError::Io(err) => from_error(Error::internal(err), "UNKNOWN", None),
        })?;
    }
    Ok(staging.finish().await.map_err(Error::internal)?)
}

pub(super) async fn ensure_image(
    ctx: &Ctx,
    target: &ImageName,
) -> Result<packages::Model, OciError> {
    let now = Utc::now();
    package_service::ensure_package(&ctx.state.db, target.repository.id, &target.image, "", now)
        .await?;
    // A reader may have cached "no such image" a moment ago.
    ctx.state.forget_packages();
    Ok(
        package_service::find(&ctx.state.db, target.repository.id, &target.image)
            .await?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("image row vanished")))?,
    )
}

/// Record that an image holds a committed blob.
pub(super) async fn hold_blob(
    ctx: &Ctx,
    package: &packages::Model,
    digest: &str,
    staged_sha256: &str,
    size: i64,
) -> Result<(), OciError> {
    Ok(images::hold_blob(&ctx.state.db, package.id, digest, staged_sha256, size).await?)
}

pub(super) async fn commit_blob(ctx: &Ctx, staged: &Staged) -> Result<(), OciError> {
    let _turn = package_service::write_turn(&ctx.state.db).await;
    package_service::store_blob(&ctx.state.db, &ctx.state.blobs, staged).await?;
    Ok(())
}

/// Renew the commit time of a stored blob, if there is one: true when it is stored. A
/// garbage collection that has not yet removed it will then spare it (it removes only
/// blobs older than its grace period, each with one conditional delete).
pub(super) async fn renew_blob(ctx: &Ctx, sha256: &str) -> Result<bool, OciError> {
    Ok(images::renew_stored(&ctx.state.db, sha256).await?)
}

/// Renew the time of the image's links to `digests` (see [`renew_blob`]).
pub(super) async fn renew_held(
    ctx: &Ctx,
    package: &packages::Model,
    digests: &[String],
) -> Result<(), OciError> {
    Ok(images::renew_held(&ctx.state.db, package.id, digests).await?)
}

/// Which of `digests` the image holds.
pub(super) async fn held_among(
    ctx: &Ctx,
    package: &packages::Model,
    digests: &[String],
) -> Result<std::collections::HashSet<String>, OciError> {
    Ok(images::held_among(&ctx.state.db, package.id, digests).await?)
}

pub(super) async fn find_held(
    ctx: &Ctx,
    package: &packages::Model,
    digest: &str,
) -> Result<Option<oci_blobs::Model>, OciError> {
    Ok(images::find_held(&ctx.state.db, package.id, digest).await?)
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` within `size`.
pub(super) fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, size.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(size.checked_sub(1)?),
        ),
    };
    (start <= end && end < size).then_some((start, end))
}

pub(super) async fn get_blob(
    ctx: &Ctx,
    package: Option<packages::Model>,
    digest: &str,
    headers: &HeaderMap,
    head: bool,
) -> Outcome {
    if !valid_digest(digest) {
        return Err(OciError::new(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("invalid digest {digest}"),
        ));
    }
    let package = package.ok_or_else(|| blob_unknown(digest))?;
    let held = match find_held(ctx, &package, digest).await? {
        Some(held) => held,
        // Manifests are blobs too.
        None => {
            let manifest = find_manifest(ctx, &package, digest)
                .await?
                .ok_or_else(|| blob_unknown(digest))?;
            oci_blobs::Model {
                id: manifest.id,
                package_id: package.id,
                digest: manifest.digest,
                blob_sha256: manifest.blob_sha256,
                size: manifest.size,
                created_at: manifest.created_at,
            }
        }
    };
    let size = held.size as u64;
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok());
    let mut response = match range {
        Some(value) if !head => {
            let Some((start, end)) = parse_range(value, size) else {
                let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert(CONTENT_RANGE, v);
                }
                return Ok(response);
            };
            let stream = ctx
                .state
                .blobs
                .read_range(&held.blob_sha256, start, end - start + 1)
                .await
                .map_err(Error::internal)?;
            let mut response = Response::new(Body::from_stream(stream));
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = response.headers_mut();
            h.insert(CONTENT_LENGTH, HeaderValue::from(end - start + 1));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
                h.insert(CONTENT_RANGE, v);
            }
            response
        }
        _ => {
            let body = if head {
                Body::empty()
            } else {
                Body::from_stream(
                    ctx.state
                        .blobs
                        .read(&held.blob_sha256)
                        .await
                        .map_err(Error::internal)?,
                )
            };
            let mut response = Response::new(body);
            response
                .headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(size));
            response
        }
    };
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert("Accept-Ranges", HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(digest) {
        h.insert("Docker-Content-Digest", v);
    }
    Ok(response)
}

pub(super) async fn delete_blob(
    ctx: &Ctx,
    package: Option<packages::Model>,
    digest: &str,
) -> Outcome {
    if !valid_digest(digest) {
        return Err(OciError::new(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("invalid digest {digest}"),
        ));
    }
    let package = package.ok_or_else(|| blob_unknown(digest))?;
    if !images::release_blob(&ctx.state.db, package.id, digest).await? {
        return Err(blob_unknown(digest));
    }
    ctx.state.forget_packages();
    Ok(StatusCode::ACCEPTED.into_response())
}
