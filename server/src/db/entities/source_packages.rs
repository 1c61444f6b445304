use sea_orm::entity::prelude::*;

/// A project of a source imported into a repository (a package, once its name is known).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "source_packages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_id: Uuid,
    pub repository_id: Uuid,
    /// For provider `git`, the clone URL; otherwise the provider's project path.
    pub project: String,
    /// Where composer.json lives inside the project ("" for the root).
    pub subdirectory: String,
    /// The package name read at the first import; refs naming another are skipped.
    pub package_name: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
