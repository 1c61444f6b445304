//! The one set of migrations, run by the server at start on SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_users;
mod m20261123_000002_create_repositories;
mod m20261123_000003_create_packages;
mod m20261123_000004_create_tokens;
mod m20261123_000005_create_audit_and_jobs;
mod m20261123_000006_package_details;
mod m20261123_000007_create_oci;
mod m20261123_000008_upload_digest;
mod m20261123_000009_sso;
mod m20261123_000010_sources;
mod m20261123_000011_image_pulls;
mod m20261202_000012_token_package_names;
mod m20261207_000013_listing_scale;
mod m20261207_000014_download_totals;
mod m20261207_000015_search_walk;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_users::Migration),
            Box::new(m20261123_000002_create_repositories::Migration),
            Box::new(m20261123_000003_create_packages::Migration),
            Box::new(m20261123_000004_create_tokens::Migration),
            Box::new(m20261123_000005_create_audit_and_jobs::Migration),
            Box::new(m20261123_000006_package_details::Migration),
            Box::new(m20261123_000007_create_oci::Migration),
            Box::new(m20261123_000008_upload_digest::Migration),
            Box::new(m20261123_000009_sso::Migration),
            Box::new(m20261123_000010_sources::Migration),
            Box::new(m20261123_000011_image_pulls::Migration),
            Box::new(m20261202_000012_token_package_names::Migration),
            Box::new(m20261207_000013_listing_scale::Migration),
            Box::new(m20261207_000014_download_totals::Migration),
            Box::new(m20261207_000015_search_walk::Migration),
        ]
    }
}

/// `column IN ('a', 'b', …)` as a check constraint, so a stored word is always a known one.
pub(crate) fn one_of<T: IntoIden + 'static>(column: T, words: &[&str]) -> SimpleExpr {
    Expr::col(column).is_in(words.iter().map(|w| (*w).to_owned()))
}

pub(crate) const GLOBAL_ROLES: &[&str] = &["admin", "developer", "user"];
pub(crate) const REPOSITORY_ROLES: &[&str] = &["administrator", "developer", "uploader", "reader"];
