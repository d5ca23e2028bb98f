//! `tcphub serve --auth-jwt-key FILE --auth-jwt-algorithm ALG`: the
//! credential is a JWT signed by the operator's backend, whose subject is
//! the alias.
//!
//! A token is granted when its signature verifies with the configured key
//! and algorithm (and only that algorithm: an HS256 token is refused by a
//! hub configured for EdDSA, whatever it is signed with), its `sub` is the
//! alias asked for, `exp` is present and not past, `nbf` (if present) is
//! not ahead, each give or take the leeway, and `aud`/`iss` match when the
//! hub is configured to check them. A `tcphub` claim carries permissions:
//! `{"relay":["Client-*"],"broadcast":false,"list":true}`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde::{Deserialize, Serialize};
use tcphub_core::{AuthDecision, AuthRequest, Grant};

use super::permissions::PermissionSpec;
use super::{Auth, AuthConfigError, Authenticator, BoxFuture};

/// How far `exp` and `nbf` may be off by default: clocks of the hub and of
/// the backend that signs tokens are rarely more apart than this.
pub const DEFAULT_JWT_LEEWAY: Duration = Duration::from_secs(5);
/// The largest leeway accepted: beyond it `exp` hardly means anything.
pub const MAX_JWT_LEEWAY: Duration = Duration::from_secs(600);
/// The shortest HS256 secret accepted: 256 bits, the size of the hash
/// (RFC 7518, section 3.2).
pub const MIN_HS256_SECRET_BYTES: usize = 32;
/// The longest token looked at. A JWT with a handful of claims is a few
/// hundred bytes; a longer credential is refused without decoding it.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The signature algorithms a hub can be configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256: the hub and the issuer share a secret.
    Hs256,
    /// Ed25519 signatures: the hub holds only the public key.
    EdDsa,
    /// RSA PKCS#1 v1.5 with SHA-256: the hub holds only the public key.
    Rs256,
}

impl JwtAlgorithm {
    /// The name in a token's header (`HS256`, `EdDSA`, `RS256`).
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::Hs256 => "HS256",
            JwtAlgorithm::EdDsa => "EdDSA",
            JwtAlgorithm::Rs256 => "RS256",
        }
    }

    fn jsonwebtoken(self) -> Algorithm {
        match self {
            JwtAlgorithm::Hs256 => Algorithm::HS256,
            JwtAlgorithm::EdDsa => Algorithm::EdDSA,
            JwtAlgorithm::Rs256 => Algorithm::RS256,
        }
    }
}

impl std::str::FromStr for JwtAlgorithm {
    type Err = String;

    /// `hs256`, `eddsa` or `rs256`, in any case.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "hs256" => Ok(JwtAlgorithm::Hs256),
            "eddsa" | "ed25519" => Ok(JwtAlgorithm::EdDsa),
            "rs256" => Ok(JwtAlgorithm::Rs256),
            _ => Err(format!(
                "unknown JWT algorithm {text:?}: hs256, eddsa or rs256"
            )),
        }
    }
}

/// How a hub checks JWTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtOptions {
    /// The one algorithm accepted.
    pub algorithm: JwtAlgorithm,
    /// HS256: a file holding the shared secret (at least 32 bytes; one
    /// trailing newline is not part of it). EdDSA and RS256: the public
    /// key, PEM (`-----BEGIN PUBLIC KEY-----`).
    pub key_path: PathBuf,
    /// When set, a token's `aud` must name it. When not, a token that has
    /// an `aud` is refused: it was meant for someone else.
    pub audience: Option<String>,
    /// When set, a token's `iss` must be it.
    pub issuer: Option<String>,
    /// How far `exp` and `nbf` may be off (at most [`MAX_JWT_LEEWAY`]).
    pub leeway: Duration,
}

impl JwtOptions {
    /// Tokens signed with `algorithm`, checked with the key at `key_path`,
    /// no `aud` or `iss` check, [`DEFAULT_JWT_LEEWAY`].
    pub fn new(algorithm: JwtAlgorithm, key_path: impl Into<PathBuf>) -> Self {
        JwtOptions {
            algorithm,
            key_path: key_path.into(),
            audience: None,
            issuer: None,
            leeway: DEFAULT_JWT_LEEWAY,
        }
    }
}

/// The claims of a tcphub token, as [`issue_jwt`] writes them and the hub
/// reads them (the hub checks `exp`, `nbf`, `aud` and `iss` through
/// jsonwebtoken's validation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtClaims {
    /// The alias the token grants.
    pub sub: String,
    /// Seconds since the Unix epoch after which it is refused.
    pub exp: u64,
    /// Seconds since the Unix epoch before which it is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// When it was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Who it is meant for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Who issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Permissions; absent: everything allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcphub: Option<PermissionSpec>,
}

/// The claims the hub itself reads once the token is valid.
#[derive(Debug, Deserialize)]
struct GrantClaims {
    sub: String,
    #[serde(default)]
    tcphub: Option<PermissionSpec>,
}

/// An authenticator checking JWTs as `options` say. Fails, naming the
/// option and the file, when the key cannot be used for the algorithm.
pub fn jwt_auth(options: JwtOptions) -> Result<Auth, AuthConfigError> {
    if options.leeway > MAX_JWT_LEEWAY {
        return Err(AuthConfigError::Setting {
            option: "jwt_leeway",
            problem: format!(
                "{:?} is more than the most accepted, {MAX_JWT_LEEWAY:?}",
                options.leeway
            ),
        });
    }
    for (option, value) in [
        ("jwt_audience", &options.audience),
        ("jwt_issuer", &options.issuer),
    ] {
        if value.as_deref().is_some_and(str::is_empty) {
            return Err(AuthConfigError::Setting {
                option,
                problem: "may not be empty (leave it unset to not check it)".into(),
            });
        }
    }
    let key = decoding_key(options.algorithm, &options.key_path)?;
    let mut validation = Validation::new(options.algorithm.jsonwebtoken());
    validation.leeway = options.leeway.as_secs();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    let mut required = vec!["exp", "sub"];
    if let Some(audience) = &options.audience {
        validation.set_audience(&[audience]);
        required.push("aud");
    }
    if let Some(issuer) = &options.issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    validation.set_required_spec_claims(&required);
    let name = format!(
        "jwt {} {}",
        options.algorithm.as_str(),
        options.key_path.display()
    );
    Ok(Auth::new(
        name,
        JwtAuthenticator {
            key: Arc::new(key),
            validation: Arc::new(validation),
        },
    ))
}

/// Signs a token granting `claims.sub`, with the secret (HS256) or the
/// private key (EdDSA, RS256, PEM) at `key_path`: for tests, operations,
/// and the docs' examples. The error names the file (option `jwt_key`).
pub fn issue_jwt(
    algorithm: JwtAlgorithm,
    key_path: &Path,
    claims: &JwtClaims,
) -> Result<String, AuthConfigError> {
    let refuse = |problem: String| AuthConfigError::file("jwt_key", key_path, problem);
    let key = match algorithm {
        JwtAlgorithm::Hs256 => EncodingKey::from_secret(&hs256_secret(key_path)?),
        JwtAlgorithm::EdDsa | JwtAlgorithm::Rs256 => {
            let pem = read_key(key_path)?;
            if !pem.contains("PRIVATE KEY-----") {
                return Err(refuse(format!(
                    "not a PEM private key: signing {} tokens needs the private key",
                    algorithm.as_str()
                )));
            }
            let parsed = if algorithm == JwtAlgorithm::EdDsa {
                EncodingKey::from_ed_pem(pem.as_bytes())
            } else {
                EncodingKey::from_rsa_pem(pem.as_bytes())
            };
            parsed.map_err(|e| refuse(format!("not a {} private key: {e}", key_kind(algorithm))))?
        }
    };
    let header = jsonwebtoken::Header::new(algorithm.jsonwebtoken());
    jsonwebtoken::encode(&header, claims, &key).map_err(|e| refuse(format!("cannot sign: {e}")))
}

/// The key that checks signatures, from the file at `path`.
fn decoding_key(algorithm: JwtAlgorithm, path: &Path) -> Result<DecodingKey, AuthConfigError> {
    let refuse = |problem: String| AuthConfigError::file("jwt_key", path, problem);
    match algorithm {
        JwtAlgorithm::Hs256 => Ok(DecodingKey::from_secret(&hs256_secret(path)?)),
        JwtAlgorithm::EdDsa | JwtAlgorithm::Rs256 => {
            let pem = read_key(path)?;
            if pem.contains("PRIVATE KEY-----") {
                return Err(refuse(format!(
                    "is a private key; the hub needs only the public key (openssl pkey -in {} -pubout)",
                    path.display()
                )));
            }
            let parsed = if algorithm == JwtAlgorithm::EdDsa {
                DecodingKey::from_ed_pem(pem.as_bytes())
            } else {
                DecodingKey::from_rsa_pem(pem.as_bytes())
            };
            parsed.map_err(|e| refuse(format!("not a {} public key: {e}", key_kind(algorithm))))
        }
    }
}

fn key_kind(algorithm: JwtAlgorithm) -> &'static str {
    match algorithm {
        JwtAlgorithm::Hs256 => "HS256 secret",
        JwtAlgorithm::EdDsa => "PEM Ed25519",
        JwtAlgorithm::Rs256 => "PEM RSA",
    }
}

/// Key files are small: refuse anything larger than this unread.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

fn read_bytes(path: &Path) -> Result<Vec<u8>, AuthConfigError> {
    use std::io::Read;
    let refuse = |problem: String| AuthConfigError::file("jwt_key", path, problem);
    let file = std::fs::File::open(path).map_err(|e| refuse(format!("cannot read it: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(format!("cannot read it: {e}")))?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(refuse(format!(
            "larger than {} KiB: not a key file",
            MAX_KEY_FILE_BYTES >> 10
        )));
    }
    Ok(bytes)
}

fn read_key(path: &Path) -> Result<String, AuthConfigError> {
    String::from_utf8(read_bytes(path)?)
        .map_err(|_| AuthConfigError::file("jwt_key", path, "not PEM text"))
}

/// The HS256 secret in the file at `path`: its bytes, less one trailing
/// newline (so `echo` and editors can write it).
fn hs256_secret(path: &Path) -> Result<Vec<u8>, AuthConfigError> {
    let mut secret = read_bytes(path)?;
    if secret.ends_with(b"\n") {
        secret.pop();
        if secret.ends_with(b"\r") {
            secret.pop();
        }
    }
    // A public key used as an HMAC secret is the classic algorithm
    // confusion: anyone holding the public key could sign tokens.
    if secret.starts_with(b"-----BEGIN") {
        return Err(AuthConfigError::file(
            "jwt_key",
            path,
            "is a PEM key, not an HS256 secret: a key pair goes with the eddsa or rs256 algorithm",
        ));
    }
    if secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(AuthConfigError::file(
            "jwt_key",
            path,
            format!(
                "the HS256 secret is {} bytes; at least {MIN_HS256_SECRET_BYTES} are needed (e.g. `openssl rand -hex 32`)",
                secret.len()
            ),
        ));
    }
    Ok(secret)
}

/// Checks tokens against one key. Verifying a signature takes tens of
/// microseconds, so it runs on the question's own task, not on a
/// blocking thread.
struct JwtAuthenticator {
    key: Arc<DecodingKey>,
    validation: Arc<Validation>,
}

impl JwtAuthenticator {
    fn decide(&self, request: &AuthRequest) -> Result<Grant, String> {
        if request.token.len() > MAX_TOKEN_BYTES {
            return Err(format!("token longer than {MAX_TOKEN_BYTES} bytes"));
        }
        let data =
            jsonwebtoken::decode::<GrantClaims>(&*request.token, &self.key, &self.validation)
                .map_err(|e| refusal(&e))?;
        if data.claims.sub != request.alias.as_str() {
            return Err(format!("sub {:?} is not the alias", data.claims.sub));
        }
        let permissions = data
            .claims
            .tcphub
            .unwrap_or_default()
            .permissions()
            .map_err(|e| format!("tcphub claim: {e}"))?;
        Ok(Grant {
            identity: None,
            permissions,
        })
    }
}

/// Why jsonwebtoken refused a token, in words for the hub's log.
fn refusal(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => "bad signature (signed with another key?)".into(),
        ErrorKind::ExpiredSignature => "expired (exp is past)".into(),
        ErrorKind::ImmatureSignature => "not valid yet (nbf is ahead)".into(),
        ErrorKind::InvalidAlgorithm => "signed with another algorithm than configured".into(),
        ErrorKind::InvalidAudience => "aud is not the configured audience".into(),
        ErrorKind::InvalidIssuer => "iss is not the configured issuer".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("no {claim} claim"),
        _ => format!("not a valid JWT: {error}"),
    }
}

impl Authenticator for JwtAuthenticator {
    fn authenticate(&self, request: AuthRequest) -> BoxFuture<AuthDecision> {
        let checker = JwtAuthenticator {
            key: self.key.clone(),
            validation: self.validation.clone(),
        };
        Box::pin(async move {
            match checker.decide(&request) {
                Ok(grant) => AuthDecision::Grant(grant),
                Err(reason) => {
                    // Said here, never to the client, who learns only
                    // `unauthorized`.
                    tracing::info!(
                        alias = request.alias.as_str(),
                        session = &*request.session_id,
                        reason,
                        "jwt: credential refused"
                    );
                    AuthDecision::Deny
                }
            }
        })
    }
}
