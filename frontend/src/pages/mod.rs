pub mod audit;
pub mod groups;
pub mod home;
pub mod login;
pub mod repositories;
pub mod section;
pub mod tokens;
pub mod users;
