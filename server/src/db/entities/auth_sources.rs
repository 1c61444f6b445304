use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_sources")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// URL-safe: `/auth/sso/{name}/…`.
    #[sea_orm(unique)]
    pub name: String,
    pub display_name: Option<String>,
    pub provider: String,
    pub client_id: String,
    /// Sealed with the secret key (see `auth::sealed`); never sent to a client.
    pub client_secret_encrypted: String,
    /// The OIDC issuer, or the base URL of a self-hosted provider.
    pub issuer_url: Option<String>,
    /// JSON array of scope words.
    pub scopes: Json,
    pub default_role: String,
    /// JSON array of `{"repository_id": …, "role": …}`, granted at first sign-in.
    pub repository_grants: Option<Json>,
    /// JSON array of lowercase domains; empty: any.
    pub allowed_domains: Json,
    pub allow_registration: bool,
    pub link_existing: bool,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
