//! Secrets kept in the database (SSO client secrets, provider tokens) are sealed with
//! AES-256-GCM under a key derived from the server's secret key, so a copy of the database
//! alone reveals none of them.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// Marks the format, so a later change of scheme can read older values.
const PREFIX: &str = "v1:";

/// The sealing key: HMAC-SHA256 of a fixed label under the secret key, so the key that
/// signs sessions and OCI tokens is never used directly as a cipher key.
fn cipher(secret_key: &[u8; 32]) -> Aes256Gcm {
    // HMAC pads a key shorter than the hash's block with zeros: the same key, infallibly.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(secret_key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(b"packistry sealed secrets v1");
    let key = mac.finalize().into_bytes();
    Aes256Gcm::new(&key)
}

/// `v1:` + base64(nonce ‖ ciphertext ‖ tag).
pub fn seal(secret_key: &[u8; 32], plaintext: &str) -> Result<String> {
    let nonce_bytes: [u8; 12] = rand::random();
    let nonce = Nonce::from_slice(&nonce_bytes);
    let ciphertext = cipher(secret_key)
        .encrypt(nonce, plaintext.as_bytes())
        .map_err(|_| Error::Internal(anyhow::anyhow!("a secret could not be encrypted")))?;
    let mut sealed = nonce_bytes.to_vec();
    sealed.extend_from_slice(&ciphertext);
    Ok(format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(sealed)
    ))
}

/// The plaintext of a sealed value; an error when it was sealed under another key or altered.
pub fn open(secret_key: &[u8; 32], sealed: &str) -> Result<String> {
    let unreadable = || {
        Error::Internal(anyhow::anyhow!(
            "a stored secret cannot be decrypted: was PACKISTRY_SECRET_KEY changed?"
        ))
    };
    let encoded = sealed.strip_prefix(PREFIX).ok_or_else(unreadable)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| unreadable())?;
    if bytes.len() < 12 {
        return Err(unreadable());
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    let plaintext = cipher(secret_key)
        .decrypt(Nonce::from_slice(nonce), ciphertext)
        .map_err(|_| unreadable())?;
    String::from_utf8(plaintext).map_err(|_| unreadable())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_key() {
        let key = [7u8; 32];
        let sealed = seal(&key, "client-secret").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("client-secret"));
        assert_eq!(open(&key, &sealed).unwrap(), "client-secret");
        // A fresh nonce every time.
        assert_ne!(seal(&key, "client-secret").unwrap(), sealed);
        assert!(open(&[8u8; 32], &sealed).is_err());
        let mut altered = sealed.clone();
        altered.replace_range(10..11, if &sealed[10..11] == "A" { "B" } else { "A" });
        assert!(open(&key, &altered).is_err());
        assert!(open(&key, "plain").is_err());
    }
}
