//! Business rules over the database: thin functions over `&impl ConnectionTrait`, used
//! alike by GraphQL resolvers, protocol handlers and CLI commands.

pub mod access;
pub mod audit;
pub mod auth_sources;
pub mod catalog;
pub mod composer;
pub mod downloads;
pub mod groups;
pub mod images;
pub mod packages;
pub mod providers;
pub mod repositories;
pub mod sources;
pub mod tokens;
pub mod uploads;
pub mod users;
