//! Where the studio keeps streamer API keys: the OS keyring, behind a trait so unit tests can
//! keep them in memory.

use onair_client::credentials::{self, CredentialError};

/// Where API keys live. The OS keyring in the app; an in-memory one in unit tests.
pub trait KeyStore: Send + Sync + 'static {
    fn get(&self, backend_url: &str) -> Result<Option<String>, CredentialError>;
    fn set(&self, backend_url: &str, key: &str) -> Result<(), CredentialError>;
    fn delete(&self, backend_url: &str) -> Result<(), CredentialError>;
}

/// The OS keyring (Secret Service on Linux), one entry per backend URL.
pub struct OsKeyring;

impl KeyStore for OsKeyring {
    fn get(&self, backend_url: &str) -> Result<Option<String>, CredentialError> {
        credentials::stored_api_key(backend_url)
    }
    fn set(&self, backend_url: &str, key: &str) -> Result<(), CredentialError> {
        credentials::store_api_key(backend_url, key)
    }
    fn delete(&self, backend_url: &str) -> Result<(), CredentialError> {
        credentials::delete_api_key(backend_url)
    }
}
