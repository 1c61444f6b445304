//! Listing: `_catalog`, an image's tags, and the referrers of a manifest.

use super::*;

/// `n` and `last` of a paginated list, and the `Link` to the next page.
pub(super) fn paginate(
    mut items: Vec<String>,
    query: &HashMap<String, String>,
    path: &str,
) -> Result<(Vec<String>, Option<String>), OciError> {
    items.sort();
    items.dedup();
    if let Some(last) = query.get("last") {
        items.retain(|i| i.as_str() > last.as_str());
    }
    let n = match query.get("n") {
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            OciError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED", "n must be a number")
        })?),
        None => None,
    };
    match n {
        Some(n) if items.len() > n => {
            items.truncate(n);
            let last = items.last().cloned().unwrap_or_default();
            Ok((
                items,
                Some(format!(
                    "<{path}?n={n}&last={}>; rel=\"next\"",
                    crate::protocols::encode_segment(&last)
                )),
            ))
        }
        _ => Ok((items, None)),
    }
}

/// Names per `_catalog` page unless `n` asks otherwise, and the most `n` may ask for.
pub(super) const CATALOG_PAGE: u64 = 100;

pub(super) const CATALOG_PAGE_MAX: u64 = 1000;

/// `_catalog`: the images the caller may list, `repository/image` in order, a page at a
/// time after `last` (each repository's images read by name, from the index, only as far
/// as the page needs).
pub(super) async fn catalog(
    ctx: &Ctx,
    access: &Access,
    query: &HashMap<String, String>,
) -> Outcome {
    let n = match query.get("n") {
        Some(n) => n.parse::<u64>().map_err(|_| {
            OciError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED", "n must be a number")
        })?,
        None => CATALOG_PAGE,
    }
    .min(CATALOG_PAGE_MAX);
    let last = query.get("last").map(String::as_str);
    let mut repositories: Vec<(String, repositories::Model, Listed)> = Vec::new();
    for repository in crate::services::repositories::list_visible(&ctx.state.db, access).await? {
        if repository.format() != Some(Format::Container)
            || !access
                .permissions(&repository, PackageScope::Repository)
                .contains(Permission::List)
        {
            continue;
        }
        let listed = catalog::listed(access, &repository)?;
        repositories.push((format!("{}/", repository.name), repository, listed));
    }
    repositories.sort_by(|a, b| a.0.cmp(&b.0));
    let mut names: Vec<String> = Vec::new();
    for (prefix, repository, listed) in &repositories {
        if names.len() as u64 > n {
            break;
        }
        let after = match last {
            Some(last) => match last.strip_prefix(prefix.as_str()) {
                Some(image) => Some(image),
                // Every name of this repository sorts before `last`.
                None if prefix.as_str() < last => continue,
                None => None,
            },
            None => None,
        };
        let wanted = n + 1 - names.len() as u64;
        for package in catalog::page(
            &ctx.state.db,
            repository.id,
            listed,
            &Filter::default(),
            after,
            wanted,
        )
        .await?
        {
            names.push(format!("{prefix}{}", package.name));
        }
    }
    let link = if names.len() as u64 > n {
        names.truncate(n as usize);
        names.last().map(|last| {
            format!(
                "</v2/_catalog?n={n}&last={}>; rel=\"next\"",
                crate::protocols::encode_segment(last)
            )
        })
    } else {
        None
    };
    let mut response = axum::Json(json!({ "repositories": names })).into_response();
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert("Link", link);
    }
    Ok(response)
}

pub(super) async fn tags_list(
    ctx: &Ctx,
    target: &ImageName,
    package: Option<packages::Model>,
    query: &HashMap<String, String>,
) -> Outcome {
    let package = package.ok_or_else(|| name_unknown(&target.name))?;
    let tags: Vec<String> = oci_tags::Entity::find()
        .filter(oci_tags::Column::PackageId.eq(package.id))
        .all(&ctx.state.db)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let (tags, link) = paginate(tags, query, &format!("/v2/{}/tags/list", target.name))?;
    let mut response = axum::Json(json!({ "name": target.name, "tags": tags })).into_response();
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert("Link", link);
    }
    Ok(response)
}

pub(super) async fn referrers(
    ctx: &Ctx,
    package: Option<packages::Model>,
    digest: &str,
    query: &HashMap<String, String>,
) -> Outcome {
    if !valid_digest(digest) {
        return Err(OciError::new(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("invalid digest {digest}"),
        ));
    }
    let mut manifests = Vec::new();
    if let Some(package) = package {
        let mut select = oci_manifests::Entity::find()
            .filter(oci_manifests::Column::PackageId.eq(package.id))
            .filter(oci_manifests::Column::SubjectDigest.eq(digest));
        if let Some(kind) = query.get("artifactType") {
            select = select.filter(oci_manifests::Column::ArtifactType.eq(kind.as_str()));
        }
        for m in select
            .order_by_asc(oci_manifests::Column::CreatedAt)
            .all(&ctx.state.db)
            .await?
        {
            let mut descriptor =
                json!({ "mediaType": m.media_type, "digest": m.digest, "size": m.size });
            if let Some(kind) = m.artifact_type {
                descriptor["artifactType"] = kind.into();
            }
            if let Some(annotations) = m.annotations {
                descriptor["annotations"] = annotations;
            }
            manifests.push(descriptor);
        }
    }
    let body = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests });
    let mut response = (
        StatusCode::OK,
        [(CONTENT_TYPE, OCI_INDEX)],
        body.to_string(),
    )
        .into_response();
    if query.contains_key("artifactType") {
        response.headers_mut().insert(
            "OCI-Filters-Applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(response)
}
