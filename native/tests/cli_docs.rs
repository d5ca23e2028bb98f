//! The terminal sessions of docs/native.md for `serve`, `connect`, `send`,
//! `sub | jq` and `list`, and README.md's block of `tcphub` commands, run
//! as written: each `$` command line by a real shell (`common::shell`),
//! with the `tcphub` under test first on `PATH`, and every line a block
//! shows printed must be printed (ports as `ADDR`, the log's timestamps
//! left out). Only addresses differ: the hub listens on a free port
//! (`TCPHUB_LISTEN`) and the clients find it through `TCPHUB_SERVER`.

mod common;

use std::path::{Path, PathBuf};

use common::serve::{wait_for_text, ClientProcess, ServeProcess, TCPHUB};
use common::shell::{self, assert_shown, normalize, path_with_tcphub, ConsoleCommand};

/// A directory of the test's own, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("tcphub-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The console blocks under `heading` of docs/native.md.
fn blocks(heading: &str) -> Vec<Vec<ConsoleCommand>> {
    let found = shell::section("native.md", heading).console;
    assert!(!found.is_empty(), "{heading} has console blocks");
    found
}

/// `tcphub serve ...` as a block shows it, in the background on a free
/// port, logging as it does for a person.
fn serve(command: &str) -> ServeProcess {
    assert!(
        !command.contains(['\'', '"', '|', ';', '&']),
        "a plain command line: {command}"
    );
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[..2], ["tcphub", "serve"], "{command}");
    ServeProcess::start_exactly(&words[1..], &[("TCPHUB_LISTEN", "127.0.0.1:0")])
}

/// Runs `command` as a reader pasting it would, against `hub`.
fn run(command: &str, dir: &Path, hub: &ServeProcess) -> (bool, String, String) {
    let path = path_with_tcphub();
    let server = hub.server_arg();
    let out = shell::run(
        command,
        dir,
        &[("PATH", path.as_str()), ("TCPHUB_SERVER", server.as_str())],
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `command` as in a terminal of its own, against `hub`.
fn spawn(command: &str, dir: &Path, hub: &ServeProcess) -> ClientProcess {
    let path = path_with_tcphub();
    let server = hub.server_arg();
    shell::spawn(
        command,
        dir,
        &[("PATH", path.as_str()), ("TCPHUB_SERVER", server.as_str())],
    )
}

/// A log line without its timestamp, the one thing that differs by run.
fn untimed(line: &str) -> &str {
    match line.split_once(' ') {
        Some((stamp, rest)) if stamp.ends_with('Z') && stamp.contains('T') => rest,
        _ => line,
    }
}

/// Asserts the command printed exactly what its block shows, stdout and
/// stderr together (a one-shot command's lines interleave only by pipe).
fn assert_exactly(shown: &ConsoleCommand, stdout: &str, stderr: &str) {
    let mut printed: Vec<String> = stdout
        .lines()
        .chain(stderr.lines())
        .map(normalize)
        .collect();
    let mut expected: Vec<String> = shown.printed.iter().map(|l| normalize(l)).collect();
    printed.sort();
    expected.sort();
    assert_eq!(printed, expected, "`{}`", shown.command);
}

#[test]
fn the_serve_connect_and_send_sessions_run_as_written() {
    let dir = TempDir::new("cli-docs");
    let serve_block = &blocks("### `tcphub serve`")[0];
    assert_eq!(serve_block.len(), 1);
    let connect = blocks("### `tcphub connect --name ALIAS [--server ADDR]`");
    let send =
        blocks("### `tcphub send --to ALIAS|* | --room ROOM [--name NAME] MESSAGE|-|--lines`");
    let (one_shown, two_shown) = (&connect[0][0], &connect[1][0]);

    let hub = serve(&serve_block[0].command);
    // In one terminal, Client-1; in another, Client-2 with piped input.
    let one = spawn(&one_shown.command, &dir.0, &hub);
    wait_for_text(&one.stderr, "connected to");
    let (ok, out, err) = run(&two_shown.command, &dir.0, &hub);
    // A refused message makes connect exit 1 (as the exit-status table says).
    assert!(!ok, "{err}");
    assert_shown(two_shown, &out, &err);
    wait_for_text(&one.stdout, "[Client-2] hello everyone");

    // The one-shot sends, each printing exactly what is shown.
    assert_eq!(send.len(), 1);
    for command in &send[0] {
        let (_, out, err) = run(&command.command, &dir.0, &hub);
        assert_exactly(command, &out, &err);
    }
    wait_for_text(&one.stdout, "[ops] deploy at 18:00");

    // Ctrl-C on the hub: every client is told bye, and Client-1 exits 0.
    let (status, hub_out, hub_log) = hub.interrupt();
    assert!(status.success(), "{hub_log}");
    let (one_out, one_err) = (one.stdout.clone(), one.stderr.clone());
    let (status, _) = one.wait();
    assert!(status.success(), "{status:?}");
    assert_shown(
        one_shown,
        &one_out.lock().unwrap(),
        &one_err.lock().unwrap(),
    );

    let shown = ConsoleCommand {
        printed: serve_block[0]
            .printed
            .iter()
            .map(|l| untimed(l).to_owned())
            .collect(),
        ..serve_block[0].clone()
    };
    let log: String = hub_log
        .lines()
        .map(|l| format!("{}\n", untimed(l)))
        .collect();
    assert_shown(&shown, &hub_out, &log);
}

#[test]
fn the_list_session_runs_as_written() {
    let dir = TempDir::new("cli-docs-list");
    let hub = serve("tcphub serve");
    let connect = &blocks("### `tcphub connect --name ALIAS [--server ADDR]`")[0][0];
    let one = spawn(&connect.command, &dir.0, &hub);
    wait_for_text(&one.stderr, "connected to");
    let list = blocks("### `tcphub list`");
    assert_eq!(list.len(), 1);
    for command in &list[0] {
        let (ok, out, err) = run(&command.command, &dir.0, &hub);
        assert!(ok, "{err}");
        assert_exactly(command, &out, &err);
    }
}

#[test]
fn the_sub_and_jq_session_runs_as_written() {
    let dir = TempDir::new("cli-docs-jq");
    let hub = serve("tcphub serve");
    let jq = blocks("### `tcphub sub`");
    assert_eq!(jq.len(), 1);
    let (piped, first) = (&jq[0][0], &jq[0][1]);

    // `--count 1 --timeout 30s > first.json`: the first message, in a file.
    let waiting = spawn(&first.command, &dir.0, &hub);
    wait_for_text(&waiting.stderr, "subscribed to");
    let (ok, _, err) = run("tcphub send --to '*' 'first!'", &dir.0, &hub);
    assert!(ok, "{err}");
    let (status, out) = waiting.wait();
    assert!(status.success() && out.is_empty(), "{status:?} {out}");
    let saved = std::fs::read_to_string(dir.0.join("first.json")).unwrap();
    let line: serde_json::Value = serde_json::from_str(saved.trim_end()).unwrap();
    assert_eq!(line["message"], "first!", "{saved}");

    // The pipeline runs until the hub stops; what it is sent is what the
    // block shows, sent to Client-1 by ops. jq writes to a pipe in blocks,
    // not lines, so its output is read once it ends: `send` returns once
    // the hub has queued the message, and a hub shutting down flushes
    // every queue before its bye.
    let listener = spawn(&piped.command, &dir.0, &hub);
    wait_for_text(&listener.stderr, "subscribed to");
    for message in ["'deploy at 18:00'", r#"--json '{"temp":21.5}'"#] {
        let (ok, _, err) = run(
            &format!("tcphub send --to Client-1 --name ops {message}"),
            &dir.0,
            &hub,
        );
        assert!(ok, "{err}");
    }
    let (status, _, log) = hub.terminate();
    assert!(status.success(), "{log}");
    let err = listener.stderr.clone();
    let (status, out) = listener.wait();
    assert!(status.success(), "{status:?}");
    assert_shown(piped, &out, &err.lock().unwrap());
    assert!(first.printed.is_empty());
}

/// README.md's block of `tcphub` commands, after the `cargo build` that
/// makes `target/release/tcphub`: here a link to the binary under test, so
/// the lines run as written from the repository's root.
#[test]
fn the_readme_commands_run_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("## Using the `tcphub` binary")
        .expect("the section");
    let body = common::example::block(&readme[start..], "```sh");
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines[0].starts_with("cargo build --release -p tcphub-native "));
    let command = |line: &str| line.split(" # ").next().unwrap().trim().to_owned();

    let dir = TempDir::new("cli-docs-readme");
    std::fs::create_dir_all(dir.0.join("target/release")).unwrap();
    std::os::unix::fs::symlink(TCPHUB, dir.0.join("target/release/tcphub")).unwrap();
    let mut rest = lines[1..].iter();
    let serve_line = command(rest.next().unwrap());
    let serve_words: Vec<&str> = serve_line.split_whitespace().collect();
    assert_eq!(serve_words, ["target/release/tcphub", "serve"]);
    let hub =
        ServeProcess::start_exactly_in(&dir.0, &["serve"], &[("TCPHUB_LISTEN", "127.0.0.1:0")]);

    let connect_line = rest.next().unwrap();
    let mut one = spawn(&command(connect_line), &dir.0, &hub);
    wait_for_text(&one.stderr, "connected to");
    // The comment says what to type: `* hi all` reaches everyone else.
    assert!(connect_line.contains("`* hi all`"), "{connect_line}");

    let send_line = command(rest.next().unwrap());
    let (ok, _, err) = run(&send_line, &dir.0, &hub);
    assert!(ok, "{send_line}: {err}");
    wait_for_text(&one.stdout, "[ops] deploy at 18:00");

    let sub_line = command(rest.next().unwrap());
    let sub = spawn(&sub_line, &dir.0, &hub);
    wait_for_text(&sub.stderr, "subscribed to");
    one.type_line("* hi all");
    let (status, out) = sub.wait();
    assert!(status.success(), "{sub_line}: {status:?}");
    assert_eq!(out, "\"hi all\"\n", "{sub_line}");

    let list_line = command(rest.next().unwrap());
    let (ok, out, err) = run(&list_line, &dir.0, &hub);
    assert!(ok, "{err}");
    assert!(
        out.lines().any(|l| normalize(l) == "ADDR Client-1"),
        "{list_line}: {out}"
    );
    assert!(rest.next().is_none(), "a line this test does not run");
}
