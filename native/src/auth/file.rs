//! `tcphub serve --auth FILE`: a TOML file of aliases, each with an
//! argon2id hash of its secret and its permissions.
//!
//! ```toml
//! [aliases.Client-1]
//! secret = "$argon2id$v=19$m=19456,t=2,p=1$..."   # tcphub hash-secret
//! relay = ["Client-*"]                            # default ["*"]
//! broadcast = false                               # default true
//! list = true                                     # default true
//! ```
//!
//! The whole file is checked when it is loaded, so a mistake stops the
//! server before it listens rather than locking someone out later. The
//! credential a client sends is the secret itself; the identity granted is
//! the alias.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHashString, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use serde::Deserialize;
use tcphub_core::{Alias, AuthDecision, AuthRequest, Grant, Permissions};
use tokio::sync::Semaphore;

use super::permissions::PermissionSpec;
use super::{Auth, AuthConfigError, Authenticator, BoxFuture};

/// The option an auth file comes from, as errors name it.
const OPTION: &str = "auth_file";

/// Largest auth file read: a file of a million aliases is far below it,
/// and a path to something else (a log, a device) is refused quickly.
pub const MAX_AUTH_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Most memory one verification may take, in KiB (argon2's `m`): hashes
/// cost what they say each time a client syncs, so a hash asking for
/// gigabytes is refused at load rather than at the first sync.
pub const MAX_HASH_MEMORY_KIB: u32 = 256 * 1024;
/// Most passes one verification may take (argon2's `t`).
pub const MAX_HASH_PASSES: u32 = 64;
/// Most lanes (argon2's `p`).
pub const MAX_HASH_LANES: u32 = 16;

/// Most verifications that run at once: each takes the memory its hash
/// asks for (19 MiB with the defaults) and a core's worth of time.
fn verification_slots() -> usize {
    std::thread::available_parallelism()
        .map_or(2, usize::from)
        .clamp(1, 8)
}

/// The file at `path` as an authenticator, every entry checked: TOML
/// syntax, unknown keys, alias names, hashes and patterns. The error
/// names the file, the alias and the problem.
pub fn auth_file(path: &Path) -> Result<Auth, AuthConfigError> {
    Ok(AuthFile::load(path)?.auth())
}

/// An auth file that can be read again while the hub runs (`tcphub serve`
/// does on SIGHUP), so secrets can change without dropping every
/// connection.
#[derive(Debug, Clone)]
pub struct AuthFile {
    path: PathBuf,
    /// The table checks read; a reload swaps in a new one whole, so a
    /// check sees the old file or the new, never a mix.
    table: Arc<RwLock<Arc<AuthTable>>>,
    /// Bounds the verifications running at once, and so their memory.
    slots: Arc<Semaphore>,
}

impl AuthFile {
    /// Reads and checks the file at `path`, as [`auth_file`] does.
    pub fn load(path: &Path) -> Result<AuthFile, AuthConfigError> {
        let table = AuthTable::load(path)?;
        Ok(AuthFile {
            path: path.to_owned(),
            table: Arc::new(RwLock::new(Arc::new(table))),
            slots: Arc::new(Semaphore::new(verification_slots())),
        })
    }

    /// The authenticator checking credentials against the file as last
    /// loaded.
    pub fn auth(&self) -> Auth {
        Auth::new(
            format!("file {}", self.path.display()),
            FileAuthenticator { file: self.clone() },
        )
    }

    /// Reads the file again. On success the new table is used from the
    /// next check on, and the number of aliases it lists is returned; on
    /// error the one loaded before stays. Sessions already signed in keep
    /// what they were granted. Blocks for a file read and one hash.
    pub fn reload(&self) -> Result<usize, AuthConfigError> {
        let table = AuthTable::load(&self.path)?;
        let aliases = table.entries.len();
        *self.table.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
        Ok(aliases)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn current(&self) -> Arc<AuthTable> {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Hashes `secret` for an auth file: argon2id with its default costs (19
/// MiB, 2 passes, 1 lane) and a random salt, as a PHC string.
pub fn hash_secret(secret: &[u8]) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default().hash_password(secret, &salt)?.to_string())
}

/// One alias of the file.
#[derive(Debug)]
struct Entry {
    hash: PasswordHashString,
    permissions: Permissions,
}

/// The aliases of a file, and a hash of a random secret that an unknown
/// alias is checked against, so that a wrong guess costs the same time
/// whether or not the alias is listed.
#[derive(Debug)]
struct AuthTable {
    entries: HashMap<Alias, Entry>,
    decoy: PasswordHashString,
}

/// One alias as written: the secret's hash and the permissions. Written
/// out rather than flattened, as serde cannot refuse unknown keys of a
/// flattened struct.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntrySpec {
    secret: String,
    relay: Option<Vec<String>>,
    broadcast: Option<bool>,
    list: Option<bool>,
}

impl AuthTable {
    fn load(path: &Path) -> Result<AuthTable, AuthConfigError> {
        let refuse = |problem: String| AuthConfigError::file(OPTION, path, problem);
        let text = read_bounded(path).map_err(refuse)?;
        let document: toml::Table = toml::from_str(&text)
            .map_err(|e| refuse(format!("not valid TOML: {}", e.to_string().trim_end())))?;
        if let Some(key) = document.keys().find(|k| *k != "aliases") {
            return Err(refuse(format!(
                "unknown key {key:?}: the file holds only [aliases.NAME] tables"
            )));
        }
        let aliases = match document.get("aliases") {
            Some(toml::Value::Table(aliases)) => aliases,
            Some(_) => return Err(refuse("`aliases` must be a table of [aliases.NAME]".into())),
            None => {
                return Err(refuse(
                    "lists no aliases: add [aliases.NAME] tables, each with a secret".into(),
                ))
            }
        };
        if aliases.is_empty() {
            return Err(refuse(
                "lists no aliases: add [aliases.NAME] tables, each with a secret".into(),
            ));
        }
        let mut entries = HashMap::with_capacity(aliases.len());
        for (name, value) in aliases {
            let entry = entry(name, value).map_err(refuse)?;
            let alias = Alias::new(name).map_err(|e| refuse(e.message.to_string()))?;
            entries.insert(alias, entry);
        }
        // The decoy costs what a listed hash costs: the first one's.
        let params = entries
            .values()
            .next()
            .and_then(|e| Params::try_from(&e.hash.password_hash()).ok())
            .unwrap_or_default();
        let decoy = decoy_hash(params).map_err(|e| refuse(format!("cannot hash a decoy: {e}")))?;
        Ok(AuthTable { entries, decoy })
    }

    /// The permissions of `alias` if `secret` is its secret. Takes as
    /// long for an alias the file does not list.
    fn check(&self, alias: &Alias, secret: &str) -> Option<Permissions> {
        let (hash, permissions) = match self.entries.get(alias) {
            Some(entry) => (&entry.hash, Some(&entry.permissions)),
            None => (&self.decoy, None),
        };
        let matches = Argon2::default()
            .verify_password(secret.as_bytes(), &hash.password_hash())
            .is_ok();
        match (matches, permissions) {
            (true, Some(permissions)) => Some(permissions.clone()),
            _ => {
                tracing::info!(
                    alias = alias.as_str(),
                    reason = if permissions.is_some() {
                        "wrong secret"
                    } else {
                        "alias not in the auth file"
                    },
                    "auth file: credential refused"
                );
                None
            }
        }
    }
}

/// The entry of alias `name`, or what is wrong with it.
fn entry(name: &str, value: &toml::Value) -> Result<Entry, String> {
    let at = |problem: String| format!("alias {name:?}: {problem}");
    let spec = EntrySpec::deserialize(value.clone())
        .map_err(|e| at(e.to_string().trim_end().to_owned()))?;
    let hash = checked_hash(&spec.secret).map_err(at)?;
    let permissions = PermissionSpec {
        relay: spec.relay,
        broadcast: spec.broadcast,
        list: spec.list,
    }
    .permissions()
    .map_err(at)?;
    Ok(Entry { hash, permissions })
}

/// `secret` as an argon2id PHC string whose costs are within bounds.
fn checked_hash(secret: &str) -> Result<PasswordHashString, String> {
    const HINT: &str = "make one with `tcphub hash-secret`";
    if !secret.starts_with('$') {
        return Err(format!(
            "secret is not a PHC hash string; secrets are never stored in clear: {HINT}"
        ));
    }
    let hash = PasswordHashString::new(secret)
        .map_err(|e| format!("secret is not a valid PHC hash string ({e}): {HINT}"))?;
    let parsed = hash.password_hash();
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return Err(format!(
            "secret is hashed with {}, not argon2id: {HINT}",
            parsed.algorithm
        ));
    }
    if parsed.version != Some(Version::V0x13.into()) {
        return Err(format!("secret is not argon2id version 19 (v=19): {HINT}"));
    }
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err(format!("secret has no salt or no hash: {HINT}"));
    }
    let params = Params::try_from(&parsed)
        .map_err(|e| format!("secret's argon2 parameters are invalid ({e}): {HINT}"))?;
    if params.m_cost() > MAX_HASH_MEMORY_KIB
        || params.t_cost() > MAX_HASH_PASSES
        || params.p_cost() > MAX_HASH_LANES
    {
        return Err(format!(
            "secret's hash costs m={},t={},p={}, over the bounds m={MAX_HASH_MEMORY_KIB},t={MAX_HASH_PASSES},p={MAX_HASH_LANES} (each sync pays it)",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        ));
    }
    Ok(hash)
}

/// A hash of a random secret nobody knows, with `params`.
fn decoy_hash(params: Params) -> Result<PasswordHashString, argon2::password_hash::Error> {
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    let salt = SaltString::generate(&mut OsRng);
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    Ok(hasher.hash_password(&secret, &salt)?.serialize())
}

/// The file as text, refusing one too large to be an auth file.
fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut text = String::new();
    file.take(MAX_AUTH_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read it as UTF-8 text: {e}"))?;
    if text.len() as u64 > MAX_AUTH_FILE_BYTES {
        return Err(format!(
            "larger than {} MiB: not an auth file",
            MAX_AUTH_FILE_BYTES >> 20
        ));
    }
    Ok(text)
}

/// Checks secrets against the table, off the async threads (argon2 takes
/// tens of milliseconds of CPU by design) and a few at a time.
struct FileAuthenticator {
    file: AuthFile,
}

impl Authenticator for FileAuthenticator {
    fn authenticate(&self, request: AuthRequest) -> BoxFuture<AuthDecision> {
        let file = self.file.clone();
        Box::pin(async move {
            // The semaphore is never closed.
            let Ok(slot) = file.slots.clone().acquire_owned().await else {
                return AuthDecision::Deny;
            };
            let table = file.current();
            let checked = tokio::task::spawn_blocking(move || {
                let _slot = slot;
                table.check(&request.alias, &request.token)
            })
            .await;
            match checked {
                Ok(Some(permissions)) => AuthDecision::Grant(Grant {
                    identity: None,
                    permissions,
                }),
                Ok(None) => AuthDecision::Deny,
                Err(e) => {
                    tracing::warn!(error = %e, "auth file: a verification failed");
                    AuthDecision::Deny
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap argon2id costs, so the tests run fast in debug builds.
    fn cheap_hash(secret: &str) -> String {
        let params = Params::new(64, 1, 1, None).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(secret.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!(
            "tcphub-auth-file-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load_error(name: &str, text: &str) -> String {
        let path = write(name, text);
        let error = AuthTable::load(&path).unwrap_err().to_string();
        let _ = std::fs::remove_file(&path);
        assert!(error.starts_with("auth_file "), "{error}");
        error
    }

    #[test]
    fn a_listed_alias_with_its_secret_gets_its_permissions() {
        let text = format!(
            "[aliases.Client-1]\nsecret = {:?}\nrelay = [\"Client-*\"]\nbroadcast = false\n\n\
             [aliases.ops]\nsecret = {:?}\n",
            cheap_hash("s3cret"),
            cheap_hash("other")
        );
        let path = write("good", &text);
        let table = AuthTable::load(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let client = Alias::new("Client-1").unwrap();
        let permissions = table.check(&client, "s3cret").unwrap();
        assert!(!permissions.broadcast && permissions.list);
        assert!(permissions.may_relay_to("Client-2") && !permissions.may_relay_to("ops"));
        assert_eq!(table.check(&client, "wrong"), None);
        assert_eq!(
            table.check(&client, "other"),
            None,
            "another alias's secret"
        );
        let ops = Alias::new("ops").unwrap();
        assert_eq!(table.check(&ops, "other"), Some(Permissions::default()));
        let nobody = Alias::new("nobody").unwrap();
        assert_eq!(table.check(&nobody, "s3cret"), None);
    }

    #[test]
    fn every_mistake_is_named_with_its_alias() {
        let good = cheap_hash("x");
        let cases = [
            (
                "syntax",
                "[aliases.A\nsecret = 1".to_owned(),
                "not valid TOML",
            ),
            (
                "top",
                format!("[users.A]\nsecret = {good:?}"),
                "unknown key \"users\"",
            ),
            ("empty", String::new(), "lists no aliases"),
            (
                "unknown",
                format!("[aliases.A]\nsecret = {good:?}\nbrodcast = false"),
                "alias \"A\": unknown field `brodcast`",
            ),
            (
                "clear",
                "[aliases.A]\nsecret = \"hunter2\"".to_owned(),
                "alias \"A\": secret is not a PHC hash string",
            ),
            (
                "bcrypt",
                "[aliases.A]\nsecret = \"$2b$12$abcdefghijklmnopqrstuv\"".to_owned(),
                "alias \"A\": secret is not a valid PHC",
            ),
            (
                "argon2i",
                format!(
                    "[aliases.A]\nsecret = {:?}",
                    good.replace("argon2id", "argon2i")
                ),
                "not argon2id",
            ),
            (
                "costly",
                format!(
                    "[aliases.A]\nsecret = {:?}",
                    good.replace("m=64", "m=4194304")
                ),
                "over the bounds",
            ),
            (
                "missing",
                "[aliases.A]\nrelay = [\"*\"]".to_owned(),
                "alias \"A\": missing field `secret`",
            ),
            (
                "pattern",
                format!("[aliases.A]\nsecret = {good:?}\nrelay = [\"\"]"),
                "alias \"A\": relay: an alias pattern may not be empty",
            ),
            (
                "alias",
                format!("[aliases.\"#hub\"]\nsecret = {good:?}"),
                "invalid alias \"#hub\"",
            ),
        ];
        for (name, text, expected) in cases {
            let error = load_error(name, &text);
            assert!(error.contains(expected), "{name}: {error}");
        }
        let missing = AuthTable::load(Path::new("/nonexistent/auth.toml")).unwrap_err();
        assert!(missing.to_string().contains("cannot read it"), "{missing}");
    }

    #[test]
    fn hash_secret_makes_argon2id_phc_strings_that_verify() {
        let hash = hash_secret(b"s3cret").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(checked_hash(&hash).is_ok());
        assert_ne!(hash, hash_secret(b"s3cret").unwrap(), "salted");
    }
}
