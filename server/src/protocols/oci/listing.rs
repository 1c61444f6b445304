//! Listing: `_catalog`, an image's tags, and the referrers of a manifest.

use super::*;

/// `n` of a paged list: `default` when absent, at most `max`.
fn page_size(query: &HashMap<String, String>, default: u64, max: u64) -> Result<u64, OciError> {
    Ok(match query.get("n") {
        Some(n) => n.parse::<u64>().map_err(|_| {
            OciError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED", "n must be a number")
        })?,
        None => default,
    }
    .min(max))
}

/// Cut a page read one longer than `n` back to `n`, and the `Link` to the next page when
/// there is one.
fn next_link(items: &mut Vec<String>, n: u64, path: &str) -> Option<String> {
    if items.len() as u64 <= n {
        return None;
    }
    items.truncate(n as usize);
    items.last().map(|last| {
        format!(
            "<{path}?n={n}&last={}>; rel=\"next\"",
            crate::protocols::encode_segment(last)
        )
    })
}

/// Names per `_catalog` page unless `n` asks otherwise, and the most `n` may ask for.
pub(super) const CATALOG_PAGE: u64 = 100;

pub(super) const CATALOG_PAGE_MAX: u64 = 1000;

/// Tags per page of an image's tag list unless `n` asks otherwise (clients follow the
/// `Link` to the rest), and the most `n` may ask for.
const TAGS_PAGE: u64 = 1000;
const TAGS_PAGE_MAX: u64 = 10_000;

/// `_catalog`: the images the caller may list, `repository/image` in order, a page at a
/// time after `last` (each repository's images read by name, from the index, only as far
/// as the page needs).
pub(super) async fn catalog(
    ctx: &Ctx,
    access: &Access,
    query: &HashMap<String, String>,
) -> Outcome {
    let n = page_size(query, CATALOG_PAGE, CATALOG_PAGE_MAX)?;
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
            catalog::Start::After(after),
            wanted,
        )
        .await?
        {
            names.push(format!("{prefix}{}", package.name));
        }
    }
    let link = next_link(&mut names, n, "/v2/_catalog");
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
    let n = page_size(query, TAGS_PAGE, TAGS_PAGE_MAX)?;
    let last = query.get("last").map(String::as_str);
    // One more than asked tells whether a next page exists.
    let mut tags = images::tag_names(&ctx.state.db, package.id, last, n + 1).await?;
    let link = next_link(&mut tags, n, &format!("/v2/{}/tags/list", target.name));
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
        let kind = query.get("artifactType").map(String::as_str);
        for m in images::referrers(&ctx.state.db, package.id, digest, kind).await? {
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
