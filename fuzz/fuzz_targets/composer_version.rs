//! Composer versions and branches from any tag name: normalized or refused, ordered
//! consistently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use packistry_server::formats::composer::version::{compare_normalized, normalize, normalize_branch};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = normalize_branch(text);
    let (a, b) = text.split_once('|').unwrap_or((text, ""));
    if let (Ok(a), Ok(b)) = (normalize(a), normalize(b)) {
        assert_eq!(compare_normalized(&a, &b), compare_normalized(&b, &a).reverse());
    }
});
