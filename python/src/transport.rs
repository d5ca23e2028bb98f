//! The client's two halves of a connection, plain TCP or TLS.
//!
//! The client reads on one thread while another writes, each through its
//! own handle of the socket. TLS keeps that: the read half reads
//! encrypted bytes from its handle without any lock, then takes the
//! rustls state's lock only to decrypt them; the write half takes it to
//! encrypt and write. A blocked read never holds the lock, so a write is
//! never stuck behind it. Enums, so plain TCP pays one branch and nothing
//! else.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::ClientConnection;
use tcphub_core::HubLines;
use tcphub_native::{ClientTlsOptions, TlsConfigError};

/// Encrypted bytes asked of the socket in one read.
const READ_CHUNK: usize = 64 * 1024;

type Shared = Arc<Mutex<ClientConnection>>;

fn lock(tls: &Shared) -> MutexGuard<'_, ClientConnection> {
    // rustls keeps its state consistent between calls.
    tls.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why a TLS connection could not be set up.
#[derive(Debug)]
pub enum TlsFailed {
    /// A setting or file (`ca`, `server_name`) cannot be used.
    Config(TlsConfigError),
    /// The handshake failed: an untrusted certificate, another name, a hub
    /// that does not speak TLS, or the timeout.
    Handshake(io::Error),
}

/// What one read gave.
pub enum Filled {
    /// Plaintext bytes were added to the lines (maybe none: part of a
    /// record).
    Bytes,
    /// The stream ended.
    End,
}

/// The read half.
#[derive(Debug)]
pub enum ReadHalf {
    Plain(TcpStream),
    Tls { tcp: TcpStream, tls: Shared },
}

/// The write half.
#[derive(Debug)]
pub enum WriteHalf {
    Plain(TcpStream),
    Tls { tcp: TcpStream, tls: Shared },
}

/// A TLS session ready to start: its files read, its name checked, so a
/// bad setting is reported before anything connects.
#[derive(Debug)]
pub struct TlsStart(ClientConnection);

impl TlsStart {
    pub fn new(options: &ClientTlsOptions, target: &str) -> Result<TlsStart, TlsFailed> {
        let config = options.config().map_err(TlsFailed::Config)?;
        let name = options.name_for(target).map_err(TlsFailed::Config)?;
        ClientConnection::new(config, name)
            .map(TlsStart)
            .map_err(|e| TlsFailed::Handshake(io::Error::other(e)))
    }
}

/// Runs the TLS handshake on `tcp` (bounded by `timeout`) and splits the
/// connection in two halves.
pub fn connect_tls(
    tcp: TcpStream,
    start: TlsStart,
    timeout: Option<Duration>,
) -> Result<(ReadHalf, WriteHalf), TlsFailed> {
    let mut session = start.0;
    let mut handshake = || -> io::Result<()> {
        let limit = timeout.map(|t| t.max(Duration::from_millis(1)));
        tcp.set_read_timeout(limit)?;
        tcp.set_write_timeout(limit)?;
        let mut io = &tcp;
        while session.is_handshaking() {
            session.complete_io(&mut io)?;
        }
        while session.wants_write() {
            session.write_tls(&mut io)?;
        }
        tcp.set_write_timeout(None)
    };
    handshake().map_err(|e| {
        TlsFailed::Handshake(match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                io::Error::new(io::ErrorKind::TimedOut, "the TLS handshake timed out")
            }
            _ => e,
        })
    })?;
    // Everything the client writes goes out at once, whatever its size.
    session.set_buffer_limit(None);
    let writer = tcp.try_clone().map_err(TlsFailed::Handshake)?;
    let tls = Arc::new(Mutex::new(session));
    Ok((
        ReadHalf::Tls {
            tcp,
            tls: tls.clone(),
        },
        WriteHalf::Tls { tcp: writer, tls },
    ))
}

impl ReadHalf {
    fn tcp(&self) -> &TcpStream {
        match self {
            ReadHalf::Plain(tcp) | ReadHalf::Tls { tcp, .. } => tcp,
        }
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }

    /// Reads once (waiting as long as the read timeout allows) and adds
    /// the plaintext to `lines`.
    pub fn fill(&mut self, lines: &mut HubLines) -> io::Result<Filled> {
        let mut chunk = [0u8; READ_CHUNK];
        match self {
            ReadHalf::Plain(tcp) => match tcp.read(&mut chunk)? {
                0 => Ok(Filled::End),
                n => {
                    lines.push(&chunk[..n]);
                    Ok(Filled::Bytes)
                }
            },
            ReadHalf::Tls { tcp, tls } => {
                // Plaintext decrypted with records read earlier comes first.
                if drain(&mut lock(tls), lines)? {
                    return Ok(Filled::End);
                }
                let n = tcp.read(&mut chunk)?;
                let mut session = lock(tls);
                if n == 0 {
                    return Ok(Filled::End);
                }
                let mut records = &chunk[..n];
                while !records.is_empty() {
                    session.read_tls(&mut records)?;
                    let state = session
                        .process_new_packets()
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    if drain(&mut session, lines)? || state.peer_has_closed() {
                        return Ok(Filled::End);
                    }
                }
                // A reply rustls owes (a key update) goes out now.
                let mut writer = &*tcp;
                while session.wants_write() {
                    session.write_tls(&mut writer)?;
                }
                Ok(Filled::Bytes)
            }
        }
    }
}

/// Moves the plaintext rustls holds into `lines`; true at close_notify.
fn drain(session: &mut ClientConnection, lines: &mut HubLines) -> io::Result<bool> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match session.reader().read(&mut buf) {
            Ok(0) => return Ok(true),
            Ok(n) => lines.push(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

impl WriteHalf {
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            WriteHalf::Plain(tcp) => tcp.write_all(bytes),
            WriteHalf::Tls { tcp, tls } => {
                let mut session = lock(tls);
                session.writer().write_all(bytes)?;
                let mut writer = &*tcp;
                while session.wants_write() {
                    session.write_tls(&mut writer)?;
                }
                Ok(())
            }
        }
    }

    /// Closes both directions (after close_notify, with TLS).
    pub fn shutdown(&self) -> io::Result<()> {
        match self {
            WriteHalf::Plain(tcp) => tcp.shutdown(Shutdown::Both),
            WriteHalf::Tls { tcp, tls } => {
                let mut session = lock(tls);
                session.send_close_notify();
                let mut writer = tcp;
                // Best effort: the connection closes either way.
                while session.wants_write() {
                    if session.write_tls(&mut writer).is_err() {
                        break;
                    }
                }
                tcp.shutdown(Shutdown::Both)
            }
        }
    }
}
