use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blobs")]
pub struct Model {
    /// Lowercase hex SHA-256 of the content.
    #[sea_orm(primary_key, auto_increment = false)]
    pub digest: String,
    pub size: i64,
    pub sha1: Option<String>,
    pub md5: Option<String>,
    pub sha512: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
