//! The streamer's API key in the OS keyring (the Secret Service on Linux), one entry per
//! backend URL. There is no plain-text fallback: without a keyring the caller says so and
//! offers the environment variable instead.

const SERVICE: &str = "onair";

/// Runs a keyring call on a thread of its own: the Secret Service client blocks on a runtime
/// of its own, which panics on a thread that already drives one (any async caller's).
fn off_runtime<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, CredentialError> + Send + 'static,
) -> Result<T, CredentialError> {
    std::thread::Builder::new()
        .name("onair-keyring".into())
        .spawn(call)
        .map_err(|e| CredentialError::Keyring(e.to_string()))?
        .join()
        .map_err(|_| CredentialError::NoKeyring("the keyring client crashed".into()))?
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("no OS keyring is available ({0}); set ONAIR_API_KEY instead")]
    NoKeyring(String),
    #[error("the keyring refused: {0}")]
    Keyring(String),
}

fn entry(backend_url: &str) -> Result<keyring::Entry, CredentialError> {
    keyring::Entry::new(SERVICE, backend_url).map_err(|e| CredentialError::NoKeyring(e.to_string()))
}

fn map(err: keyring::Error) -> CredentialError {
    match err {
        keyring::Error::PlatformFailure(e) | keyring::Error::NoStorageAccess(e) => {
            CredentialError::NoKeyring(e.to_string())
        }
        other => CredentialError::Keyring(other.to_string()),
    }
}

/// The key saved for `backend_url`, if any.
pub fn stored_api_key(backend_url: &str) -> Result<Option<String>, CredentialError> {
    let url = backend_url.to_owned();
    off_runtime(move || match entry(&url)?.get_password() {
        Ok(key) => Ok(Some(key)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(err) => Err(map(err)),
    })
}

/// Saves the key for `backend_url` (sign in).
pub fn store_api_key(backend_url: &str, key: &str) -> Result<(), CredentialError> {
    let (url, key) = (backend_url.to_owned(), key.to_owned());
    off_runtime(move || entry(&url)?.set_password(&key).map_err(map))
}

/// Removes it (sign out); fine if there was none.
pub fn delete_api_key(backend_url: &str) -> Result<(), CredentialError> {
    let url = backend_url.to_owned();
    off_runtime(move || match entry(&url)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(err) => Err(map(err)),
    })
}
