//! sea-orm entities: database rows. They are never serialised to clients; the API has its
//! own types.

pub mod audit_events;
pub mod auth_sources;
pub mod blobs;
pub mod downloads;
pub mod group_members;
pub mod groups;
pub mod jobs;
pub mod oci_blobs;
pub mod oci_manifests;
pub mod oci_tags;
pub mod oci_uploads;
pub mod package_versions;
pub mod packages;
pub mod repositories;
pub mod repository_grants;
pub mod sessions;
pub mod sso_flows;
pub mod token_packages;
pub mod token_repositories;
pub mod token_roles;
pub mod tokens;
pub mod user_identities;
pub mod users;
pub mod version_files;
