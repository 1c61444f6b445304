//! Composer: package archives, `composer.json`, version normalization and ordering, and the
//! p2 metadata entries.

pub mod archive;
pub mod metadata;
pub mod version;
