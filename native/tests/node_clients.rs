//! The tutorial's own Node.js client programs against `tcphub serve`: their
//! alias is registered, their message reaches the host, and messages sent to
//! their alias reach them. Skipped (with a note) where `node` is missing.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::serve::*;
use tcphub_native::client::Client;

fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn tutorial_node_clients_work_unchanged() {
    if !node_available() {
        eprintln!("node is not installed; the tutorial's Node.js clients were not run");
        return;
    }
    let mut serve = ServeProcess::start(&["--console"], &[]);
    let port = serve.addr.port().to_string();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let spawn = |name: &str| {
        let mut child = Command::new("node")
            .arg(fixtures.join(name))
            .env("TCPHUB_PORT", &port)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn node");
        let out = collect_output(child.stdout.take().unwrap());
        KillOnDrop(child, out)
    };
    let one = spawn("client-1.js");
    let two = spawn("client-2.js");

    // Their `sync` (no delimiter, an extra field) registered both aliases.
    let addr = serve.addr;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let mut probe = Client::connect(addr).await.unwrap();
            let names: Vec<_> = probe
                .list()
                .await
                .unwrap()
                .into_iter()
                .filter_map(|s| s.client_name)
                .collect();
            if names.contains(&"Client-1".to_owned()) && names.contains(&"Client-2".to_owned()) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "aliases: {names:?}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });

    // The tutorial server's three notices, from the host's console.
    serve.console("* 大家来领物资了");
    serve.console("@Client-1 赶紧来做核酸了, 就差你了");
    serve.console("@Client-2 一会儿上门做核酸");
    wait_for_text(&one.1, "大家来领物资了");
    wait_for_text(&one.1, "赶紧来做核酸了, 就差你了");
    wait_for_text(&two.1, "大家来领物资了");
    wait_for_text(&two.1, "一会儿上门做核酸");
    // Three seconds after connecting each sends its `info` to the host.
    // Strings that read as numbers show quoted (issue 14): they are
    // strings, not the numbers 1111 and 222.
    wait_for_text(&serve.stdout, "[Client-1] \"1111\"");
    wait_for_text(&serve.stdout, "[Client-2] \"222\"");
    // Each received only its own directed message.
    assert!(!one.1.lock().unwrap().contains("一会儿上门做核酸"));
    assert!(!two.1.lock().unwrap().contains("赶紧来做核酸了"));
    let (status, _, logs) = serve.terminate();
    assert!(status.success(), "{logs}");
}

struct KillOnDrop(
    std::process::Child,
    std::sync::Arc<std::sync::Mutex<String>>,
);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
