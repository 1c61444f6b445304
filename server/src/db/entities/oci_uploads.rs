use sea_orm::entity::prelude::*;

/// A blob upload in progress: its parts live in storage under `uploads/{id}/`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oci_uploads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub repository_id: Uuid,
    pub image: String,
    pub size: i64,
    pub parts: i32,
    /// SHA-256 (hex) of the upload's bytes while they are exactly its first part.
    pub single_part_sha256: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
