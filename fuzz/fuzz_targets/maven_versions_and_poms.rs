//! Maven's version order (a total order) and POM reading, on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use packistry_server::formats::maven::metadata::{compare, pom_facts};

fuzz_target!(|data: &[u8]| {
    let _ = pom_facts(data);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parts: Vec<&str> = text.splitn(3, '|').collect();
    if let [a, b, c] = parts[..] {
        assert_eq!(compare(a, b), compare(b, a).reverse());
        if compare(a, b).is_le() && compare(b, c).is_le() {
            assert!(compare(a, c).is_le());
        }
        let mut versions = vec![a, b, c];
        versions.sort_by(|x, y| compare(x, y));
    }
});
