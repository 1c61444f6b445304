//! Composer package archives: any bytes are inspected or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use packistry_server::formats::composer::archive::{inspect_reader, Limits};

fuzz_target!(|data: &[u8]| {
    let _ = inspect_reader(std::io::Cursor::new(data), Limits::default());
});
