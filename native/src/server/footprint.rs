//! What an idle connection costs, held to a bound (docs/benchmarks.md,
//! "Idle connections"; issue 15 asks for at most 3 KiB per connection).
//!
//! The measured figure is the hub's resident memory, which a test cannot
//! read reliably; these are the parts of it that a change to this crate
//! can grow without anyone noticing: the two futures every connection's
//! tasks hold for as long as it is open, and the connection itself.
//!
//! tokio stores a task as a header, the future and a trailer (about 104
//! bytes besides the future) in a cell aligned to 128 bytes, so a future
//! of at most 280 bytes makes a 384-byte cell, and 8 bytes more make it
//! 512. The two futures were 488 and 592 bytes before they were trimmed
//! (640- and 768-byte cells); they are 248 and 264 now (rustc 1.95,
//! tokio 1.54, debug and release alike). If one fails here, box whatever
//! part of it only a busy or closing connection needs (see `reader` and
//! `writer`), rather than raise the bound.

use std::mem::{size_of, size_of_val};
use std::sync::Arc;

use tcphub_core::{Hub, HubConfig, SessionHandle};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

use super::connection::Connection;
use super::input::Input;
use super::transport::Stream;
use super::{reader, writer};

/// Largest task future that still fits a 384-byte tokio task cell.
const MAX_TASK_FUTURE: usize = 280;
/// `Connection` as it is now (360 bytes): its `Arc` is one 376-byte
/// allocation per connection. It was 296 before it held the input scanner
/// (64 bytes: the state of the peer's stream, which the reader follows to
/// find frames for the hub task).
const MAX_CONNECTION: usize = 360;

#[tokio::test]
async fn an_idle_connection_stays_small() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap());
    let (accepted, client) = tokio::join!(listener.accept(), client);
    let (_client, (server, _)) = (client.unwrap(), accepted.unwrap());
    let permit = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
    let scanner = Hub::new(HubConfig::default()).unwrap().input_scanner();
    let conn = Arc::new(Connection::new(
        Stream::Plain(server),
        SessionHandle(1),
        scanner,
        permit,
    ));
    let (inputs, _rx) = mpsc::channel::<Input>(1);

    let read = reader::read_loop(conn.clone(), inputs.clone());
    let write = writer::write_loop(conn.clone(), inputs);
    assert!(
        size_of_val(&read) <= MAX_TASK_FUTURE,
        "the reader's future grew to {} bytes (bound {MAX_TASK_FUTURE})",
        size_of_val(&read)
    );
    assert!(
        size_of_val(&write) <= MAX_TASK_FUTURE,
        "the writer's future grew to {} bytes (bound {MAX_TASK_FUTURE})",
        size_of_val(&write)
    );
    assert!(
        size_of::<Connection>() <= MAX_CONNECTION,
        "Connection grew to {} bytes (bound {MAX_CONNECTION})",
        size_of::<Connection>()
    );
}
