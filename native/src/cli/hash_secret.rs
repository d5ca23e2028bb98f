//! `tcphub hash-secret`: the argon2id hash of a secret read on stdin, for
//! an `--auth` file.

use std::io::{BufRead, IsTerminal, Read};
use std::process::ExitCode;

/// The longest secret read: a passphrase, not a file.
const MAX_SECRET_BYTES: u64 = 4096;

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
    printf '%s' 's3cret' | tcphub hash-secret\n\n\
    The secret is read from stdin (one trailing newline is not part of it), so \
    it does not show in the process list. Put the printed line in the auth \
    file as `secret = \"$argon2id$...\"` under `[aliases.NAME]`; the client \
    sends the secret itself as its token.")]
pub struct HashSecretArgs {}

pub fn run(_args: HashSecretArgs) -> Result<ExitCode, String> {
    let stdin = std::io::stdin();
    let mut secret = Vec::new();
    if stdin.is_terminal() {
        // Typed at a prompt: one line (echoed; prefer a pipe where others
        // can see the screen).
        eprint!("secret (then Enter): ");
        let mut line = String::new();
        stdin
            .lock()
            .take(MAX_SECRET_BYTES + 1)
            .read_line(&mut line)
            .map_err(|e| format!("reading the secret: {e}"))?;
        secret = line.into_bytes();
    } else {
        stdin
            .lock()
            .take(MAX_SECRET_BYTES + 1)
            .read_to_end(&mut secret)
            .map_err(|e| format!("reading the secret from stdin: {e}"))?;
    }
    if secret.len() as u64 > MAX_SECRET_BYTES {
        return Err(format!(
            "the secret on stdin is longer than {MAX_SECRET_BYTES} bytes"
        ));
    }
    if secret.ends_with(b"\n") {
        secret.pop();
        if secret.ends_with(b"\r") {
            secret.pop();
        }
    }
    if secret.is_empty() {
        return Err("no secret on stdin: e.g. printf '%s' 's3cret' | tcphub hash-secret".into());
    }
    // A token travels in a JSON string: the client sends it as text.
    if std::str::from_utf8(&secret).is_err() {
        return Err("the secret on stdin is not UTF-8 text".into());
    }
    let hash =
        tcphub_native::hash_secret(&secret).map_err(|e| format!("cannot hash the secret: {e}"))?;
    println!("{hash}");
    Ok(ExitCode::SUCCESS)
}
