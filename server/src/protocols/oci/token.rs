//! `/v2/token`: Docker token authentication.

use super::*;

/// `a=b&c=d`, percent-decoded.
/// A query string's pairs, decoded as a form (`+` is a space, `%XX` a byte); any input,
/// however malformed, decodes to something.
pub(super) fn url_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `GET /v2/token?service=…&scope=repository:acme/app:pull,push…`
pub(super) async fn token(ctx: &Ctx, headers: &HeaderMap, query: &str) -> Outcome {
    let pairs = url_pairs(query);
    let (principal, hash) = match auth::basic_token_hash(headers) {
        Some(hash) => (
            ctx.state
                .tokens
                .authenticate_hash(&ctx.state.db, &hash)
                .await
                .map_err(|err| from_error(err, "UNAUTHORIZED", None))?,
            Some(hash),
        ),
        None => match auth::caller(&ctx.state, headers).await {
            Ok(principal) => (principal, None),
            Err(err) => return Err(from_error(err, "UNAUTHORIZED", None)),
        },
    };
    // A bearer Packistry token (not Basic) also identifies its holder.
    let hash = hash.or_else(|| {
        crate::auth::token::secret_from_headers(headers)
            .and_then(|r| r.ok())
            .map(|secret| crate::auth::hash_secret(&secret))
    });
    let access = ctx
        .state
        .protocol_access(principal.clone())
        .await
        .map_err(|e| from_error(e, "UNKNOWN", None))?;
    let mut granted = Vec::new();
    for scope in pairs.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v) {
        for one in scope.split(' ') {
            let mut parts = one.splitn(3, ':');
            let (Some(kind), Some(name)) = (parts.next(), parts.next()) else {
                continue;
            };
            if kind == "registry" && name == "catalog" {
                granted.push(auth::AccessEntry {
                    kind: kind.into(),
                    name: name.into(),
                    actions: vec!["*".into()],
                });
                continue;
            }
            if kind != "repository" {
                continue;
            }
            let mut actions = Vec::new();
            if let Ok(target) = resolve(ctx, &access, name, &Method::GET).await {
                let permissions =
                    access.permissions(&target.repository, PackageScope::Package(&target.image));
                if permissions.contains(Permission::Download) {
                    actions.push("pull".to_owned());
                }
                if permissions.contains(Permission::Upload) {
                    actions.push("push".to_owned());
                }
                if permissions.contains(Permission::Administer) {
                    actions.push("delete".to_owned());
                }
            }
            granted.push(auth::AccessEntry {
                kind: kind.into(),
                name: name.into(),
                actions,
            });
        }
    }
    let subject = match &principal {
        Principal::Anonymous => String::new(),
        other => other.display_name(),
    };
    let (token, issued) = auth::issue(
        &ctx.state,
        &subject,
        hash.filter(|_| !matches!(principal, Principal::Anonymous)),
        granted,
    )?;
    let issued_at = chrono::DateTime::from_timestamp(issued, 0)
        .unwrap_or_else(Utc::now)
        .to_rfc3339();
    Ok(axum::Json(json!({
        "token": token,
        "access_token": token,
        "expires_in": auth::TOKEN_SECONDS,
        "issued_at": issued_at,
    }))
    .into_response())
}
