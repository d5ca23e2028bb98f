//! The `sh` blocks of one section of a page of docs/, run by a real shell
//! as a reader would paste them: each line with `sh -c`, in a directory of
//! the test's own, with the `tcphub` under test first on `PATH`.
//!
//! A line's comment says what to check: `# prints: TEXT` (it prints TEXT,
//! on stdout or stderr), `# fails: TEXT` (it exits non-zero saying TEXT),
//! `# type: LINE` (a client that LINE is typed into).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::serve::{collect_output, ClientProcess, TCPHUB};

/// One command line of a block and what its comment asks.
#[derive(Debug, Clone)]
pub struct ShellLine {
    /// The command, as a shell reads it.
    pub command: String,
    pub typed: Option<String>,
    pub printed: Option<String>,
    pub fails: Option<String>,
}

/// A section of a page: its `sh` blocks, in order, and its `toml` blocks.
#[derive(Debug, Default)]
pub struct Section {
    pub sh: Vec<Vec<ShellLine>>,
    pub toml: Vec<String>,
}

/// The blocks under `heading` (a whole line, such as `### With a file`),
/// up to the next heading of any level.
pub fn section(page: &str, heading: &str) -> Section {
    let path = format!("{}/../docs/{page}", env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = docs.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "{heading:?} in {page}");
    let mut found = Section::default();
    let mut block: Option<(String, Vec<String>)> = None;
    for line in lines {
        match &mut block {
            None if line.starts_with('#') => break,
            None => {
                if let Some(kind) = line.strip_prefix("```") {
                    block = Some((kind.to_owned(), Vec::new()));
                }
            }
            Some((kind, body)) => {
                if line == "```" {
                    match kind.as_str() {
                        "sh" => found.sh.push(body.iter().map(|l| parse(l)).collect()),
                        "toml" => found.toml.push(body.join("\n") + "\n"),
                        _ => {}
                    }
                    block = None;
                } else {
                    body.push(line.to_owned());
                }
            }
        }
    }
    found
}

fn parse(line: &str) -> ShellLine {
    let mut parsed = ShellLine {
        command: line.trim().to_owned(),
        typed: None,
        printed: None,
        fails: None,
    };
    for (marker, slot) in [
        ("# prints: ", &mut parsed.printed),
        ("# type: ", &mut parsed.typed),
        ("# fails: ", &mut parsed.fails),
    ] {
        if let Some(at) = line.find(marker) {
            *slot = Some(line[at + marker.len()..].trim().to_owned());
            parsed.command = line[..at].trim().to_owned();
        }
    }
    parsed
}

/// `PATH` with the directory of the `tcphub` under test first.
pub fn path_with_tcphub() -> String {
    let bin = Path::new(TCPHUB).parent().expect("a directory");
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs `command` with `sh -c` in `dir`, with `env`, to completion (20 s
/// at most).
pub fn run(command: &str, dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh");
    let out = collect_output(child.stdout.take().unwrap());
    let err = collect_output(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Let the collector threads read the last bytes.
    std::thread::sleep(Duration::from_millis(50));
    let stdout = out.lock().unwrap().clone().into_bytes();
    let stderr = err.lock().unwrap().clone().into_bytes();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Starts `command` with `sh -c` in `dir`, stdin open for typing, as a
/// client left running in its own terminal. (Not `exec`: a line may start
/// with variable assignments. If the shell does not exec the command
/// itself, the client still ends when its stdin closes or the hub stops.)
pub fn spawn(command: &str, dir: &Path, env: &[(&str, &str)]) -> ClientProcess {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh");
    let stdout = collect_output(child.stdout.take().unwrap());
    let stderr = collect_output(child.stderr.take().unwrap());
    ClientProcess {
        stdin: child.stdin.take(),
        child,
        stdout,
        stderr,
    }
}
