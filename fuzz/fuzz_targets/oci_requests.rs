//! The container registry's parsers of caller input: routes, ranges, query strings,
//! digests, Accept headers, manifests.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    packistry_server::protocols::oci::fuzzing::parse_anything(text);
});
