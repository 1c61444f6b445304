//! sea-orm entities: database rows. They are never serialised to clients; the API has its
//! own types.

pub mod audit_events;
pub mod sessions;
pub mod users;
