//! Maven request paths: parsed or refused, never a path out of its folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use packistry_server::formats::maven::path::{is_snapshot, package_folders, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(parsed) = parse(text, text) {
        assert!(!format!("{parsed:?}").contains("\"..\""));
    }
    let _ = package_folders(text);
    let _ = is_snapshot(text);
});
