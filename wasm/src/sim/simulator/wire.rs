//! Carrying bytes: writes cut and joined by the seed, pieces arriving, and
//! clients reading whole lines with the core's reader ([`HubLines`]).

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::{to_raw_value, RawValue};
use tcphub_core::{frame_type, HubLines};

use super::Simulator;
use crate::sim::network::{End, Piece};
use crate::sim::trace::{Direction, Entry, WireBytes};

impl Simulator {
    pub(super) fn delay(&mut self) -> u64 {
        let jitter = if self.faults.enabled && self.faults.max_delay_ms > 0 {
            self.rng.below(self.faults.max_delay_ms + 1)
        } else {
            0
        };
        self.network_settings.latency_ms.saturating_add(jitter)
    }

    /// One write onto the network, cut or joined as the seed says.
    pub(super) fn put_on_wire(&mut self, conn: usize, dir: Direction, bytes: Bytes) {
        let faulty = self.faults.enabled;
        let wire = self.trace.wants_wire();
        let client = self.connections[conn].client;
        let join = faulty
            && self.connections[conn].pipe(dir).joinable().is_some()
            && self.rng.chance(self.faults.join);
        if join {
            if wire {
                self.trace.push(Entry::Write {
                    t: self.now,
                    client: self.clients[client].name.clone(),
                    dir,
                    bytes: WireBytes::new(&bytes),
                    pieces: 1,
                    joined: true,
                });
            }
            let (last, _) = self.connections[conn]
                .pipe(dir)
                .joinable()
                .expect("checked joinable above");
            let mut joined = Vec::with_capacity(last.len() + bytes.len());
            joined.extend_from_slice(last);
            joined.extend_from_slice(&bytes);
            *last = joined.into();
            return;
        }
        let mut cuts = Vec::new();
        if faulty && bytes.len() > 1 && self.rng.chance(self.faults.split) {
            let count = 1 + self.rng.below(3);
            // Kept sorted and without repeats as they are drawn: for at
            // most three cuts a sort would cost 3 KB of .wasm.
            for _ in 0..count {
                let cut = 1 + self.rng.below(bytes.len() as u64 - 1) as usize;
                if let Err(at) = cuts.binary_search(&cut) {
                    cuts.insert(at, cut);
                }
            }
        }
        if wire {
            self.trace.push(Entry::Write {
                t: self.now,
                client: self.clients[client].name.clone(),
                dir,
                bytes: WireBytes::new(&bytes),
                pieces: cuts.len() + 1,
                joined: false,
            });
        }
        let mut start = 0;
        for end in cuts.into_iter().chain([bytes.len()]) {
            let piece = bytes.slice(start..end);
            start = end;
            let delay = self.delay();
            let now = self.now;
            let pipe = self.connections[conn].pipe(dir);
            let at = pipe.arrival(now, delay);
            pipe.pieces.push_back(Piece::Data {
                bytes: piece,
                sent: now,
            });
            self.network.schedule(at, conn, dir);
        }
    }

    pub(super) fn end_stream(&mut self, conn: usize, dir: Direction, end: End) {
        let delay = self.delay();
        let now = self.now;
        let pipe = self.connections[conn].pipe(dir);
        let at = pipe.arrival(now, delay);
        pipe.pieces.push_back(Piece::End(end));
        self.network.schedule(at, conn, dir);
    }

    /// The front piece of a pipe arrives.
    pub(super) fn arrive(&mut self, conn: usize, dir: Direction) {
        let piece = self.connections[conn]
            .pipe(dir)
            .pieces
            .pop_front()
            .expect("every scheduled arrival has its piece queued");
        let client = self.connections[conn].client;
        match (dir, piece) {
            (Direction::ToHub, piece) => {
                let c = &mut self.connections[conn];
                if c.paused {
                    // The hub is not reading this client: it waits, in order.
                    c.held.push_back(piece);
                    return;
                }
                self.hub_reads(conn, piece);
                self.drain();
            }
            (Direction::ToClient, Piece::Data { bytes, sent }) => {
                self.trace_arrival(client, dir, &bytes, sent);
                let c = &mut self.connections[conn];
                if !c.client_open {
                    c.in_socket = c.in_socket.saturating_sub(bytes.len());
                    self.discard(client, dir, bytes.len());
                    self.pump(conn);
                    return self.drain();
                }
                if c.reading {
                    self.client_read(conn, &bytes);
                } else {
                    c.unread.extend_from_slice(&bytes);
                }
            }
            (Direction::ToClient, Piece::End(end @ (End::HubClosed(_) | End::Reset))) => {
                let c = &mut self.connections[conn];
                if !c.client_open {
                    return;
                }
                c.client_open = false;
                self.clients[client].current = None;
                let reason = match end {
                    End::HubClosed(reason) => reason.as_str(),
                    // What a client sees of its hub's crash.
                    _ => "reset",
                };
                self.trace.push(Entry::Close {
                    t: self.now,
                    client: self.clients[client].name.clone(),
                    at: "client",
                    reason: reason.to_owned(),
                    dropped: 0,
                });
            }
            (dir, Piece::End(end)) => {
                unreachable!("{end:?} never travels {dir:?}")
            }
        }
    }

    pub(super) fn trace_arrival(&mut self, client: usize, dir: Direction, bytes: &[u8], sent: u64) {
        self.stats.pieces += 1;
        if self.trace.wants_wire() {
            self.trace.push(Entry::Arrive {
                t: self.now,
                sent,
                client: self.clients[client].name.clone(),
                dir,
                bytes: WireBytes::new(bytes),
            });
        }
    }

    pub(super) fn discard(&mut self, client: usize, dir: Direction, len: usize) {
        if self.trace.wants_any() {
            self.trace.push(Entry::Discard {
                t: self.now,
                client: self.clients[client].name.clone(),
                dir,
                len,
            });
        }
    }

    /// The client reads `data`, delivering each whole line, unless a stall
    /// fault stops it part way; what it read makes room in the socket, and
    /// the hub's driver writes more.
    pub(super) fn client_read(&mut self, conn: usize, data: &[u8]) {
        let c = &mut self.connections[conn];
        let mut readable = data.len();
        if let Some(limit) = c.stall_after {
            let room = limit.saturating_sub(c.read) as usize;
            if room < readable {
                readable = room;
                c.reading = false;
                c.stall_after = None;
                c.unread.extend_from_slice(&data[readable..]);
                let name = self.clients[c.client].name.clone();
                self.trace.push(Entry::Fault {
                    t: self.now,
                    client: name,
                    fault: "stall",
                });
            }
        }
        let c = &mut self.connections[conn];
        c.read += readable as u64;
        c.in_socket = c.in_socket.saturating_sub(readable);
        let client = c.client;
        // Taken out while its lines are delivered, which needs `self`.
        let mut lines = std::mem::take(&mut c.lines);
        lines.push(&data[..readable]);
        loop {
            match lines.next_line() {
                Some(Ok(line)) => self.deliver(client, line),
                Some(Err(e)) => {
                    // A line past any frame the hub writes: the client
                    // gives the stream up, as a real one would.
                    let name = &self.clients[client].name;
                    self.skip(format!("{name} cannot read the hub's stream: {e}"));
                    lines = HubLines::default();
                    break;
                }
                None => break,
            }
        }
        self.connections[conn].lines = lines;
        if readable > 0 {
            self.pump(conn);
            self.drain();
        }
    }

    /// The client read one whole line from the hub.
    pub(super) fn deliver(&mut self, client: usize, line: &[u8]) {
        let kind = frame_type(line);
        self.stats.deliveries += 1;
        if kind == Some("info") {
            self.stats.info_deliveries += 1;
        }
        if !self.trace.wants_any() {
            return;
        }
        // Only the sender is read here: the core's `HubFrame::parse` would
        // read it too, but would bring its whole parser into the .wasm
        // (about 60 KB) for one field. (From a `str`, as everything else
        // the simulator parses: from bytes would be a second copy of
        // serde_json's parser.)
        #[derive(Deserialize)]
        struct Sender {
            from: Option<String>,
        }
        let text = String::from_utf8_lossy(line).into_owned();
        let (frame, from) = match (kind, serde_json::from_str::<Sender>(&text)) {
            (Some(kind), Ok(sender)) => (kind.to_owned(), sender.from),
            // Never from the hub; shown rather than lost.
            _ => ("garbled".to_owned(), None),
        };
        let line = RawValue::from_string(text.clone())
            .unwrap_or_else(|_| to_raw_value(&text).expect("a string always serializes"));
        self.trace.push(Entry::Deliver {
            t: self.now,
            client: self.clients[client].name.clone(),
            frame,
            from,
            line,
        });
    }
}
