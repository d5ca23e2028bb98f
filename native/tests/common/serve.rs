//! The `tcphub` binary as a user runs it: `tcphub serve` in the background,
//! client commands against it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TCPHUB: &str = env!("CARGO_BIN_EXE_tcphub");

/// A `tcphub serve` process on an OS-chosen loopback port.
pub struct ServeProcess {
    child: Child,
    pub addr: SocketAddr,
    pub stdin: Option<ChildStdin>,
    /// Everything it printed so far on stdout and stderr.
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
}

impl ServeProcess {
    /// Starts `tcphub serve --listen 127.0.0.1:0 --log-format json ARGS`
    /// with `env`, and waits for its `listening` log line.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        let mut command = Command::new(TCPHUB);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(args);
        Self::spawn(command, env)
    }

    /// Starts `tcphub ARGS` exactly as given (a command line from the
    /// docs), listening where `env` says (`TCPHUB_LISTEN=127.0.0.1:0`) and
    /// logging JSON (`TCPHUB_LOG_FORMAT=json`) so the address can be read.
    pub fn start_exactly(args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        let mut command = Command::new(TCPHUB);
        command.args(args);
        Self::spawn(command, env)
    }

    /// As [`start_exactly`](Self::start_exactly), in the directory `dir`
    /// (where the docs' relative file names are).
    pub fn start_exactly_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        let mut command = Command::new(TCPHUB);
        command.args(args).current_dir(dir);
        Self::spawn(command, env)
    }

    /// As [`start`](Self::start), with at most `limit` open files (soft
    /// and hard, so `serve` cannot raise it).
    pub fn start_with_fd_limit(limit: u32, args: &[&str]) -> ServeProcess {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!(
                "ulimit -n {limit} && exec \"$0\" serve --listen 127.0.0.1:0 --log-format json \"$@\""
            ))
            .arg(TCPHUB)
            .args(args);
        Self::spawn(command, &[])
    }

    fn spawn(mut command: Command, env: &[(&str, &str)]) -> ServeProcess {
        let mut child = command
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tcphub serve");
        let stdin = child.stdin.take();
        let stdout = collect_output(child.stdout.take().unwrap());
        let (stderr, addr) = collect_until_listening(child.stderr.take().unwrap());
        ServeProcess {
            child,
            addr,
            stdin,
            stdout,
            stderr,
        }
    }

    pub fn server_arg(&self) -> String {
        self.addr.to_string()
    }

    /// Types a line on the server's console (`--console`).
    pub fn console(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends it a signal by name (`STOP`, `CONT`, ...).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Kills it with SIGKILL: no bye, no cleanup, as a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGINT, as Ctrl-C in its terminal, and waits for the exit.
    pub fn interrupt(self) -> (ExitStatus, String, String) {
        self.stop_with("INT")
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(self) -> (ExitStatus, String, String) {
        self.stop_with("TERM")
    }

    fn stop_with(mut self, signal: &str) -> (ExitStatus, String, String) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let status = wait_with_deadline(&mut self.child, Duration::from_secs(20));
        // Let the collector threads read the last bytes.
        std::thread::sleep(Duration::from_millis(100));
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (status, out, err)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a client command to completion (with a deadline), stdin from `input`.
pub fn tcphub(args: &[&str], input: &str) -> Output {
    tcphub_with_env(args, &[], input)
}

/// As [`tcphub`], with `env` set (`TCPHUB_SERVER`, say).
pub fn tcphub_with_env(args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    let mut child = Command::new(TCPHUB)
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcphub");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let out = collect_output(child.stdout.take().unwrap());
    let err = collect_output(child.stderr.take().unwrap());
    let status = wait_with_deadline(&mut child, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(50));
    let stdout = out.lock().unwrap().clone().into_bytes();
    let stderr = err.lock().unwrap().clone().into_bytes();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// A long-running client command (such as `connect --stay`) whose output
/// is collected as it comes.
pub struct ClientProcess {
    pub child: Child,
    /// Its stdin, for a process started to be typed at.
    pub stdin: Option<ChildStdin>,
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
}

impl ClientProcess {
    pub fn start(args: &[&str]) -> ClientProcess {
        Self::spawn(args, &[], Stdio::null(), None)
    }

    /// Starts a client whose stdin stays open: lines are typed with
    /// [`type_line`](Self::type_line), as a person at a terminal would.
    pub fn start_typing(args: &[&str], env: &[(&str, &str)]) -> ClientProcess {
        Self::spawn(args, env, Stdio::piped(), None)
    }

    /// As [`start_typing`](Self::start_typing), in the directory `dir`.
    pub fn start_typing_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> ClientProcess {
        Self::spawn(args, env, Stdio::piped(), Some(dir))
    }

    fn spawn(
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Stdio,
        dir: Option<&Path>,
    ) -> ClientProcess {
        let mut command = Command::new(TCPHUB);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let mut child = command
            .args(args)
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tcphub");
        let stdout = collect_output(child.stdout.take().unwrap());
        let stderr = collect_output(child.stderr.take().unwrap());
        ClientProcess {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
        }
    }

    /// Types one line on the client's stdin.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("started with start_typing");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Kills the process (SIGKILL, by its id): it says nothing more, and
    /// the kernel closes its connection.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn wait(mut self) -> (ExitStatus, String) {
        let status = wait_with_deadline(&mut self.child, Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(50));
        let out = self.stdout.lock().unwrap().clone();
        (status, out)
    }
}

impl Drop for ClientProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `text` appears in `buffer`.
pub fn wait_for_text(buffer: &Arc<Mutex<String>>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if buffer.lock().unwrap().contains(text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{text:?} never appeared in:\n{}",
            buffer.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Collects what `pipe` yields into a shared string, from a thread.
pub fn collect_output(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buffer = Arc::new(Mutex::new(String::new()));
    let sink = buffer.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut chunk) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    buffer
}

fn collect_until_listening(pipe: impl Read + Send + 'static) -> (Arc<Mutex<String>>, SocketAddr) {
    let buffer = Arc::new(Mutex::new(String::new()));
    let sink = buffer.clone();
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(pipe);
        let mut line = String::new();
        let mut found = Some(found);
        while lines.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if let Some(addr) = listening_addr(&line) {
                if let Some(found) = found.take() {
                    let _ = found.send(addr);
                }
            }
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    let addr = address
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            panic!(
                "serve never logged `listening`:\n{}",
                buffer.lock().unwrap()
            )
        });
    (buffer, addr.parse().expect("a socket address"))
}

/// The address of a `listening` log line, JSON or human (`... INFO
/// listening addr=127.0.0.1:9000 tls=false`, as the docs show serve's log).
fn listening_addr(line: &str) -> Option<String> {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(line) {
        return (json["message"] == "listening")
            .then(|| json["addr"].as_str().unwrap_or("").to_owned());
    }
    let mut words = line.split_whitespace().skip_while(|w| *w != "INFO").skip(1);
    if words.next() != Some("listening") {
        return None;
    }
    words
        .find_map(|w| w.strip_prefix("addr="))
        .map(str::to_owned)
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process {} did not exit in time", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
