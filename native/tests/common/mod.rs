//! Helpers shared by the integration tests: a server on an OS-chosen
//! loopback port, and clients for it.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::time::Duration;

use tcphub_core::{Event, HubConfig, HubFrame, RawValue};
use tcphub_native::client::Client;
use tcphub_native::{HostEvents, HubHandle, Server, ServerOptions};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod chaos_kit;
pub mod doc_block;
pub mod example;
pub mod raw;
pub mod redis;
pub mod serve;
pub mod shell;

/// Longest any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// A running server and the means to talk to and stop it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub hub: HubHandle,
    pub events: HostEvents,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), tcphub_native::ServeError>>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::with(|_| {}).await
    }

    pub async fn with_hub(config: HubConfig) -> TestServer {
        Self::with(|o| o.hub = config).await
    }

    pub async fn with(adjust: impl FnOnce(&mut ServerOptions)) -> TestServer {
        let mut options = ServerOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..ServerOptions::default()
        };
        adjust(&mut options);
        let (server, hub, events) = Server::bind(options).await.expect("bind");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            hub,
            events,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await.expect("connect")
    }

    /// A client that has synced `alias`.
    pub async fn synced(&self, alias: &str) -> Client {
        let mut client = self.client().await;
        within(client.sync(alias)).await.expect("sync");
        client
    }

    /// Stops the server the way Ctrl-C does and waits until `run` returned.
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        within(self.task.take().unwrap())
            .await
            .expect("run task")
            .expect("run result");
    }

    /// Shuts down and returns every event not read yet, up to the end of
    /// the event stream (which ends when the server has stopped).
    pub async fn shutdown_collecting_events(mut self) -> Vec<Event> {
        let _ = self.stop.take().unwrap().send(());
        let mut events = Vec::new();
        within(async {
            while let Some(event) = self.events.recv().await {
                events.push(event);
            }
        })
        .await;
        within(self.task.take().unwrap())
            .await
            .expect("run task")
            .expect("run result");
        events
    }

    /// Waits for the first event `pick` accepts.
    pub async fn event<T>(&mut self, mut pick: impl FnMut(Event) -> Option<T>) -> T {
        within(async {
            loop {
                let event = self.events.recv().await.expect("server still running");
                if let Some(found) = pick(event) {
                    return found;
                }
            }
        })
        .await
    }
}

/// Runs `f`, failing the test if it takes longer than [`WAIT`].
pub async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(WAIT, f)
        .await
        .expect("timed out waiting")
}

/// The next frame, which must come.
pub async fn frame(client: &mut Client) -> HubFrame {
    within(client.expect_frame()).await.expect("a frame")
}

/// Asserts the next frame is an `info` from `from` carrying `message` (JSON).
pub async fn expect_info(client: &mut Client, from: &str, message: serde_json::Value) {
    match frame(client).await {
        HubFrame::Info {
            from: f,
            message: m,
            ..
        } => {
            assert_eq!((f.as_str(), m), (from, message));
        }
        other => panic!("expected info from {from}, got {other:?}"),
    }
}

/// Asserts nothing more arrives for `client` before a `pong`.
pub async fn expect_nothing_more(client: &mut Client) {
    client.ping().await.unwrap();
    let before = within(client.until_pong()).await.unwrap();
    assert!(before.is_empty(), "unexpected frames: {before:?}");
}

pub fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).unwrap()
}

pub fn text(s: &str) -> Box<RawValue> {
    serde_json::value::to_raw_value(s).unwrap()
}
