//! Streamer API keys: random, shown once, stored as a keyed hash (HMAC-SHA256 with the
//! server's key secret). Keys carry 256 random bits, so a slow salted hash adds nothing; the
//! keyed hash means a leaked database alone cannot be used to check guesses.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "onair_";

/// A new API key (`onair_` + 64 hex digits).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// The stored form of `key`.
pub fn hash(secret: &[u8], key: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(key.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_prefixed() {
        let (a, b) = (generate(), generate());
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64);
        assert_ne!(a, b);
    }

    #[test]
    fn the_hash_depends_on_the_server_secret() {
        let key = generate();
        assert_eq!(hash(b"one", &key), hash(b"one", &key));
        assert_ne!(hash(b"one", &key), hash(b"two", &key));
        assert!(!hash(b"one", &key).contains(&key[PREFIX.len()..]));
    }
}
