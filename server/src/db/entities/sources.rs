use sea_orm::entity::prelude::*;

/// A Git host packages are imported from.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sources")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub name: String,
    pub provider: String,
    /// Empty for the provider's public service.
    pub base_url: String,
    /// Sealed (see `auth::sealed`); never sent to a client.
    pub access_token_encrypted: Option<String>,
    /// Sealed; shown to administrators to configure webhooks.
    pub webhook_secret_encrypted: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
