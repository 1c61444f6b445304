//! Webhook bodies of every provider and Authorization headers, on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use packistry_server::auth::token::secret_from_headers;
use packistry_server::services::sources::{parse_push, verify, Provider};

fuzz_target!(|data: &[u8]| {
    let (event, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&b"push"[..], data),
    };
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_bytes(event) {
        for name in ["x-github-event", "x-gitea-event", "x-gitlab-event", "x-event-key"] {
            headers.insert(name, value.clone());
        }
        headers.insert(http::header::AUTHORIZATION, value);
    }
    for provider in Provider::ALL {
        let _ = parse_push(provider, &headers, body);
        let _ = verify(provider, "a secret", &headers, body);
    }
    let _ = secret_from_headers(&headers);
});
