//! The first `sh` block of docs/security.md, run as written in a fresh
//! directory: `openssl` makes the certificate, `tcphub serve` speaks TLS
//! with it, and two `tcphub connect --tls --ca` clients talk through it.
//! Each command runs with exactly the block's arguments, except the hub's
//! address: it listens on a free port, and the clients are pointed there.
//! A `# type:` comment is typed into that client, a `# prints:` comment
//! must be printed by it.
//!
//! The authentication sections' `sh` blocks run too, line by line with a
//! real shell (`common::shell`), as a reader would paste them.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::doc_block::{sh_block, value_of, with_value};
use common::serve::{wait_for_text, ClientProcess, ServeProcess};
use common::shell::{self, path_with_tcphub};

/// A directory of the test's own, removed at the end.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_tls_example_runs_as_written() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("tcphub-security-docs-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let mut hub: Option<ServeProcess> = None;
    let mut clients = Vec::new();
    for line in sh_block("security.md") {
        let words = &line.words;
        match (words[0].as_str(), words.get(1).map(String::as_str)) {
            ("openssl", _) => {
                let made = Command::new("openssl")
                    .args(&words[1..])
                    .current_dir(&dir.0)
                    .output()
                    .expect("the openssl command");
                assert!(
                    made.status.success(),
                    "{}",
                    String::from_utf8_lossy(&made.stderr)
                );
            }
            ("tcphub", Some("serve")) => {
                let args = with_value(&words[1..], "--listen", "127.0.0.1:0");
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                hub = Some(ServeProcess::start_exactly_in(
                    &dir.0,
                    &args,
                    &[("TCPHUB_LOG_FORMAT", "json")],
                ));
            }
            ("tcphub", Some("connect")) => {
                let addr = hub.as_ref().expect("serve comes first").server_arg();
                let args = with_value(&words[1..], "--server", &addr);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let mut client = ClientProcess::start_typing_in(&dir.0, &args, &[]);
                let name = value_of(words, "--name");
                // The status line goes to stderr, messages to stdout.
                wait_for_text(&client.stderr, &format!("as {name}"));
                if let Some(typed) = &line.typed {
                    client.type_line(typed);
                }
                clients.push((client, line.printed.clone()));
            }
            _ => panic!("the block runs only openssl and tcphub, not {words:?}"),
        }
    }
    let printed: Vec<_> = clients.iter().filter(|(_, p)| p.is_some()).collect();
    assert!(!printed.is_empty(), "the block says what a client prints");
    for (client, expected) in printed {
        wait_for_text(&client.stdout, expected.as_deref().unwrap());
    }
    let (status, _out, logs) = hub.unwrap().terminate();
    assert!(status.success(), "{logs}");
    assert!(logs.contains("\"tls\":true"), "{logs}");
}

#[test]
fn the_auth_file_example_runs_as_written() {
    run_section("### With a file of hashed secrets", "auth-file");
}

#[test]
fn the_jwt_examples_run_as_written() {
    run_section("### With signed tokens (JWT)", "auth-jwt");
}

/// Runs the `sh` blocks under `heading` in a fresh directory, after
/// writing its `toml` block (if any) as `auth.toml`, which the text names.
/// A hub (`tcphub serve ... &`) listens on a free port, and the lines after
/// it reach it through `TCPHUB_SERVER`; a client given a `# type:` or
/// `# prints:` line is left running, as in a terminal of its own.
fn run_section(heading: &str, name: &str) {
    let dir = TempDir(
        std::env::temp_dir().join(format!("tcphub-security-{name}-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let section = shell::section("security.md", heading);
    assert!(!section.sh.is_empty(), "{heading} has sh blocks");
    if let Some(toml) = section.toml.first() {
        std::fs::write(dir.0.join("auth.toml"), toml).unwrap();
    }
    let path = path_with_tcphub();
    let mut hubs: Vec<ServeProcess> = Vec::new();
    let mut server = String::new();
    let mut clients = Vec::new();
    for line in section.sh.iter().flatten() {
        let env = [("PATH", path.as_str()), ("TCPHUB_SERVER", server.as_str())];
        let words: Vec<String> = line.command.split_whitespace().map(str::to_owned).collect();
        if line.command.starts_with("tcphub serve") {
            assert!(line.command.ends_with('&'), "a hub runs in the background");
            let words: Vec<String> = words.into_iter().filter(|w| w != "&").collect();
            let args = with_value(&words[1..], "--listen", "127.0.0.1:0");
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let hub =
                ServeProcess::start_exactly_in(&dir.0, &args, &[("TCPHUB_LOG_FORMAT", "json")]);
            server = hub.server_arg();
            hubs.push(hub);
        } else if line.command.contains("tcphub connect") {
            let mut client = shell::spawn(&line.command, &dir.0, &env);
            let name = value_of(&words, "--name");
            wait_for_text(&client.stderr, &format!("as {name}"));
            if let Some(typed) = &line.typed {
                client.type_line(typed);
            }
            clients.push((client, line.printed.clone()));
        } else {
            let out = shell::run(&line.command, &dir.0, &env);
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            match &line.fails {
                Some(expected) => {
                    assert!(
                        !out.status.success(),
                        "{:?} should fail: {said}",
                        line.command
                    );
                    assert!(
                        said.contains(expected.as_str()),
                        "{:?}: {said}",
                        line.command
                    );
                }
                None => assert!(out.status.success(), "{:?}: {said}", line.command),
            }
            if let Some(expected) = &line.printed {
                assert!(
                    said.contains(expected.as_str()),
                    "{:?}: {said}",
                    line.command
                );
            }
        }
    }
    let printed: Vec<_> = clients.iter().filter(|(_, p)| p.is_some()).collect();
    assert!(!printed.is_empty(), "the section says what a client prints");
    for (client, expected) in printed {
        wait_for_text(&client.stdout, expected.as_deref().unwrap());
    }
    drop(clients);
    for hub in hubs {
        let (status, _out, logs) = hub.terminate();
        assert!(status.success(), "{logs}");
        assert!(
            logs.contains("\"auth\":"),
            "the hub says how it authenticates: {logs}"
        );
    }
}

/// The Rust example of "The host program decides" is
/// native/examples/authenticate.rs, byte for byte, and prints what the
/// page says it prints.
#[test]
fn the_host_decides_example_is_the_example_program_and_runs() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let docs = std::fs::read_to_string(format!("{manifest}/../docs/security.md")).unwrap();
    let example = std::fs::read_to_string(format!("{manifest}/examples/authenticate.rs")).unwrap();
    let section = &docs[docs
        .find("### The host program decides")
        .expect("the section")..];
    let block = |fence: &str| {
        let start = section.find(fence).unwrap_or_else(|| panic!("{fence}")) + fence.len();
        section[start..start + section[start..].find("```").unwrap()].to_owned()
    };
    assert_eq!(
        block("```rust\n"),
        example,
        "docs/security.md drifted from the example"
    );
    let program = common::example::program("authenticate");
    let out = Command::new(&program)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), block("```text\n"));
}
