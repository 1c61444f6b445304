use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "image_pulls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The image (a package of a container repository).
    pub package_id: Uuid,
    /// The tag or digest the manifest was asked for by.
    pub reference: String,
    pub user_id: Option<Uuid>,
    pub token_id: Option<Uuid>,
    pub address: Option<String>,
    /// Pulls this row stands for (one caller, one reference, one write batch).
    pub count: i64,
    /// The first of them.
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
