//! Blob uploads: monolithic and chunked, resumable across replicas and restarts.

use super::*;

pub(super) fn upload_location(target: &ImageName, id: Uuid) -> String {
    format!("/v2/{}/blobs/uploads/{id}", target.name)
}

pub(super) fn upload_headers(
    response: &mut Response,
    target: &ImageName,
    upload: &oci_uploads::Model,
) {
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&upload_location(target, upload.id)) {
        h.insert(LOCATION, v);
    }
    let end = (upload.size - 1).max(0);
    if let Ok(v) = HeaderValue::from_str(&format!("0-{end}")) {
        h.insert(RANGE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&upload.id.to_string()) {
        h.insert("Docker-Upload-UUID", v);
    }
    h.insert(CONTENT_LENGTH, HeaderValue::from(0));
}

pub(super) async fn blob_created(target: &ImageName, digest: &str) -> Outcome {
    let mut response = StatusCode::CREATED.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/{}/blobs/{digest}", target.name)) {
        h.insert(LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(digest) {
        h.insert("Docker-Content-Digest", v);
    }
    Ok(response)
}

pub(super) async fn start_upload(
    ctx: &Ctx,
    access: &Access,
    target: &ImageName,
    query: &HashMap<String, String>,
    body: Body,
) -> Outcome {
    // Cross-repository mount, when the caller may read the source; else a normal upload.
    if let (Some(digest), Some(from)) = (query.get("mount"), query.get("from")) {
        if valid_digest(digest) {
            if let Ok(source) = resolve(ctx, access, from, &Method::GET).await {
                if let Some(source_package) = image_package(ctx, &source).await? {
                    let readable = access
                        .permissions(
                            &source.repository,
                            PackageScope::Package(&source_package.name),
                        )
                        .contains(Permission::Download);
                    if readable {
                        if let Some(held) = find_held(ctx, &source_package, digest).await? {
                            let package = ensure_image(ctx, target).await?;
                            hold_blob(ctx, &package, digest, &held.blob_sha256, held.size).await?;
                            return blob_created(target, digest).await;
                        }
                    }
                }
            }
        }
    }
    if let Some(digest) = query.get("digest") {
        // Monolithic upload in a single POST.
        let algorithm = digest.split(':').next().unwrap_or("");
        if !valid_digest(digest) {
            return Err(OciError::new(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                format!("invalid digest {digest}"),
            ));
        }
        let staged = stage_body(
            ctx,
            body,
            ctx.state.config.max_body_size,
            hashes_for(digest),
        )
        .await?;
        let actual = digest_of(&staged, algorithm);
        if &actual != digest {
            return Err(digest_mismatch(&actual, digest));
        }
        commit_blob(ctx, &staged).await?;
        let package = ensure_image(ctx, target).await?;
        hold_blob(ctx, &package, digest, &staged.sha256, staged.size as i64).await?;
        return blob_created(target, digest).await;
    }
    let upload = upload_service::start(&ctx.state.db, target.repository.id, &target.image).await?;
    let mut response = StatusCode::ACCEPTED.into_response();
    upload_headers(&mut response, target, &upload);
    Ok(response)
}

pub(super) async fn find_upload(
    ctx: &Ctx,
    target: &ImageName,
    id: &str,
) -> Result<oci_uploads::Model, OciError> {
    let uuid = Uuid::parse_str(id).map_err(|_| upload_unknown(id))?;
    upload_service::find(&ctx.state.db, target.repository.id, &target.image, uuid)
        .await?
        .ok_or_else(|| upload_unknown(id))
}

pub(super) fn upload_status(target: &ImageName, upload: &oci_uploads::Model) -> Outcome {
    let mut response = StatusCode::NO_CONTENT.into_response();
    upload_headers(&mut response, target, upload);
    Ok(response)
}

pub(super) fn part_key(upload: Uuid, index: i32) -> String {
    format!("uploads/{upload}/{index:08}")
}

/// Append a chunk as the next part of an upload; `expected_start` from Content-Range.
pub(super) async fn append_part(
    ctx: &Ctx,
    upload: oci_uploads::Model,
    body: Body,
) -> Result<oci_uploads::Model, OciError> {
    let remaining = ctx
        .state
        .config
        .max_body_size
        .saturating_sub(upload.size as u64);
    // The first part is hashed as it arrives: most clients send a blob in one PATCH, and
    // the closing PUT then needs no second pass over the bytes.
    let first = upload.parts == 0;
    let hashes = if first { Hashes::Sha256 } else { Hashes::None };
    let staged = stage_body(ctx, body, remaining, hashes).await?;
    if staged.size == 0 {
        return Ok(upload);
    }
    // Claim this part's place: only the one request that moves the upload on from the
    // state it read wins; a chunk sent at the same time loses and is refused, so a part's
    // bytes and the digest recorded for them always come from the same request.
    let single_part_sha256 = first.then(|| staged.sha256.clone());
    let Some(claimed) = upload_service::claim_part(
        &ctx.state.db,
        &upload,
        staged.size as i64,
        single_part_sha256,
    )
    .await?
    else {
        return Err(OciError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "BLOB_UPLOAD_INVALID",
            "another chunk of this upload arrived at the same time; ask for the upload's \
             state (GET) and send what follows it",
        ));
    };
    let key = part_key(upload.id, upload.parts);
    if let Err(err) = ctx.state.blobs.commit_as(&staged, &key).await {
        // Give the place back, so the client may send the chunk again.
        let _ = upload_service::give_back(&ctx.state.db, &upload, &claimed).await;
        return Err(Error::internal(err).into());
    }
    Ok(claimed)
}

pub(super) async fn patch_upload(
    ctx: &Ctx,
    target: &ImageName,
    upload: oci_uploads::Model,
    headers: &HeaderMap,
    body: Body,
) -> Outcome {
    if let Some(refused) = out_of_order(target, &upload, headers) {
        return Ok(refused);
    }
    let upload = append_part(ctx, upload, body).await?;
    let mut response = StatusCode::ACCEPTED.into_response();
    upload_headers(&mut response, target, &upload);
    Ok(response)
}

/// 416 for a chunk whose `Content-Range` does not continue the upload where it stands.
pub(super) fn out_of_order(
    target: &ImageName,
    upload: &oci_uploads::Model,
    headers: &HeaderMap,
) -> Option<Response> {
    let range = headers.get(CONTENT_RANGE)?.to_str().ok();
    let start = range.and_then(|range| {
        range
            .trim()
            .trim_start_matches("bytes ")
            .split('-')
            .next()
            .and_then(|s| s.trim().parse::<i64>().ok())
    });
    if start == Some(upload.size) {
        return None;
    }
    let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
    upload_headers(&mut response, target, upload);
    let body = json!({ "errors": [{ "code": "BLOB_UPLOAD_INVALID", "message": format!("chunk out of order: the upload has {} bytes", upload.size), "detail": {} }] });
    *response.body_mut() = Body::from(body.to_string());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().remove(CONTENT_LENGTH);
    Some(response)
}

pub(super) async fn finish_upload(
    ctx: &Ctx,
    target: &ImageName,
    upload: oci_uploads::Model,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> Outcome {
    // A closing chunk must continue the upload too (distribution-spec: 416 otherwise).
    if let Some(refused) = out_of_order(target, &upload, headers) {
        return Ok(refused);
    }
    let digest = query
        .get("digest")
        .filter(|d| valid_digest(d))
        .ok_or_else(|| {
            OciError::new(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                "give the blob's digest: ?digest=sha256:…",
            )
        })?
        .clone();
    let staged = if upload.parts == 0 {
        // The whole blob in this request (POST, then PUT): stage and hash it directly.
        stage_body(
            ctx,
            body,
            ctx.state.config.max_body_size,
            hashes_for(&digest),
        )
        .await?
    } else {
        let upload = append_part(ctx, upload.clone(), body).await?;
        if let (1, Some(sha256), Some(wanted)) = (
            upload.parts,
            upload.single_part_sha256.as_deref(),
            digest.strip_prefix("sha256:"),
        ) {
            // One part, hashed when it arrived: verify and promote it as it is.
            if sha256 != wanted {
                return Err(digest_mismatch(&format!("sha256:{sha256}"), &digest));
            }
            {
                let _turn = package_service::write_turn(&ctx.state.db).await;
                package_service::ensure_blob_digest(&ctx.state.db, sha256, upload.size).await?;
                ctx.state
                    .blobs
                    .promote(&part_key(upload.id, 0), sha256, upload.size as u64)
                    .await
                    .map_err(Error::internal)?;
            }
            let package = ensure_image(ctx, target).await?;
            hold_blob(ctx, &package, &digest, sha256, upload.size).await?;
            return close_upload(ctx, target, &upload, &digest).await;
        }
        assemble(ctx, &upload, hashes_for(&digest)).await?
    };
    let actual = digest_of(&staged, digest.split(':').next().unwrap_or("sha256"));
    if actual != digest {
        return Err(digest_mismatch(&actual, &digest));
    }
    commit_blob(ctx, &staged).await?;
    let package = ensure_image(ctx, target).await?;
    hold_blob(ctx, &package, &digest, &staged.sha256, staged.size as i64).await?;
    close_upload(ctx, target, &upload, &digest).await
}

/// The upload became a blob: forget the session and its parts.
pub(super) async fn close_upload(
    ctx: &Ctx,
    target: &ImageName,
    upload: &oci_uploads::Model,
    digest: &str,
) -> Outcome {
    upload_service::forget(&ctx.state.db, upload.id).await?;
    ctx.state
        .blobs
        .delete_prefix(&format!("uploads/{}", upload.id))
        .await
        .map_err(Error::internal)?;
    blob_created(target, digest).await
}

/// The parts of an upload, in order, hashed into one staged file.
pub(super) async fn assemble(
    ctx: &Ctx,
    upload: &oci_uploads::Model,
    hashes: Hashes,
) -> Result<Staged, OciError> {
    let mut staging = ctx
        .state
        .blobs
        .stage_hashing(ctx.state.config.max_body_size, hashes)
        .await
        .map_err(Error::internal)?;
    for index in 0..upload.parts {
        let mut stream = ctx
            .state
            .blobs
            .read_key(&part_key(upload.id, index))
            .await
            .map_err(Error::internal)?;
        while let Some(chunk) = stream.next().await {
            staging
                .write(&chunk.map_err(Error::internal)?)
                .await
                .map_err(|e| {
                    from_error(
                        Error::internal(anyhow::anyhow!(e.to_string())),
                        "UNKNOWN",
                        None,
                    )
                })?;
        }
    }
    Ok(staging.finish().await.map_err(Error::internal)?)
}

pub(super) async fn cancel_upload(ctx: &Ctx, upload: oci_uploads::Model) -> Outcome {
    upload_service::forget(&ctx.state.db, upload.id).await?;
    ctx.state
        .blobs
        .delete_prefix(&format!("uploads/{}", upload.id))
        .await
        .map_err(Error::internal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
