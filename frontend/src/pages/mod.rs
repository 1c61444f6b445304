pub mod home;
pub mod login;
pub mod section;
pub mod tokens;
