//! Packistry: a self-hosted private package registry.

pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod formats;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod protocols;
pub mod server;
pub mod services;
pub mod state;
pub mod storage;
pub mod supervisor;
