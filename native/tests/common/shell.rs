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
    let stdout = read_to_end(child.stdout.take().unwrap());
    let stderr = read_to_end(child.stderr.take().unwrap());
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
    // Every byte is read once the pipes reach their end, which they do
    // when the command exits (unless it left a process holding them).
    let whole = |pipe: std::sync::mpsc::Receiver<Vec<u8>>| {
        let left = deadline.saturating_duration_since(Instant::now());
        pipe.recv_timeout(left).unwrap_or_else(|_| {
            panic!("{command:?} exited, but something it started still holds its output open")
        })
    };
    Output {
        status,
        stdout: whole(stdout),
        stderr: whole(stderr),
    }
}

/// Reads `pipe` to its end on a thread of its own, so that a command
/// filling one pipe never blocks on the other; the bytes come once whole.
fn read_to_end(
    mut pipe: impl std::io::Read + Send + 'static,
) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (done, whole) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = done.send(bytes);
    });
    whole
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
