//! Who is calling: passwords, browser sessions, sign-in throttling and the `Principal`.

pub mod password;
pub mod principal;
pub mod sealed;
pub mod session;
pub mod sso;
pub mod throttle;
pub mod token;

pub use principal::Principal;

use sha2::{Digest, Sha256};

/// A random secret of 32 bytes, URL-safe base64 without padding.
pub fn random_secret() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The stored form of a secret (session cookie, token): lowercase hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
