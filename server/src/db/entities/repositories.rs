use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "repositories")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub name: String,
    pub format: String,
    pub visibility: String,
    pub description: String,
    /// Maven: keep the last N builds of each SNAPSHOT version (none: keep all).
    pub snapshot_retention: Option<i32>,
    /// Whether administrators may delete manifests, tags and blobs (containers).
    pub allow_deletes: bool,
    /// Raised by the database with every change to one of its packages (a trigger): lists'
    /// ETags and kept documents go by it.
    pub content_revision: i64,
    /// Its packages, kept by the same trigger.
    pub package_count: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn visibility(&self) -> packistry_shared::Visibility {
        // Check constraint: only known words are stored.
        self.visibility
            .parse()
            .unwrap_or(packistry_shared::Visibility::Private)
    }

    pub fn format(&self) -> Option<packistry_shared::Format> {
        self.format.parse().ok()
    }
}
