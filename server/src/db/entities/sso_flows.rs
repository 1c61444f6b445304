use sea_orm::entity::prelude::*;

/// A sign-in started at a provider and not yet finished: single use, short-lived.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_flows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 (hex) of the `state` sent to the provider.
    #[sea_orm(unique)]
    pub state_hash: String,
    pub source_id: Uuid,
    pub pkce_verifier_encrypted: String,
    pub nonce: String,
    pub return_to: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
