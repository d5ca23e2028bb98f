//! `tcphub.hash_secret`: the line an auth file stores for a secret, so a
//! Python program can write one (as `tcphub hash-secret` does).

use pyo3::prelude::*;

use crate::errors::error;

/// A secret as Python passes it: text (hashed as UTF-8) or bytes.
#[derive(Debug, FromPyObject)]
pub enum Secret {
    Text(String),
    Bytes(Vec<u8>),
}

/// The argon2id hash of `secret` (default costs, a random salt) as a PHC
/// string, for the `secret` of an alias in an `auth_file`. Hashing takes a
/// moment and some memory by design: the GIL is released meanwhile.
#[pyfunction]
pub fn hash_secret(py: Python<'_>, secret: Secret) -> PyResult<String> {
    let secret = match secret {
        Secret::Text(text) => text.into_bytes(),
        Secret::Bytes(bytes) => bytes,
    };
    if secret.is_empty() {
        return Err(error(py, "ConfigError", "a secret may not be empty"));
    }
    py.detach(|| tcphub_native::hash_secret(&secret))
        .map_err(|e| error(py, "Error", format!("cannot hash the secret: {e}")))
}
