//! Why an authentication setting cannot be used.

use std::path::{Path, PathBuf};

/// An authentication file or setting that cannot be used, found when the
/// authenticator is built (before the server listens). The message names
/// the option, the file and, in an auth file, the alias at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// A file cannot be read, or what it holds cannot be used.
    #[error("{option} {}: {problem}", path.display())]
    File {
        /// The option that named the file, given as the library's name for
        /// it: `auth_file` (`tcphub serve --auth`) or `jwt_key`
        /// (`--auth-jwt-key`).
        option: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it, naming the alias when one is at fault.
        problem: String,
    },
    /// A setting is out of range or empty.
    #[error("{option}: {problem}")]
    Setting {
        /// The setting, as the field of [`JwtOptions`](crate::JwtOptions)
        /// it comes from (`jwt_leeway`, `jwt_audience`, `jwt_issuer`).
        option: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

impl AuthConfigError {
    /// The option at fault, as the library names it.
    pub fn option(&self) -> &'static str {
        match self {
            AuthConfigError::File { option, .. } | AuthConfigError::Setting { option, .. } => {
                option
            }
        }
    }

    pub(crate) fn file(option: &'static str, path: &Path, problem: impl Into<String>) -> Self {
        AuthConfigError::File {
            option,
            path: path.to_owned(),
            problem: problem.into(),
        }
    }
}
