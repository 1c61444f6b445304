//! Seeding a repository with many packages fast: rows shaped like real uploads (each
//! version's metadata and file copied from one version uploaded for real, so its dist
//! downloads serve real bytes), written in batches of multi-row inserts, one transaction a
//! batch — the database's triggers keep revisions, counts and search indexes as for uploads.

use chrono::Utc;
use packistry_server::db::entities::{package_versions, packages, repositories, version_files};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, Database, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::Value;
use uuid::Uuid;

/// Packages written per transaction.
const BATCH: usize = 500;

/// The versions every seeded package gets.
pub const VERSIONS: [(&str, &str); 3] = [
    ("1.0.0", "1.0.0.0"),
    ("1.1.0", "1.1.0.0"),
    ("2.0.0", "2.0.0.0"),
];

/// The name of the `i`th seeded package: 50 vendors, numbered packages.
pub fn package_name(i: usize) -> String {
    format!("vendor{:02}/pkg{i}", i % 50)
}

/// Its description: a few words, one of five topics.
pub fn description(i: usize) -> String {
    const TOPICS: [&str; 5] = [
        "logging",
        "caching",
        "http client",
        "queue worker",
        "templating",
    ];
    format!("A {} library, number {i}", TOPICS[i % TOPICS.len()])
}

/// Its Composer type: every tenth is a `project`.
pub fn kind(i: usize) -> &'static str {
    if i.is_multiple_of(10) {
        "project"
    } else {
        "library"
    }
}

/// Adds packages `from..to` (see [`package_name`]) to `repository`, each with
/// [`VERSIONS`], copying the metadata and file of the latest version of `template`, a
/// package of that repository uploaded for real.
pub async fn composer_packages(
    database_url: &str,
    repository: &str,
    template: &str,
    from: usize,
    to: usize,
) -> anyhow::Result<()> {
    let db = Database::connect(database_url).await?;
    let repository = repositories::Entity::find()
        .filter(repositories::Column::Name.eq(repository))
        .one(&db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no repository {repository}"))?;
    let template = packages::Entity::find()
        .filter(packages::Column::RepositoryId.eq(repository.id))
        .filter(packages::Column::Name.eq(template))
        .one(&db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no package {template}"))?;
    let version = package_versions::Entity::find()
        .filter(package_versions::Column::PackageId.eq(template.id))
        .one(&db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{} has no version", template.name))?;
    let file = version_files::Entity::find()
        .filter(version_files::Column::VersionId.eq(version.id))
        .one(&db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{} has no file", template.name))?;
    let backend = db.get_database_backend();
    let now = Utc::now();
    let mut start = from;
    while start < to {
        let end = (start + BATCH).min(to);
        let mut package_rows = Query::insert();
        package_rows.into_table(packages::Entity).columns([
            packages::Column::Id,
            packages::Column::RepositoryId,
            packages::Column::Name,
            packages::Column::Description,
            packages::Column::Kind,
            packages::Column::CreatedAt,
            packages::Column::UpdatedAt,
        ]);
        let mut version_rows = Query::insert();
        version_rows.into_table(package_versions::Entity).columns([
            package_versions::Column::Id,
            package_versions::Column::PackageId,
            package_versions::Column::Version,
            package_versions::Column::VersionNormalized,
            package_versions::Column::Metadata,
            package_versions::Column::CreatedAt,
            package_versions::Column::UpdatedAt,
        ]);
        let mut file_rows = Query::insert();
        file_rows.into_table(version_files::Entity).columns([
            version_files::Column::Id,
            version_files::Column::VersionId,
            version_files::Column::Name,
            version_files::Column::BlobDigest,
            version_files::Column::Size,
            version_files::Column::MediaType,
            version_files::Column::CreatedAt,
        ]);
        for i in start..end {
            let package_id = Uuid::new_v4();
            let name = package_name(i);
            package_rows.values_panic([
                package_id.into(),
                repository.id.into(),
                name.clone().into(),
                description(i).into(),
                kind(i).into(),
                now.into(),
                now.into(),
            ]);
            for (number, normalized) in VERSIONS {
                let version_id = Uuid::new_v4();
                let mut metadata = version.metadata.clone();
                if let Value::Object(fields) = &mut metadata {
                    fields.insert("name".into(), name.clone().into());
                    fields.insert("version".into(), number.into());
                    fields.insert("description".into(), description(i).into());
                    fields.insert("type".into(), kind(i).into());
                }
                version_rows.values_panic([
                    version_id.into(),
                    package_id.into(),
                    number.into(),
                    normalized.into(),
                    metadata.into(),
                    now.into(),
                    now.into(),
                ]);
                file_rows.values_panic([
                    Uuid::new_v4().into(),
                    version_id.into(),
                    file.name.clone().into(),
                    file.blob_digest.clone().into(),
                    file.size.into(),
                    file.media_type.clone().into(),
                    now.into(),
                ]);
            }
        }
        let txn = db.begin().await?;
        txn.execute(backend.build(&package_rows)).await?;
        txn.execute(backend.build(&version_rows)).await?;
        txn.execute(backend.build(&file_rows)).await?;
        txn.commit().await?;
        start = end;
    }
    if backend == sea_orm::DatabaseBackend::Postgres {
        // What autovacuum does within a minute or two of a bulk insert: statistics for the
        // planner, and the visibility map index-only scans (a search's walk) rely on.
        db.execute_unprepared("VACUUM (ANALYZE) packages, package_versions, version_files")
            .await?;
    }
    db.close().await?;
    Ok(())
}
