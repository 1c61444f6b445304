//! Maven: repository paths and coordinates, version ordering, POM facts and
//! `maven-metadata.xml`.

pub mod metadata;
pub mod path;
