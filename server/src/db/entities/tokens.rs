use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `personal` or `deploy`.
    pub kind: String,
    pub name: String,
    pub user_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    /// SHA-256 (hex) of the secret; the secret itself is shown once and never stored.
    #[sea_orm(unique)]
    pub secret_hash: String,
    pub all_repositories: bool,
    pub expires_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
