//! A connection's byte stream: plain TCP, or TLS over TCP once its
//! handshake is done.
//!
//! An enum rather than a trait object or a type parameter: the plain path
//! pays one predictable branch per read or write, with no allocation and
//! no dynamic dispatch, and `Connection`, the reader and the writer stay
//! one type each instead of being generic all the way up to the hub task.
//! The TLS state is boxed so a plain connection does not carry its size.
//!
//! The server waits on socket readiness and then reads or writes without
//! blocking (so the hub task can write in place and the writer can be
//! interrupted); TLS keeps that model. rustls is a sans-IO state machine
//! like the core: records are moved between it and the socket with
//! non-blocking reads and writes, under a lock shared by the reader, the
//! writer and the hub task (held for one call, never across a wait). The
//! core sees the same plaintext bytes either way.
//!
//! Two things differ with TLS. Plaintext may wait inside rustls after the
//! socket was drained (a record larger than one read), so `readable`
//! looks there first. And a write may leave encrypted bytes inside
//! rustls when the socket is full: `has_pending_writes` says so, and the
//! writer flushes them before it waits for new frames. At most
//! [`TLS_BUFFER_LIMIT`] is held there, so the hub's flow control still
//! sees a slow reader fall behind.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::sync::{Mutex, MutexGuard};

use rustls::ServerConnection;
use tokio::net::TcpStream;

/// Most bytes rustls may hold for one connection, plaintext accepted and
/// records not yet written: the same order as what the kernel holds unsent
/// (`TCP_NOTSENT_LOWAT`), so TLS adds little to a slow reader's backlog.
const TLS_BUFFER_LIMIT: usize = 64 * 1024;

/// The stream of one accepted connection.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

/// A TLS session whose handshake is complete, and its socket.
#[derive(Debug)]
pub(crate) struct TlsStream {
    tcp: TcpStream,
    tls: Mutex<ServerConnection>,
}

impl TlsStream {
    pub(crate) fn new(tcp: TcpStream, mut tls: ServerConnection) -> Self {
        tls.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        TlsStream {
            tcp,
            tls: Mutex::new(tls),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ServerConnection> {
        // rustls keeps its state consistent between calls; a panic
        // elsewhere while holding the lock leaves nothing half done here.
        self.tls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the records rustls holds; `WouldBlock` when some remain.
    fn flush(tls: &mut ServerConnection, tcp: &TcpStream) -> io::Result<()> {
        while tls.wants_write() {
            if tls.write_tls(&mut TcpIo(tcp))? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut tls = self.lock();
        loop {
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // No plaintext yet: take records from the socket (WouldBlock
            // when it has none, which clears its readiness).
            if tls.read_tls(&mut TcpIo(&self.tcp))? == 0 {
                // The peer closed TCP, with or without close_notify: an
                // end of stream all the same (the core notices a cut
                // frame). Plaintext is never left behind: it was drained
                // above before reading more records.
                return Ok(0);
            }
            let state = tls.process_new_packets().map_err(|e| {
                // Tell the peer why, if the socket takes it now.
                let _ = Self::flush(&mut tls, &self.tcp);
                io::Error::new(io::ErrorKind::InvalidData, e)
            })?;
            if state.tls_bytes_to_write() > 0 {
                // A reply rustls owes (a key update): out now if it fits,
                // else the writer's next flush sends it.
                match Self::flush(&mut tls, &self.tcp) {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                    _ => {}
                }
            }
        }
    }

    fn has_plaintext(&self) -> bool {
        let mut tls = self.lock();
        tls.process_new_packets()
            .map(|state| state.plaintext_bytes_to_read() > 0 || state.peer_has_closed())
            // An error is for the next read to report.
            .unwrap_or(true)
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut tls = self.lock();
        // Earlier records first: nothing may overtake them.
        Self::flush(&mut tls, &self.tcp)?;
        let n = tls.writer().write_vectored(bufs)?;
        match Self::flush(&mut tls, &self.tcp) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }
}

/// Non-blocking reads and writes on a shared socket, for rustls.
struct TcpIo<'a>(&'a TcpStream);

impl Read for TcpIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for TcpIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream {
    /// The socket underneath.
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => &tls.tcp,
        }
    }

    pub(crate) fn is_plain(&self) -> bool {
        matches!(self, Stream::Plain(_))
    }

    /// Resolves when a read may return something: the socket is readable,
    /// or (TLS) plaintext already waits inside rustls.
    ///
    /// Only the connection's reader waits for this, so it uses the
    /// socket's single read waker (`poll_read_ready`) rather than
    /// `TcpStream::readable`, whose future carries a waiter of its own
    /// (152 bytes in a debug build, against a few words here) and is
    /// held by every idle connection's reader.
    pub(crate) async fn readable(&self) -> io::Result<()> {
        let tcp = match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => {
                if tls.has_plaintext() {
                    return Ok(());
                }
                &tls.tcp
            }
        };
        std::future::poll_fn(|cx| tcp.poll_read_ready(cx)).await
    }

    /// One non-blocking read of plaintext; 0 at end of stream.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.try_read(buf),
            Stream::Tls(tls) => tls.try_read(buf),
        }
    }

    /// Resolves when the socket takes more bytes. Only the connection's
    /// writer waits for this: the socket's single write waker serves, as
    /// for [`readable`](Self::readable).
    pub(crate) async fn writable(&self) -> io::Result<()> {
        let tcp = self.tcp();
        std::future::poll_fn(|cx| tcp.poll_write_ready(cx)).await
    }

    /// One non-blocking write of plaintext from `bufs`. With TLS, the bytes
    /// counted may still wait inside rustls (see `has_pending_writes`).
    pub(crate) fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => match bufs {
                [one] => tcp.try_write(one),
                _ => tcp.try_write_vectored(bufs),
            },
            Stream::Tls(tls) => tls.try_write_vectored(bufs),
        }
    }

    /// Encrypted bytes accepted by a write but not yet on the socket.
    pub(crate) fn has_pending_writes(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(tls) => tls.lock().wants_write(),
        }
    }

    /// Writes what [`has_pending_writes`](Self::has_pending_writes)
    /// reported; `WouldBlock` when some is left.
    pub(crate) fn try_flush(&self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            Stream::Tls(tls) => TlsStream::flush(&mut tls.lock(), &tls.tcp),
        }
    }

    /// Ends our direction of the stream: FIN, after TLS's close_notify
    /// (sent if the socket takes it now; the FIN ends the stream anyway).
    pub(crate) fn shutdown_write(&self) {
        if let Stream::Tls(tls) = self {
            let mut session = tls.lock();
            session.send_close_notify();
            let _ = TlsStream::flush(&mut session, &tls.tcp);
        }
        let _ = socket2::SockRef::from(self.tcp()).shutdown(Shutdown::Write);
    }
}
