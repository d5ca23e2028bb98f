//! The virtual network: for each connection two ordered pipes (one per
//! direction), and one queue of arrivals ordered by virtual time.
//!
//! A pipe is FIFO like a TCP stream: a piece never overtakes an earlier
//! one, whatever delay it drew. Arrivals at the same time keep the order
//! they were scheduled in, so the run is a pure function of the scenario
//! and the seed.

use std::collections::VecDeque;

use bytes::Bytes;
use tcphub_core::CloseReason;

use super::trace::Direction;

/// What travels down a pipe.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    /// Some bytes of the stream.
    Data {
        bytes: Bytes,
        /// When the oldest write in it left.
        sent: u64,
    },
    /// The end of the stream: nothing follows.
    End(End),
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The client closed its socket; `abrupt` for a drop fault.
    ClientClosed { abrupt: bool },
    /// The client shut its write side (half-close): it still reads.
    ClientShutWrite,
    /// The hub closed the session, after flushing what it had sent.
    HubClosed(CloseReason),
    /// The hub's node crashed: the connection is reset.
    Reset,
}

/// One direction of one connection.
#[derive(Debug, Default)]
pub(crate) struct Pipe {
    pub(crate) pieces: VecDeque<Piece>,
    /// When the last piece queued arrives: later pieces arrive no earlier.
    pub(crate) last_arrival: u64,
}

impl Pipe {
    /// The time a piece sent at `now` with `delay` arrives, kept in order.
    pub(crate) fn arrival(&mut self, now: u64, delay: u64) -> u64 {
        self.last_arrival = self.last_arrival.max(now.saturating_add(delay));
        self.last_arrival
    }

    /// The last piece still in flight, if it is data and may grow.
    pub(crate) fn joinable(&mut self) -> Option<(&mut Bytes, &mut u64)> {
        match self.pieces.back_mut() {
            Some(Piece::Data { bytes, sent }) => Some((bytes, sent)),
            _ => None,
        }
    }
}

/// When the front piece of a pipe arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arrival {
    pub(crate) time: u64,
    pub(crate) conn: usize,
    pub(crate) dir: Direction,
}

/// Every arrival still to come, earliest first, and in scheduling order
/// among equal times. One FIFO bucket per distinct time: a broadcast to a
/// thousand sessions schedules a thousand arrivals at one time, and a
/// bucket takes them in and out in constant time where a heap would pay a
/// logarithm each way.
///
/// The buckets sit in a deque sorted by time rather than a `BTreeMap`
/// (which cost 5 KB of .wasm for its one key and value layout): an
/// arrival is scheduled a latency plus a bounded delay ahead, so the
/// distinct times in flight are few and a new one lands at or near the
/// back.
#[derive(Debug, Default)]
pub(crate) struct Network {
    buckets: VecDeque<(u64, VecDeque<(usize, Direction)>)>,
    len: usize,
}

impl Network {
    pub(crate) fn schedule(&mut self, time: u64, conn: usize, dir: Direction) {
        match self.buckets.binary_search_by_key(&time, |(t, _)| *t) {
            Ok(i) => self.buckets[i].1.push_back((conn, dir)),
            Err(i) => self
                .buckets
                .insert(i, (time, VecDeque::from([(conn, dir)]))),
        }
        self.len += 1;
    }

    pub(crate) fn next_time(&self) -> Option<u64> {
        self.buckets.front().map(|(time, _)| *time)
    }

    pub(crate) fn pop(&mut self) -> Option<Arrival> {
        let (time, bucket) = self.buckets.front_mut()?;
        let time = *time;
        let (conn, dir) = bucket.pop_front().expect("empty buckets are removed");
        if bucket.is_empty() {
            self.buckets.pop_front();
        }
        self.len -= 1;
        Some(Arrival { time, conn, dir })
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.len
    }
}
