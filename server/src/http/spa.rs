//! The single-page app, embedded in the binary: `index.html` for every client-side route,
//! hashed assets cached for a year, the index never cached.

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../frontend/dist"]
#[allow_missing = true]
struct Assets;

const NOT_BUILT: &str = "<!doctype html><title>Packistry</title><p>The web interface was not built into this binary. Run <code>make build</code> (or <code>make run</code>).</p>";

pub async fn serve(method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    let path = uri.path().trim_start_matches('/');
    if !path.is_empty() && path != "index.html" {
        if let Some(file) = Assets::get(path) {
            let mime = mime_guess::from_path(path).first_or_octet_stream();
            let cache = if is_hashed(path) {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            return (
                [
                    (CONTENT_TYPE, mime.as_ref().to_owned()),
                    (CACHE_CONTROL, cache.to_owned()),
                ],
                Body::from(file.data.into_owned()),
            )
                .into_response();
        }
        // A missing file (with an extension) is a 404, not the app.
        if path
            .rsplit('/')
            .next()
            .is_some_and(|name| name.contains('.'))
        {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        }
    }
    index()
}

fn index() -> Response {
    let body = match Assets::get("index.html") {
        Some(file) => Body::from(file.data.into_owned()),
        None => Body::from(NOT_BUILT),
    };
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Trunk names built assets `name-<hash>.ext`, the hash a 64-bit number in hex without
/// leading zeros (so usually, not always, 16 digits).
fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (6..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::is_hashed;

    #[test]
    fn recognises_trunk_hashed_names() {
        assert!(is_hashed("packistry-frontend-0123456789abcdef.js"));
        assert!(is_hashed("packistry-frontend-0123456789abcdef_bg.wasm"));
        assert!(is_hashed("style-0123456789abcdef.css"));
        assert!(is_hashed("packistry-frontend-bae7d59055139d6.js"));
        assert!(!is_hashed("favicon.ico"));
        assert!(!is_hashed("index.html"));
    }
}
