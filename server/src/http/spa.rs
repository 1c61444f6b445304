//! The single-page app, embedded in the binary: `index.html` for every client-side route,
//! hashed assets cached for a year, the index never cached.

use axum::body::Body;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "../frontend/dist"]
#[allow_missing = true]
struct Assets;

const NOT_BUILT: &str = "<!doctype html><title>Packistry</title><p>The web interface was not built into this binary. Run <code>make build</code> (or <code>make run</code>).</p>";

pub async fn serve(method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return not_found();
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
                    (X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
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
            return not_found();
        }
    }
    index()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(X_CONTENT_TYPE_OPTIONS, "nosniff")],
        "not found\n",
    )
        .into_response()
}

fn index() -> Response {
    let html = match Assets::get("index.html") {
        Some(file) => String::from_utf8_lossy(&file.data).into_owned(),
        None => NOT_BUILT.to_owned(),
    };
    let mut response = (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Body::from(html),
    )
        .into_response();
    page_headers(response.headers_mut(), spa_policy());
    response
}

/// The headers every HTML page of ours carries: its Content-Security-Policy, never framed
/// (clickjacking), no content sniffing, no full URLs leaked to other sites.
pub fn page_headers(headers: &mut HeaderMap, policy: &str) {
    if let Ok(value) = HeaderValue::from_str(policy) {
        headers.insert(CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
}

/// The SPA's policy: scripts only from this server (and the inline loader Trunk writes into
/// `index.html`, allowed by its hash), WebAssembly compiled, data only from this server.
fn spa_policy() -> &'static str {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        let html = Assets::get("index.html")
            .map(|file| String::from_utf8_lossy(&file.data).into_owned())
            .unwrap_or_default();
        let hashes: String = inline_scripts(&html)
            .map(|script| {
                let digest = Sha256::digest(script.as_bytes());
                format!(
                    " 'sha256-{}'",
                    base64::engine::general_purpose::STANDARD.encode(digest)
                )
            })
            .collect();
        format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
             font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; \
             frame-ancestors 'none'"
        )
    })
}

/// The bodies of the `<script>` elements without a `src` in an HTML page.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, rest) = rest.split_once('>')?;
        if attributes.contains("src=") {
            return None;
        }
        rest.split_once("</script>").map(|(body, _)| body)
    })
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
    use super::{inline_scripts, is_hashed};

    #[test]
    fn finds_the_inline_scripts_to_allow_by_hash() {
        let html = r#"<html><head><script src="/a.js"></script><script type="module">import init from '/x.js';
await init();</script></head><body><script>b()</script></body></html>"#;
        let found: Vec<&str> = inline_scripts(html).collect();
        assert_eq!(
            found,
            vec!["import init from '/x.js';\nawait init();", "b()"]
        );
    }

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
