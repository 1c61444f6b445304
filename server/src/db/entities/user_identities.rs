use sea_orm::entity::prelude::*;

/// Who a user is at an authentication source: the provider's stable subject.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_id: Uuid,
    pub subject: String,
    pub user_id: Uuid,
    pub email: String,
    pub created_at: DateTimeUtc,
    pub last_sign_in_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
