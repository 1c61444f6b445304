//! Pure format logic: parsing, validation, metadata building and version ordering of each
//! package format. No HTTP, no database access, no permission decisions.

pub mod composer;
pub mod maven;
pub mod oci;
