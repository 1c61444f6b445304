//! Business rules over the database: thin functions over `&impl ConnectionTrait`, used
//! alike by GraphQL resolvers, protocol handlers and CLI commands.

pub mod audit;
pub mod users;
