//! The `sh` blocks of one section of a page of docs/, run by a real shell
//! as a reader would paste them: each line with `sh -c`, in a directory of
//! the test's own, with the `tcphub` under test first on `PATH`.
//!
//! A line's comment says what to check: `# prints: TEXT` (it prints TEXT,
//! on stdout or stderr), `# fails: TEXT` (it exits non-zero saying TEXT),
//! `# type: LINE` (a client that LINE is typed into).
//!
//! A `console` block is a terminal session: `$ COMMAND` (continued on the
//! next line after a trailing `\`), `> LINE` typed into it, and every
//! other line printed by it.

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

/// A section of a page: its `sh` blocks, in order, its `console` blocks
/// and its `toml` blocks.
#[derive(Debug, Default)]
pub struct Section {
    pub sh: Vec<Vec<ShellLine>>,
    pub console: Vec<Vec<ConsoleCommand>>,
    pub toml: Vec<String>,
}

/// One command of a `console` block, with what is typed into it and what
/// it prints.
#[derive(Debug, Clone, Default)]
pub struct ConsoleCommand {
    /// The command line without `$ `, continuation lines joined as sh
    /// joins them.
    pub command: String,
    /// Lines typed, in order, without `> `.
    pub typed: std::collections::VecDeque<String>,
    /// Lines printed, in order (`^C`, the terminal's echo of Ctrl-C, is
    /// left out).
    pub printed: Vec<String>,
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
                        "console" => found.console.push(console(body)),
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

fn console(body: &[String]) -> Vec<ConsoleCommand> {
    let mut commands: Vec<ConsoleCommand> = Vec::new();
    let mut continued = false;
    for line in body {
        if continued {
            let last = commands.last_mut().expect("a command continues");
            last.command.push(' ');
            last.command.push_str(line.trim());
        } else if let Some(command) = line.strip_prefix("$ ") {
            commands.push(ConsoleCommand {
                command: command.to_owned(),
                ..ConsoleCommand::default()
            });
        } else {
            let last = commands
                .last_mut()
                .unwrap_or_else(|| panic!("a console block starts with its command: {line}"));
            if let Some(typed) = line.strip_prefix("> ") {
                last.typed.push_back(typed.to_owned());
            } else if !line.trim().is_empty() && line.trim() != "^C" {
                last.printed.push(line.to_owned());
            }
            continue;
        }
        let last = commands.last_mut().unwrap();
        continued = last.command.ends_with('\\');
        if continued {
            last.command.pop();
            last.command = last.command.trim_end().to_owned();
        }
    }
    commands
}

/// A line as compared with the docs: `127.0.0.1:PORT` as `ADDR` (the docs
/// show port 9000 and made-up client ports), runs of spaces as one (table
/// columns are as wide as the addresses).
pub fn normalize(line: &str) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(HOST) {
        out.push_str(&rest[..at]);
        out.push_str("ADDR");
        rest = rest[at + HOST.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Asserts `shown` printed every line its block shows: the lines on
/// stdout in the order shown, a line on stderr (status lines) anywhere.
/// Lines compare as [`normalize`] leaves them.
pub fn assert_shown(shown: &ConsoleCommand, stdout: &str, stderr: &str) {
    let out: Vec<String> = stdout.lines().map(normalize).collect();
    let err: Vec<String> = stderr.lines().map(normalize).collect();
    let mut next = 0;
    for line in &shown.printed {
        let line_n = normalize(line);
        if let Some(at) = out[next..].iter().position(|l| *l == line_n) {
            next += at + 1;
        } else {
            assert!(
                err.contains(&line_n),
                "`{}` shows {line:?}, which it did not print (in that order).\nstdout:\n{}\nstderr:\n{}",
                shown.command,
                out.join("\n"),
                err.join("\n")
            );
        }
    }
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
