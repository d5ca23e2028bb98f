//! The first `sh` block of docs/security.md, run as written in a fresh
//! directory: `openssl` makes the certificate, `tcphub serve` speaks TLS
//! with it, and two `tcphub connect --tls --ca` clients talk through it.
//! Each command runs with exactly the block's arguments, except the hub's
//! address: it listens on a free port, and the clients are pointed there.
//! A `# type:` comment is typed into that client, a `# prints:` comment
//! must be printed by it.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::doc_block::{sh_block, value_of, with_value};
use common::serve::{wait_for_text, ClientProcess, ServeProcess};

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
