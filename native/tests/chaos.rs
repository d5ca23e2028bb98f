//! Issue 9's chaos test: the real `tcphub serve` and a few hundred clients
//! on loopback doing, at random from a seed, what clients do to a hub:
//! frames cut at random bytes or joined several to a write (NDJSON, other
//! whitespace, no delimiter at all, pretty-printed), messages to an alias
//! and to `*`, takeovers of aliases, disconnects (clean, abrupt, mid-frame,
//! by reset) and reconnects, half-closes, and stalls in reading.
//!
//! A core of *steady* clients stays connected and synced throughout, reads
//! all the time except for stalls shorter than the write deadline, and
//! sends numbered messages; a few of them, once, send themselves more than
//! the kernel buffers hold while they stall, so the hub's flow control
//! pauses them and whoever sends to them. A few churning clients stop
//! reading for good and fill their own queue (the hub must cut them as
//! slow consumers, on a whole frame and with a `bye`), or fill it and
//! half-close before reading again (they must get everything). The test
//! checks that
//! - every message a steady client sent to a steady alias or to `*` reaches
//!   each steady recipient exactly once and in order, whole (a hash of its
//!   payload travels with it);
//! - messages from churning clients reach steady clients in order, without
//!   duplicates and without gaps, and every one the hub is known to have
//!   accepted (the sender got the `pong` of a later `ping`) arrives;
//! - every line every client receives is one whole JSON object; a stream
//!   the hub ends ends on a whole line, its last a `bye` (`taken_over`,
//!   `peer_closed` after a half-close, `slow_consumer` for a stuck client
//!   only); a half-closed client gets every reply, then `bye`
//!   `peer_closed`, then EOF;
//! - no steady client is ever closed, nothing is logged as an error, the
//!   hub does not panic;
//! - the hub's resident memory comes back near its level before the churn.
//!
//! The seed is printed; `CHAOS_SEED=<n>` replays a run (the choices of each
//! client depend only on the seed and the client, not on timing),
//! `CHAOS_RANDOM=1` picks a new one, `CHAOS_SECS` sets the length of the
//! churn (default 10 s).

mod common;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::chaos_kit::{chaos_seed, child_pid, rss_kib, Lines, Rng};
use common::raw::{shorten, End};
use common::serve::ServeProcess;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Clients connected and synced for the whole run.
const STEADY: usize = 60;
/// Clients that connect, act and leave over and over.
const CHURNY: usize = 240;
/// Aliases the churning clients claim, at random: about half are held at
/// any time, so a claim often takes one over.
const POOL: usize = 400;
/// The seed when neither `CHAOS_SEED` nor `CHAOS_RANDOM=1` is given.
const DEFAULT_SEED: u64 = 0x5EED_C4A0_5009;
/// `serve --write-deadline`: every stall below is well under it, except
/// the stuck clients'. Not shorter: see [`SELF_BURST`].
const WRITE_DEADLINE: Duration = Duration::from_secs(5);
/// Shortest and longest stall in reading of a steady client, and of a
/// churning one.
const STEADY_STALL_MS: (u64, u64) = (200, 1_200);
const CHURNY_STALL_MS: (u64, u64) = (100, 800);
/// Longest any single wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);
/// Churning slots whose first episode ends stuck: they stop reading for
/// good and send themselves far more than the kernel buffers hold, so the
/// hub cuts them as slow consumers (and holds back whoever sends them
/// anything meanwhile, `*` senders included, for up to the write deadline).
const STUCK_SLOTS: u64 = 2;
/// Churning slots (after the stuck ones) whose first episode fills its
/// own queue as a stuck one does, half-closes, and only then, after a
/// stall shorter than the write deadline, reads: it must get everything.
const FILL_SLOTS: u64 = 2;
/// What a stuck or filling client (or a steady self-burster) sends
/// itself: this many messages of 15 KB, more than the kernel buffers hold
/// (on loopback the hub's send buffer alone grows to `tcp_wmem`'s 4 MiB
/// however small the window).
///
/// A limit of the hub shows here: it counts as progress only what the
/// kernel takes, and a full 4 MiB send buffer becomes writable again only
/// once about a third of it has drained. So a reader of such a burst that
/// reads all the time but slower than about 1.3 MB per write deadline is
/// cut as a slow consumer; and a cut reader that drains slower than that
/// per `--shutdown-grace` (5 s) loses its last frames, its stream ending in
/// the middle of one with no `bye`. The readers here read far faster (a
/// few MB/s), but only while the test gets its share of the CPU.
const SELF_BURST: usize = 400;
/// A third of the steady clients have a small receive buffer, so that what
/// they are sent while they stall backs up in the hub sooner.
fn small_window(i: usize) -> bool {
    i % 3 == 0
}

/// Steady clients (with a small window) that, once while stalled, send
/// themselves a [`SELF_BURST`]: their queue in the hub passes the high watermark, so
/// the hub stops reading them and pauses every steady client that sends
/// them something, until they read again.
const SELF_BURSTERS: usize = 3;
/// Failures kept in full for the report (all are counted).
const KEEP_FAILURES: usize = 40;

fn steady_alias(i: usize) -> String {
    format!("steady-{i}")
}

fn churn_alias(k: usize) -> String {
    format!("churn-{k}")
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Steady(usize),
    Churn(usize),
    All,
}

impl Target {
    fn to(self) -> String {
        match self {
            Target::Steady(i) => steady_alias(i),
            Target::Churn(k) => churn_alias(k),
            Target::All => "*".to_owned(),
        }
    }

    /// Whether the hub must deliver it to steady client `i`, when sent by
    /// steady client `sender` (if it is one). `*` reaches everyone but the
    /// sender; an alias reaches its holder, the sender included.
    fn reaches(self, i: usize, sender: Option<usize>) -> bool {
        match self {
            Target::Steady(t) => t == i,
            Target::All => sender != Some(i),
            Target::Churn(_) => false,
        }
    }
}

/// What a client sent that can reach steady clients: (sequence number,
/// target), in order.
type Sent = Vec<(u64, Target)>;

/// Everything that went wrong, as it happened.
#[derive(Debug, Default)]
struct Failures {
    kept: Mutex<Vec<String>>,
    total: AtomicU64,
}

impl Failures {
    fn add(&self, what: String) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut kept = self.kept.lock().unwrap();
        if kept.len() < KEEP_FAILURES {
            kept.push(what);
        }
    }
}

/// Counters for the report: what the run actually did.
#[derive(Debug, Default)]
struct Stats {
    steady_messages: AtomicU64,
    steady_bursts: AtomicU64,
    steady_self_bursts: AtomicU64,
    churn_bursts: AtomicU64,
    stalls: AtomicU64,
    split_writes: AtomicU64,
    joined_writes: AtomicU64,
    episodes: AtomicU64,
    churn_messages: AtomicU64,
    taken_over: AtomicU64,
    half_closes: AtomicU64,
    half_closes_peer_closed: AtomicU64,
    stuck_cut: AtomicU64,
    filled_half_closes: AtomicU64,
    abrupt: AtomicU64,
    abrupt_mid_frame: AtomicU64,
    resets: AtomicU64,
    /// Writes that took over 250 ms: the hub held the writer back.
    held_back: AtomicU64,
    /// Messages from churning clients that reached steady ones, and those
    /// of them the hub was known to have routed.
    churn_delivered: AtomicU64,
    churn_confirmed: AtomicU64,
    graceful: AtomicU64,
    unknown_alias: AtomicU64,
    lines: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// What every task shares.
#[derive(Debug)]
struct Shared {
    addr: SocketAddr,
    seed: u64,
    /// When the steady clients stop sending and churning clients leave.
    chaos_end: Instant,
    /// Which steady clients are stalling in reading right now.
    stalled: Vec<AtomicBool>,
    /// The hub's closes of sessions holding an alias so far, from its log:
    /// alias to reason. (Not by session id: ports are reused.)
    closes: Mutex<HashMap<String, String>>,
    failures: Failures,
    stats: Stats,
}

impl Shared {
    fn fail(&self, what: String) {
        self.failures.add(what);
    }
}

// ----- what clients send -----

/// FNV-1a, so a recipient can tell a payload arrived unchanged.
fn fnv(text: &str) -> u64 {
    let mut hash: u32 = 0x811C_9DC5;
    for byte in text.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    u64::from(hash)
}

/// A payload of about `max` bytes at most, with what makes framing hard:
/// multi-byte UTF-8, escapes, braces and newlines inside strings.
fn payload(rng: &mut Rng, max: usize) -> String {
    const PIECES: [&str; 10] = [
        "a",
        "hello ",
        "0123456789",
        "é",
        "大家来领物资了",
        "😀",
        "\"",
        "\\",
        "\n",
        "{}}{",
    ];
    let len = rng.below(max + 1);
    let mut text = String::with_capacity(len + 24);
    while text.len() < len {
        text.push_str(PIECES[rng.below(PIECES.len())]);
    }
    text
}

/// Appends `frame` in one of the ways clients write frames: compact or
/// pretty-printed, followed by a newline, other whitespace or nothing.
fn encode(rng: &mut Rng, frame: &Value, out: &mut Vec<u8>) {
    if rng.chance(0.05) {
        out.extend_from_slice(serde_json::to_string_pretty(frame).unwrap().as_bytes());
    } else {
        out.extend_from_slice(frame.to_string().as_bytes());
    }
    let delimiter: &[u8] = match rng.below(10) {
        0..=4 => b"\n",
        5..=7 => b"",
        8 => b" \t",
        _ => b"\r\n",
    };
    out.extend_from_slice(delimiter);
}

/// Writes `bytes` whole, or cut at random byte boundaries into pieces
/// written one after another with a short pause between (so they travel
/// as separate segments: `TCP_NODELAY` is set).
async fn write_styled(
    w: &mut OwnedWriteHalf,
    rng: &mut Rng,
    stats: &Stats,
    bytes: &[u8],
) -> io::Result<()> {
    let began = Instant::now();
    let result = write_pieces(w, rng, stats, bytes).await;
    if began.elapsed() > ms(250) {
        bump(&stats.held_back);
    }
    result
}

async fn write_pieces(
    w: &mut OwnedWriteHalf,
    rng: &mut Rng,
    stats: &Stats,
    bytes: &[u8],
) -> io::Result<()> {
    if bytes.len() < 2 || rng.chance(0.5) {
        bump(&stats.joined_writes);
        return w.write_all(bytes).await;
    }
    bump(&stats.split_writes);
    let mut cuts: Vec<usize> = (0..1 + rng.below(4))
        .map(|_| 1 + rng.below(bytes.len() - 1))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.push(bytes.len());
    let mut at = 0;
    for cut in cuts {
        w.write_all(&bytes[at..cut]).await?;
        at = cut;
        if at < bytes.len() {
            // Deliberate pacing between the pieces of a frame.
            if rng.chance(0.5) {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(ms(rng.between(1, 8))).await;
            }
        }
    }
    Ok(())
}

async fn connect(addr: SocketAddr, recv_buffer: Option<u32>) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(bytes) = recv_buffer {
        // Before the handshake, so the window stays small: a stalled reader
        // backs up in the hub, not in the kernel.
        socket.set_recv_buffer_size(bytes)?;
    }
    let stream = tokio::time::timeout(WAIT, socket.connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A steady client to send a burst to: mostly one stalled in reading,
/// so that the burst backs up in the hub.
fn burst_target(shared: &Shared, rng: &mut Rng) -> usize {
    let start = rng.below(STEADY);
    let stalled = (0..STEADY)
        .map(|k| (start + k) % STEADY)
        .find(|&k| shared.stalled[k].load(Ordering::Relaxed));
    match stalled {
        Some(k) if rng.chance(0.8) => k,
        _ => start,
    }
}

// ----- steady clients -----

/// What one steady client received from whom, in order of arrival.
#[derive(Debug)]
struct Received {
    /// Sequence numbers from each steady sender.
    steady: Vec<Vec<u64>>,
    /// Sequence numbers from each churning connection, by (slot, episode).
    churn: HashMap<(u64, u64), Vec<u64>>,
}

impl Received {
    fn new() -> Received {
        Received {
            steady: vec![Vec::new(); STEADY],
            churn: HashMap::new(),
        }
    }

    /// Records a relayed `info`, checking it is whole and not out of order.
    fn record(&mut self, me: usize, frame: &Value, shared: &Shared) {
        let message = &frame["message"];
        let from = frame["from"].as_str().unwrap_or("?");
        let (Some(n), Some(text), Some(hash)) = (
            message["n"].as_u64(),
            message["p"].as_str(),
            message["h"].as_u64(),
        ) else {
            return shared.fail(format!(
                "steady-{me} got an info that is none of ours: {}",
                shorten(&frame.to_string())
            ));
        };
        if fnv(text) != hash {
            shared.fail(format!(
                "steady-{me} got message {n} from {from} with a changed payload: {}",
                shorten(&frame.to_string())
            ));
        }
        let (list, sender) = if let Some(s) = message["s"].as_u64() {
            let s = s as usize;
            if s >= STEADY || from != steady_alias(s) {
                shared.fail(format!(
                    "steady-{me} got message {n} of steady-{s} as from {from:?}"
                ));
                return;
            }
            (&mut self.steady[s], steady_alias(s))
        } else if let (Some(c), Some(e)) = (message["c"].as_u64(), message["e"].as_u64()) {
            (
                self.churn.entry((c, e)).or_default(),
                format!("churn slot {c} episode {e} ({from})"),
            )
        } else {
            return shared.fail(format!(
                "steady-{me} got an info with no sender: {}",
                shorten(&frame.to_string())
            ));
        };
        if let Some(&last) = list.last() {
            if n <= last {
                shared.fail(format!(
                    "steady-{me} got message {n} from {sender} after message {last}: {}",
                    if n == last {
                        "a duplicate"
                    } else {
                        "out of order"
                    }
                ));
            }
        }
        list.push(n);
    }
}

/// Reads everything a steady client is sent until its `final` pong, with
/// stalls while the churn lasts. Says on `done` when its own `done` pong
/// came.
async fn steady_reader(
    me: usize,
    mut lines: Lines,
    mut rng: Rng,
    shared: Arc<Shared>,
    done: oneshot::Sender<()>,
) -> (Lines, Received) {
    let mut received = Received::new();
    let mut done = Some(done);
    let mut next_stall = Instant::now() + ms(rng.between(300, 3_000));
    loop {
        let now = Instant::now();
        if now >= next_stall && now < shared.chaos_end {
            bump(&shared.stats.stalls);
            // A deliberate stall, shorter than the write deadline.
            shared.stalled[me].store(true, Ordering::Relaxed);
            tokio::time::sleep(ms(rng.between(STEADY_STALL_MS.0, STEADY_STALL_MS.1))).await;
            shared.stalled[me].store(false, Ordering::Relaxed);
            next_stall = Instant::now() + ms(rng.between(1_000, 4_000));
        }
        let line = match lines.next().await {
            Ok(line) => line,
            Err(end) => {
                shared.fail(format!(
                    "steady-{me}'s stream ended after {} lines: {end:?}",
                    lines.count
                ));
                return (lines, received);
            }
        };
        bump(&shared.stats.lines);
        let frame: Value = match serde_json::from_slice(&line) {
            Ok(frame) => frame,
            Err(e) => {
                shared.fail(format!(
                    "steady-{me} got a line that is not JSON ({e}): {}",
                    shorten(&String::from_utf8_lossy(&line))
                ));
                continue;
            }
        };
        match frame["type"].as_str() {
            Some("info") => received.record(me, &frame, &shared),
            Some("pong") => match frame["id"].as_str() {
                Some("done") => {
                    if let Some(done) = done.take() {
                        let _ = done.send(());
                    }
                }
                Some("final") => return (lines, received),
                _ => {}
            },
            Some("error") if frame["code"] == "unknown_alias" => bump(&shared.stats.unknown_alias),
            _ => shared.fail(format!(
                "steady-{me} got {}",
                shorten(&String::from_utf8_lossy(&line))
            )),
        }
    }
}

/// Sends numbered messages until the churn ends, then a `done` ping.
/// Returns the socket's write side (dropping it would half-close) and what
/// it sent: (sequence number, target) in order.
async fn steady_writer(
    me: usize,
    mut w: OwnedWriteHalf,
    mut rng: Rng,
    shared: Arc<Shared>,
) -> (OwnedWriteHalf, Sent) {
    let mut sent = Vec::new();
    let mut seq = 0u64;
    let mut buf = Vec::new();
    let mut batch = Vec::new();
    let mut self_burst = small_window(me) && me / 3 < SELF_BURSTERS;
    while Instant::now() < shared.chaos_end {
        buf.clear();
        batch.clear();
        if self_burst && shared.stalled[me].load(Ordering::Relaxed) {
            self_burst = false;
            bump(&shared.stats.steady_self_bursts);
            for _ in 0..SELF_BURST {
                batch.push((Target::Steady(me), 0));
            }
        } else if rng.chance(0.012) {
            // Large messages to one reader, mostly a stalled one: they
            // pile up in the kernel's buffers and in the hub.
            bump(&shared.stats.steady_bursts);
            let target = Target::Steady(burst_target(&shared, &mut rng));
            for _ in 0..rng.between(24, 64) {
                batch.push((target, rng.between(2_000, 14_000) as usize));
            }
        } else {
            for _ in 0..rng.between(1, 4) {
                let target = match rng.below(100) {
                    0..=72 => Target::Steady(rng.below(STEADY)),
                    73..=77 => Target::All,
                    78..=90 => Target::Churn(rng.below(POOL)),
                    _ => {
                        // A ping whose pong the reader ignores.
                        let ping = json!({"type": "ping", "id": seq});
                        encode(&mut rng, &ping, &mut buf);
                        continue;
                    }
                };
                let max = if target == Target::All { 60 } else { 400 };
                batch.push((target, max));
            }
        }
        for &(target, max) in &batch {
            // (max 0: a self-burst's 15 KB, cheap to make)
            let text = match max {
                0 => "x".repeat(15_000),
                _ => payload(&mut rng, max),
            };
            let mut frame = json!({
                "type": "info",
                "to": target.to(),
                "message": {"s": me, "n": seq, "p": text, "h": fnv(&text)},
            });
            if rng.chance(0.2) {
                frame["id"] = json!(format!("m{seq}"));
            }
            encode(&mut rng, &frame, &mut buf);
            sent.push((seq, target));
            seq += 1;
        }
        if let Err(e) = write_styled(&mut w, &mut rng, &shared.stats, &buf).await {
            shared.fail(format!("steady-{me} could not write: {e}"));
            return (w, sent);
        }
        // Deliberate pacing.
        tokio::time::sleep(ms(rng.between(10, 90))).await;
    }
    shared
        .stats
        .steady_messages
        .fetch_add(sent.len() as u64, Ordering::Relaxed);
    if let Err(e) = w.write_all(b"{\"type\":\"ping\",\"id\":\"done\"}\n").await {
        shared.fail(format!("steady-{me} could not write its done ping: {e}"));
    }
    (w, sent)
}

// ----- churning clients -----

/// How a churning client's connection ends, unless the hub ends it first
/// (a takeover).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// A last ping, its pong, then close.
    Graceful,
    /// Close at once (sometimes by reset), perhaps in the middle of a frame.
    Abrupt { mid_frame: bool },
    /// `shutdown(Write)`, then read to EOF: every reply, then `bye`.
    HalfClose,
    /// Stop reading and fill its own queue until the hub cuts it, then read
    /// what is left: whole frames, then `bye` `slow_consumer`.
    Stuck,
    /// Stop reading, fill its own queue, ping, half-close; then read:
    /// every message, the pong, `bye` `peer_closed`, EOF.
    FillThenHalfClose,
}

/// What the reader of one churning connection saw, besides its lines.
#[derive(Debug, Default)]
struct EpisodeState {
    /// The pongs of numbered pings, in order of arrival.
    pongs: Mutex<Vec<u64>>,
    /// The hub ended the stream (with or without a `bye`).
    over: AtomicBool,
    changed: Notify,
}

#[derive(Debug, Default)]
struct ReaderReport {
    /// The reason of the `bye`, if one came.
    bye: Option<String>,
    /// How the stream ended, if it did before the client stopped reading.
    end: Option<End>,
}

/// What a churning connection sent that steady clients must get: messages
/// to steady aliases or `*`, and how many of them the hub is known to have
/// routed.
#[derive(Debug)]
struct EpisodeRecord {
    slot: u64,
    episode: u64,
    /// Only what can reach steady clients.
    sent: Sent,
    /// Messages with a smaller sequence number were sent before a ping
    /// whose pong arrived.
    confirmed_below: u64,
}

async fn churny_reader(
    who: String,
    mut lines: Lines,
    mut rng: Rng,
    state: Arc<EpisodeState>,
    mut stop: oneshot::Receiver<()>,
    shared: Arc<Shared>,
    mut report: ReaderReport,
) -> (Lines, ReaderReport) {
    let mut next_stall = Instant::now() + ms(rng.between(200, 2_500));
    loop {
        if Instant::now() >= next_stall {
            bump(&shared.stats.stalls);
            let stall = ms(rng.between(CHURNY_STALL_MS.0, CHURNY_STALL_MS.1));
            // A deliberate stall, shorter than the write deadline.
            tokio::select! {
                () = tokio::time::sleep(stall) => {}
                _ = &mut stop => break,
            }
            next_stall = Instant::now() + ms(rng.between(500, 3_000));
        }
        let next = tokio::select! {
            biased;
            _ = &mut stop => break,
            next = lines.next() => next,
        };
        let line = match next {
            Ok(line) => line,
            Err(end) => {
                report.end = Some(end);
                break;
            }
        };
        bump(&shared.stats.lines);
        let text = String::from_utf8_lossy(&line);
        if let Some(reason) = &report.bye {
            shared.fail(format!(
                "{who}: a line after the bye ({reason}): {}",
                shorten(&text)
            ));
        }
        let frame: Value = match serde_json::from_slice(&line) {
            Ok(frame) => frame,
            Err(e) => {
                shared.fail(format!(
                    "{who} got a line that is not JSON ({e}): {}",
                    shorten(&text)
                ));
                continue;
            }
        };
        match frame["type"].as_str() {
            Some("pong") => {
                let k = frame["id"].as_str().and_then(|id| id.strip_prefix('p'));
                if let Some(k) = k.and_then(|k| k.parse::<u64>().ok()) {
                    let mut pongs = state.pongs.lock().unwrap();
                    if pongs.last().is_some_and(|&last| k <= last) {
                        shared.fail(format!("{who}: pong p{k} after pong {pongs:?}"));
                    }
                    pongs.push(k);
                    drop(pongs);
                    state.changed.notify_one();
                } else {
                    shared.fail(format!("{who}: a pong for no ping of its own: {text}"));
                }
            }
            Some("bye") => {
                let reason = frame["reason"].as_str().unwrap_or("?").to_owned();
                if reason == "taken_over" {
                    bump(&shared.stats.taken_over);
                }
                report.bye = Some(reason);
            }
            Some("error") if frame["code"] == "unknown_alias" => bump(&shared.stats.unknown_alias),
            Some("sessions") => {
                let rows = frame["sessions"].as_array().map_or(usize::MAX, Vec::len);
                if rows > 4 || !frame["total"].is_u64() {
                    shared.fail(format!(
                        "{who}: a list of at most 4 rows got {}",
                        shorten(&text)
                    ));
                }
            }
            Some("synced" | "info") => {}
            _ => shared.fail(format!("{who} got {}", shorten(&text))),
        }
    }
    if report.end.is_some() {
        state.over.store(true, Ordering::SeqCst);
        state.changed.notify_one();
    }
    (lines, report)
}

/// One churning client: connects, acts, leaves, over and over until the
/// churn ends.
async fn churny_slot(slot: u64, shared: Arc<Shared>) -> Vec<EpisodeRecord> {
    let mut rng = Rng::derive(shared.seed, 2, slot);
    let mut records = Vec::new();
    // Deliberate pacing: spread the first connections out.
    tokio::time::sleep(ms(rng.between(0, 500))).await;
    let mut episode = 0;
    while Instant::now() < shared.chaos_end {
        if let Some(record) = churny_episode(slot, episode, &mut rng, &shared).await {
            records.push(record);
        }
        episode += 1;
        tokio::time::sleep(ms(rng.between(0, 40))).await;
    }
    records
}

/// A frame a churning client sends during its activity.
fn churny_frame(
    rng: &mut Rng,
    (slot, episode): (u64, u64),
    seq: &mut u64,
    pings: &mut Vec<u64>,
    sent: &mut Sent,
    alias: &mut Option<String>,
) -> Value {
    let target = match rng.below(100) {
        0..=54 => Target::Steady(rng.below(STEADY)),
        55..=72 => Target::Churn(rng.below(POOL)),
        73..=74 => Target::All,
        75..=87 => {
            // Ping number k is sent after the messages below pings[k].
            let k = pings.len();
            pings.push(*seq);
            return json!({"type": "ping", "id": format!("p{k}")});
        }
        88..=93 => {
            let id = format!("l{}", rng.below(100));
            return json!({"type": "list", "limit": rng.between(1, 4), "id": id});
        }
        94..=95 => {
            let k = rng.below(POOL);
            *alias = Some(churn_alias(k));
            return json!({"type": "sync", "clientName": churn_alias(k), "id": "s"});
        }
        _ => Target::Steady(rng.below(STEADY)),
    };
    let max = if target == Target::All { 40 } else { 300 };
    churny_info(rng, (slot, episode), seq, sent, target, max)
}

/// A numbered message from a churning client, recorded in `sent` when it
/// can reach steady clients.
fn churny_info(
    rng: &mut Rng,
    (slot, episode): (u64, u64),
    seq: &mut u64,
    sent: &mut Sent,
    target: Target,
    max: usize,
) -> Value {
    let text = payload(rng, max);
    let n = *seq;
    *seq += 1;
    if !matches!(target, Target::Churn(_)) {
        sent.push((n, target));
    }
    json!({
        "type": "info",
        "to": target.to(),
        "message": {"c": slot, "e": episode, "n": n, "p": text, "h": fnv(&text)},
    })
}

async fn churny_episode(
    slot: u64,
    episode: u64,
    rng: &mut Rng,
    shared: &Arc<Shared>,
) -> Option<EpisodeRecord> {
    bump(&shared.stats.episodes);
    let who = format!("churn slot {slot} episode {episode}");
    let ending = match rng.below(100) {
        _ if slot < STUCK_SLOTS && episode == 0 => Ending::Stuck,
        _ if slot < STUCK_SLOTS + FILL_SLOTS && episode == 0 => Ending::FillThenHalfClose,
        0..=21 => Ending::Abrupt { mid_frame: false },
        22..=31 => Ending::Abrupt { mid_frame: true },
        32..=61 => Ending::HalfClose,
        _ => Ending::Graceful,
    };
    // The stuck and filling clients act alone, under an alias of their own
    // that nobody takes over.
    let alone = matches!(ending, Ending::Stuck | Ending::FillThenHalfClose);
    let recv_buffer = if alone {
        Some(8 * 1024)
    } else {
        rng.chance(0.3)
            .then(|| rng.between(8 * 1024, 64 * 1024) as u32)
    };
    let stream = match connect(shared.addr, recv_buffer).await {
        Ok(stream) => stream,
        Err(e) => {
            shared.fail(format!("{who}: connect: {e}"));
            return None;
        }
    };
    let (r, mut w) = stream.into_split();
    let state = Arc::new(EpisodeState::default());
    let (mut stop, stopped) = oneshot::channel();
    let mut reader = tokio::spawn(churny_reader(
        who.clone(),
        Lines::new(r),
        Rng::derive(shared.seed, 3, (slot << 32) | episode),
        state.clone(),
        stopped,
        shared.clone(),
        ReaderReport::default(),
    ));
    let activity_end = (Instant::now() + ms(rng.between(100, 2_000))).min(shared.chaos_end);
    let mut seq = 0u64;
    let mut pings: Vec<u64> = Vec::new();
    let mut sent = Vec::new();
    let mut buf = Vec::new();
    let mut writable = true;
    let mut alias = None;
    if alone {
        let own = format!("alone-{slot}-{episode}");
        let sync = json!({"type": "sync", "clientName": own, "id": "s"});
        encode(rng, &sync, &mut buf);
        writable = w.write_all(&buf).await.is_ok();
        alias = Some(own);
    } else if rng.chance(0.85) {
        let k = rng.below(POOL);
        alias = Some(churn_alias(k));
        let sync = json!({"type": "sync", "clientName": churn_alias(k), "id": "s"});
        encode(rng, &sync, &mut buf);
    }
    if !alone {
        loop {
            for _ in 0..rng.between(1, 3) {
                let frame = churny_frame(
                    rng,
                    (slot, episode),
                    &mut seq,
                    &mut pings,
                    &mut sent,
                    &mut alias,
                );
                encode(rng, &frame, &mut buf);
            }
            if rng.chance(0.03) {
                // A burst of large messages, mostly to a stalled reader: this
                // client is likely held back, with input pending in the hub,
                // when it is taken over, half-closes or vanishes.
                bump(&shared.stats.churn_bursts);
                let target = Target::Steady(burst_target(shared, rng));
                for _ in 0..rng.between(8, 32) {
                    let max = rng.between(2_000, 14_000) as usize;
                    let frame = churny_info(rng, (slot, episode), &mut seq, &mut sent, target, max);
                    encode(rng, &frame, &mut buf);
                }
            }
            if write_styled(&mut w, rng, &shared.stats, &buf)
                .await
                .is_err()
            {
                // The hub closed this session (a takeover) and reset it.
                writable = false;
                break;
            }
            buf.clear();
            if Instant::now() >= activity_end || state.over.load(Ordering::SeqCst) {
                break;
            }
            // Deliberate pacing.
            tokio::time::sleep(ms(rng.between(20, 250))).await;
        }
    }
    let over = |state: &EpisodeState| state.over.load(Ordering::SeqCst);
    let mut half_closed = false;
    // The reader goes on until the hub ends the stream.
    let mut to_the_end = false;
    // When a stuck or filling client started reading again.
    let mut reading_again = None;
    match ending {
        _ if !writable || over(&state) => {}
        Ending::Graceful => {
            bump(&shared.stats.graceful);
            let k = pings.len() as u64;
            pings.push(seq);
            let ping = format!("{{\"type\":\"ping\",\"id\":\"p{k}\"}}\n");
            if w.write_all(ping.as_bytes()).await.is_ok() {
                let waited = tokio::time::timeout(WAIT, async {
                    loop {
                        let answered = state.pongs.lock().unwrap().contains(&k);
                        if answered || over(&state) {
                            return;
                        }
                        state.changed.notified().await;
                    }
                })
                .await;
                if waited.is_err() {
                    shared.fail(format!("{who}: no pong for its last ping within {WAIT:?}"));
                }
            }
        }
        Ending::Abrupt { mid_frame } => {
            bump(&shared.stats.abrupt);
            if mid_frame {
                bump(&shared.stats.abrupt_mid_frame);
                let mut ignored = (0, Vec::new(), Vec::new(), None);
                let frame = churny_frame(
                    rng,
                    (slot, episode),
                    &mut ignored.0,
                    &mut ignored.1,
                    &mut ignored.2,
                    &mut ignored.3,
                );
                let text = frame.to_string();
                let cut = 1 + rng.below(text.len() - 1);
                let _ = w.write_all(&text.as_bytes()[..cut]).await;
            }
        }
        Ending::HalfClose => {
            bump(&shared.stats.half_closes);
            half_closed = w.shutdown().await.is_ok();
            to_the_end = half_closed;
        }
        Ending::Stuck => {
            let _ = stop.send(());
            let (lines, report) = reader.await.expect("churny reader");
            let own = alias.clone().unwrap_or_default();
            let cut = get_stuck(&who, &own, &mut w, (slot, episode), shared).await?;
            reading_again = Some(Instant::now());
            if cut == "slow_consumer" {
                bump(&shared.stats.stuck_cut);
            } else {
                shared.fail(format!("{who}: stopped reading, and was closed for {cut}"));
            }
            let (again, stopped) = oneshot::channel();
            stop = again;
            reader = tokio::spawn(churny_reader(
                who.clone(),
                lines,
                Rng::derive(shared.seed, 4, (slot << 32) | episode),
                state.clone(),
                stopped,
                shared.clone(),
                report,
            ));
            to_the_end = true;
        }
        Ending::FillThenHalfClose => {
            let _ = stop.send(());
            let (mut lines, mut report) = reader.await.expect("churny reader");
            let own = alias.clone().unwrap_or_default();
            let mut burst = self_burst(&own, slot, episode);
            let k = pings.len() as u64;
            pings.push(seq);
            burst.extend_from_slice(format!("{{\"type\":\"ping\",\"id\":\"p{k}\"}}\n").as_bytes());
            let writing = async {
                w.write_all(&burst).await?;
                w.shutdown().await
            };
            let stall = ms(rng.between(CHURNY_STALL_MS.0, CHURNY_STALL_MS.1));
            let reading = async {
                // A deliberate stall, shorter than the write deadline,
                // while the hub fills this client's queue.
                tokio::time::sleep(stall).await;
                reading_again = Some(Instant::now());
                read_own_burst(&who, &mut lines, &mut report, &state, k, shared).await;
            };
            let (written, read) = tokio::join!(
                tokio::time::timeout(WAIT, writing),
                tokio::time::timeout(WAIT, reading)
            );
            match written {
                Ok(Ok(())) => half_closed = true,
                Ok(Err(e)) => shared.fail(format!("{who}: filling its queue: {e}")),
                Err(_) => shared.fail(format!("{who}: filling its queue took over {WAIT:?}")),
            }
            if read.is_err() {
                shared.fail(format!("{who}: filled its queue and half-closed; the stream did not end within {WAIT:?}"));
            }
            bump(&shared.stats.filled_half_closes);
            // What was read stands in for the reader's result.
            stop = oneshot::channel().0;
            reader = tokio::spawn(std::future::ready((lines, report)));
            to_the_end = true;
        }
    }
    let (lines, report) = if to_the_end {
        let mut reader = reader;
        match tokio::time::timeout(WAIT, &mut reader).await {
            Ok(joined) => joined.expect("churny reader"),
            Err(_) => {
                shared.fail(format!(
                    "{who}: {ending:?}, and the hub did not end the stream within {WAIT:?}"
                ));
                let _ = stop.send(());
                reader.await.expect("churny reader")
            }
        }
    } else {
        let _ = stop.send(());
        reader.await.expect("churny reader")
    };
    let pongs = std::mem::take(&mut *state.pongs.lock().unwrap());
    // How fast a stuck or filling client read, for the failure messages.
    let pace = match reading_again {
        Some(began) => format!(
            " ({} lines in {:.1?} since it read again)",
            lines.count,
            began.elapsed()
        ),
        None => String::new(),
    };
    // How the stream ended, when the hub ended it.
    if let Some(end) = &report.end {
        match (&report.bye, end) {
            (Some(_), End::Eof) => {}
            (Some(_), End::Error { partial: 0, .. }) => bump(&shared.stats.resets),
            (None, _) => shared.fail(format!(
                "{who}: the hub ended the stream with no bye ({end:?}) after {} lines{pace}",
                lines.count
            )),
            (Some(bye), _) => shared.fail(format!(
                "{who}: after the bye ({bye}) the stream ended with {end:?}"
            )),
        }
        match report.bye.as_deref() {
            Some("taken_over") | None => {}
            Some("peer_closed") if half_closed => {
                bump(&shared.stats.half_closes_peer_closed);
                let all: Vec<u64> = (0..pings.len() as u64).collect();
                if pongs != all {
                    shared.fail(format!(
                        "{who}: half-closed after {} pings and got bye peer_closed after pongs {pongs:?}",
                        pings.len()
                    ));
                }
            }
            Some("slow_consumer") if ending == Ending::Stuck => {}
            Some(other) => shared.fail(format!("{who}: closed by the hub with bye {other}{pace}")),
        }
    } else if to_the_end {
        shared.fail(format!("{who}: {ending:?}, and its stream never ended"));
    }
    let stream = lines
        .into_inner()
        .reunite(w)
        .expect("the two halves of one socket");
    if matches!(ending, Ending::Abrupt { .. }) && rng.chance(0.5) {
        // Close by reset rather than FIN.
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    }
    drop(stream);
    shared
        .stats
        .churn_messages
        .fetch_add(seq, Ordering::Relaxed);
    let confirmed_below = pongs
        .iter()
        .filter_map(|&k| pings.get(k as usize).copied())
        .max()
        .unwrap_or(0);
    Some(EpisodeRecord {
        slot,
        episode,
        sent,
        confirmed_below,
    })
}

/// [`SELF_BURST`] messages to `own`, as a churning client's.
fn self_burst(own: &str, slot: u64, episode: u64) -> Vec<u8> {
    let text = "x".repeat(15_000);
    let hash = fnv(&text);
    let mut burst = Vec::with_capacity(SELF_BURST * (text.len() + 120));
    for n in 0..SELF_BURST {
        let frame = format!(
            "{{\"type\":\"info\",\"to\":\"{own}\",\"message\":{{\"c\":{slot},\"e\":{episode},\
             \"n\":{n},\"p\":\"{text}\",\"h\":{hash}}}}}\n"
        );
        burst.extend_from_slice(frame.as_bytes());
    }
    burst
}

/// Reads to the end of the stream of a client that sent itself
/// [`SELF_BURST`] messages, then ping `k`, then half-closed: its messages
/// in order, all of them before the pong, then the `bye`.
async fn read_own_burst(
    who: &str,
    lines: &mut Lines,
    report: &mut ReaderReport,
    state: &EpisodeState,
    k: u64,
    shared: &Shared,
) {
    let mut next = 0;
    loop {
        let line = match lines.next().await {
            Ok(line) => line,
            Err(end) => {
                report.end = Some(end);
                break;
            }
        };
        bump(&shared.stats.lines);
        let frame: Value = match serde_json::from_slice(&line) {
            Ok(frame) => frame,
            Err(e) => {
                let text = String::from_utf8_lossy(&line);
                shared.fail(format!(
                    "{who} got a line that is not JSON ({e}): {}",
                    shorten(&text)
                ));
                continue;
            }
        };
        if let Some(reason) = &report.bye {
            shared.fail(format!(
                "{who}: a line after the bye ({reason}): {}",
                shorten(&frame.to_string())
            ));
        }
        let own = frame["message"]["e"].is_u64()
            && frame["message"]["p"]
                .as_str()
                .is_some_and(|p| p.len() == 15_000);
        match frame["type"].as_str() {
            Some("info") if own => {
                let n = frame["message"]["n"].as_u64();
                if n != Some(next) {
                    shared.fail(format!(
                        "{who}: its own message {n:?} came when {next} was due"
                    ));
                }
                next = n.unwrap_or(next) + 1;
            }
            Some("pong") => {
                if next != SELF_BURST as u64 {
                    shared.fail(format!(
                        "{who}: the pong came after {next} of its {SELF_BURST} messages"
                    ));
                }
                if frame["id"] == format!("p{k}") {
                    state.pongs.lock().unwrap().push(k);
                }
            }
            Some("bye") => report.bye = Some(frame["reason"].as_str().unwrap_or("?").to_owned()),
            Some("info" | "synced") => {}
            _ => shared.fail(format!("{who} got {}", shorten(&frame.to_string()))),
        }
    }
    if next != SELF_BURST as u64 {
        shared.fail(format!("{who}: got {next} of its {SELF_BURST} messages"));
    }
}

/// A client that stopped reading sends its own alias (`own`) far more
/// than the kernel buffers between it and the hub hold, and waits until
/// the hub closes it (its log says so). Returns the reason logged.
async fn get_stuck(
    who: &str,
    own: &str,
    w: &mut OwnedWriteHalf,
    (slot, episode): (u64, u64),
    shared: &Shared,
) -> Option<String> {
    let burst = self_burst(own, slot, episode);
    let closed = || async {
        let limit = WRITE_DEADLINE + WAIT;
        wait_for(limit, ms(50), || async {
            shared.closes.lock().unwrap().get(own).cloned()
        })
        .await
    };
    // The write blocks once the hub stops reading this client; the close
    // comes either way.
    let write = w.write_all(&burst);
    tokio::pin!(write);
    let reason = tokio::select! {
        _ = &mut write => closed().await,
        reason = closed() => reason,
    };
    if reason.is_none() {
        shared.fail(format!(
            "{who} stopped reading and sent itself {} MB; the hub did not close it within {:?}",
            burst.len() >> 20,
            WRITE_DEADLINE + WAIT
        ));
    }
    reason
}

/// Follows the hub's log, noting every close in `shared.closes`, while
/// `watching` holds.
async fn watch_closes(log: Arc<Mutex<String>>, shared: Arc<Shared>, watching: Arc<AtomicBool>) {
    let mut read = 0;
    while watching.load(Ordering::SeqCst) {
        let mut found = Vec::new();
        {
            let log = log.lock().unwrap();
            // The collector appends whole lines only.
            for line in log[read..].split_inclusive('\n') {
                read += line.len();
                if !line.contains("\"closed\"") {
                    continue;
                }
                if let Ok(entry) = serde_json::from_str::<Value>(line) {
                    if let (true, Some(alias)) =
                        (entry["message"] == "closed", entry["alias"].as_str())
                    {
                        let reason = entry["reason"].as_str().unwrap_or("?").to_owned();
                        found.push((alias.to_owned(), reason));
                    }
                }
            }
        }
        shared.closes.lock().unwrap().extend(found);
        // Deliberate pacing of the log polling.
        tokio::time::sleep(ms(50)).await;
    }
}

// ----- the run -----

/// Resident memory of the hub: the highest value seen by a sampler thread.
struct PeakSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl PeakSampler {
    fn start(pid: u32) -> PeakSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::SeqCst) {
                peak = peak.max(rss_kib(pid).unwrap_or(0));
                std::thread::sleep(ms(25));
            }
            peak
        });
        PeakSampler { stop, thread }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("sampler")
    }
}

/// The hub's count of open sessions, from `list` with `limit` 0.
async fn session_count(addr: SocketAddr) -> io::Result<u64> {
    let stream = connect(addr, None).await?;
    let (r, mut w) = stream.into_split();
    let mut lines = Lines::new(r);
    w.write_all(b"{\"type\":\"list\",\"limit\":0}\n").await?;
    let line = tokio::time::timeout(WAIT, lines.next())
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no list reply"))?
        .map_err(|end| io::Error::other(format!("{end:?}")))?;
    let reply: Value = serde_json::from_slice(&line).map_err(io::Error::other)?;
    reply["total"]
        .as_u64()
        .ok_or_else(|| io::Error::other(format!("not a count: {reply}")))
}

/// Waits until `f` gives `Some`, checking every `every`, for at most `limit`.
async fn wait_for<T, F: std::future::Future<Output = Option<T>>>(
    limit: Duration,
    every: Duration,
    mut f: impl FnMut() -> F,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = f().await {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// What the run measured, for the report.
#[derive(Debug, Default)]
struct Figures {
    /// The steady clients' session ids.
    steady_ids: Vec<String>,
    baseline_kib: u64,
    peak_kib: u64,
    after_kib: u64,
    chaos: Duration,
    total: Duration,
}

async fn run(
    addr: SocketAddr,
    pid: u32,
    log: Arc<Mutex<String>>,
    seed: u64,
    chaos: Duration,
) -> (Arc<Shared>, Figures) {
    let began = Instant::now();
    let mut figures = Figures::default();

    // The steady clients connect and sync.
    let mut steady = Vec::new();
    for i in 0..STEADY {
        let recv_buffer = small_window(i).then_some(16 * 1024);
        let stream = connect(addr, recv_buffer).await.expect("steady connect");
        let session_id = stream.local_addr().unwrap().to_string();
        let (r, mut w) = stream.into_split();
        let sync = json!({"type": "sync", "clientName": steady_alias(i)});
        w.write_all(format!("{sync}\n").as_bytes())
            .await
            .expect("steady sync");
        steady.push((Lines::new(r), w, session_id));
    }
    for (i, (lines, _, _)) in steady.iter_mut().enumerate() {
        let line = tokio::time::timeout(WAIT, lines.next())
            .await
            .expect("synced in time")
            .expect("synced");
        let reply: Value = serde_json::from_slice(&line).expect("JSON");
        assert_eq!(reply["type"], "synced", "steady-{i}: {reply}");
    }
    figures.baseline_kib = rss_kib(pid).expect("the hub's VmRSS");

    let chaos_start = Instant::now();
    let shared = Arc::new(Shared {
        addr,
        seed,
        chaos_end: chaos_start + chaos,
        stalled: (0..STEADY).map(|_| AtomicBool::new(false)).collect(),
        closes: Mutex::new(HashMap::new()),
        failures: Failures::default(),
        stats: Stats::default(),
    });
    let sampler = PeakSampler::start(pid);
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = tokio::spawn(watch_closes(log, shared.clone(), watching.clone()));
    let mut steady_ids = Vec::new();
    let mut readers: Vec<JoinHandle<(Lines, Received)>> = Vec::new();
    let mut writers: Vec<JoinHandle<(OwnedWriteHalf, Sent)>> = Vec::new();
    let mut dones = Vec::new();
    for (i, (lines, w, session_id)) in steady.into_iter().enumerate() {
        let (done, done_rx) = oneshot::channel();
        let rng = Rng::derive(seed, 0, i as u64);
        readers.push(tokio::spawn(steady_reader(
            i,
            lines,
            rng,
            shared.clone(),
            done,
        )));
        let rng = Rng::derive(seed, 1, i as u64);
        writers.push(tokio::spawn(steady_writer(i, w, rng, shared.clone())));
        dones.push(done_rx);
        steady_ids.push(session_id);
    }
    let slots: Vec<JoinHandle<Vec<EpisodeRecord>>> = (0..CHURNY as u64)
        .map(|slot| tokio::spawn(churny_slot(slot, shared.clone())))
        .collect();

    // The churn ends: every churning client finishes its last episode.
    let mut episodes = Vec::new();
    let slots_deadline = shared.chaos_end + 2 * WAIT;
    for (slot, handle) in slots.into_iter().enumerate() {
        match tokio::time::timeout_at(slots_deadline, handle).await {
            Ok(records) => episodes.extend(records.expect("churny slot")),
            Err(_) => shared.fail(format!("churn slot {slot} did not finish in time")),
        }
    }
    figures.chaos = chaos_start.elapsed();
    // Then the hub has closed every churning session: only the steady
    // clients and the one asking remain.
    let expected = STEADY as u64 + 1;
    let count = wait_for(WAIT, ms(50), move || async move {
        session_count(addr).await.ok().filter(|&n| n == expected)
    })
    .await;
    if count.is_none() {
        shared.fail(format!(
            "the hub still counts {:?} sessions {WAIT:?} after the churn; {expected} expected",
            session_count(addr).await
        ));
    }

    // Every steady message is routed once its sender has its `done` pong;
    // a `final` ping after that is answered after all of them.
    let mut write_halves = Vec::new();
    let mut sent_by = Vec::new();
    for (i, handle) in writers.into_iter().enumerate() {
        match tokio::time::timeout(WAIT, handle).await {
            Ok(joined) => {
                let (w, sent) = joined.expect("steady writer");
                write_halves.push(Some(w));
                sent_by.push(sent);
            }
            Err(_) => {
                shared.fail(format!("steady-{i}'s writer was stuck after the churn"));
                write_halves.push(None);
                sent_by.push(Vec::new());
            }
        }
    }
    for (i, done) in dones.into_iter().enumerate() {
        if tokio::time::timeout(WAIT, done).await.is_err() {
            shared.fail(format!("steady-{i} never got the pong of its done ping"));
        }
    }
    for (i, w) in write_halves.iter_mut().enumerate() {
        if let Some(w) = w {
            if let Err(e) = w.write_all(b"{\"type\":\"ping\",\"id\":\"final\"}\n").await {
                shared.fail(format!("steady-{i}: final ping: {e}"));
            }
        }
    }
    let mut received = Vec::new();
    let mut steady_lines = Vec::new();
    for (i, handle) in readers.into_iter().enumerate() {
        match tokio::time::timeout(WAIT, handle).await {
            Ok(joined) => {
                let (lines, got) = joined.expect("steady reader");
                received.push(Some(got));
                steady_lines.push(Some(lines));
            }
            Err(_) => {
                shared.fail(format!("steady-{i} never got the pong of its final ping"));
                received.push(None);
                steady_lines.push(None);
            }
        }
    }
    figures.peak_kib = sampler.finish();

    check_steady_messages(&shared, &sent_by, &received);
    check_churn_messages(&shared, &episodes, &received);

    // Every queue is empty now; the hub's memory should be back near where
    // it was with only the steady clients. glibc keeps much of the churn's
    // freed memory (measured: baseline 9 MB, peak 33-45 MB, after 27-44 MB,
    // with no descriptor or connection left behind), so the bound is what
    // the queues and buffers may hold at most, not the allocator's habits:
    // it still fails a hub whose memory grows with what passes through it.
    let bound = (figures.baseline_kib + 48 * 1024).max(2 * figures.baseline_kib);
    let settled = wait_for(Duration::from_secs(5), ms(100), move || async move {
        rss_kib(pid).filter(|&kib| kib <= bound)
    })
    .await;
    figures.after_kib = settled.unwrap_or_else(|| rss_kib(pid).unwrap_or(0));
    if settled.is_none() {
        shared.fail(format!(
            "the hub's RSS stayed at {} KiB after the churn: baseline {} KiB, bound {bound} KiB",
            figures.after_kib, figures.baseline_kib
        ));
    }

    // Last, each steady client half-closes: it is owed nothing more than
    // `bye` `peer_closed`, and its stream ends on it.
    let closes: Vec<_> = steady_lines
        .into_iter()
        .zip(write_halves)
        .enumerate()
        .filter_map(|(i, (lines, w))| Some((i, lines?, w?)))
        .map(|(i, mut lines, mut w)| {
            let shared = shared.clone();
            tokio::spawn(async move {
                if let Err(e) = w.shutdown().await {
                    return shared.fail(format!("steady-{i}: shutdown: {e}"));
                }
                let mut rest = Vec::new();
                let end = tokio::time::timeout(WAIT, async {
                    loop {
                        match lines.next().await {
                            Ok(line) => rest.push(String::from_utf8_lossy(&line).into_owned()),
                            Err(end) => return end,
                        }
                    }
                })
                .await;
                let bye = rest
                    .first()
                    .and_then(|line| serde_json::from_str::<Value>(line).ok());
                let ok = matches!(end, Ok(End::Eof))
                    && rest.len() == 1
                    && bye.is_some_and(|b| b["type"] == "bye" && b["reason"] == "peer_closed");
                if !ok {
                    shared.fail(format!(
                        "steady-{i} half-closed at the end and got {rest:?}, then {end:?}"
                    ));
                }
            })
        })
        .collect();
    for close in closes {
        close.await.expect("steady close");
    }
    watching.store(false, Ordering::SeqCst);
    let _ = watcher.await;
    figures.total = began.elapsed();
    figures.steady_ids = steady_ids;
    (shared, figures)
}

/// Every message a steady client sent to a steady alias or `*` reached
/// each steady recipient exactly once, in order.
fn check_steady_messages(shared: &Shared, sent_by: &[Sent], received: &[Option<Received>]) {
    for (i, got) in received.iter().enumerate() {
        let Some(got) = got else { continue };
        for (j, sent) in sent_by.iter().enumerate() {
            let expected: Vec<u64> = sent
                .iter()
                .filter(|(_, target)| target.reaches(i, Some(j)))
                .map(|&(n, _)| n)
                .collect();
            let arrived = &got.steady[j];
            if *arrived == expected {
                continue;
            }
            let missing: Vec<u64> = expected
                .iter()
                .filter(|n| !arrived.contains(n))
                .copied()
                .collect();
            let extra: Vec<u64> = arrived
                .iter()
                .filter(|n| !expected.contains(n))
                .copied()
                .collect();
            shared.fail(format!(
                "steady-{i} from steady-{j}: {} messages expected, {} arrived; missing {:?}, \
                 unexpected {:?}{}",
                expected.len(),
                arrived.len(),
                &missing[..missing.len().min(10)],
                &extra[..extra.len().min(10)],
                if missing.is_empty() && extra.is_empty() {
                    " (so duplicated or reordered)"
                } else {
                    ""
                }
            ));
        }
    }
}

/// Messages from each churning connection reached each steady client as a
/// prefix of what it sent there (in order, no gaps, no duplicates), at
/// least up to what the hub is known to have routed.
fn check_churn_messages(
    shared: &Shared,
    episodes: &[EpisodeRecord],
    received: &[Option<Received>],
) {
    let known: HashMap<(u64, u64), &EpisodeRecord> =
        episodes.iter().map(|e| ((e.slot, e.episode), e)).collect();
    for (i, got) in received.iter().enumerate() {
        let Some(got) = got else { continue };
        for key in got.churn.keys() {
            if !known.contains_key(key) {
                shared.fail(format!(
                    "steady-{i} got messages from churn slot {} episode {}, which never ran",
                    key.0, key.1
                ));
            }
        }
        for record in episodes {
            let sent: Vec<u64> = record
                .sent
                .iter()
                .filter(|(_, target)| target.reaches(i, None))
                .map(|&(n, _)| n)
                .collect();
            let arrived = got
                .churn
                .get(&(record.slot, record.episode))
                .map_or(&[][..], Vec::as_slice);
            let confirmed = sent.iter().filter(|&&n| n < record.confirmed_below).count();
            let prefix = arrived.len() <= sent.len() && sent[..arrived.len()] == *arrived;
            shared
                .stats
                .churn_delivered
                .fetch_add(arrived.len() as u64, Ordering::Relaxed);
            shared
                .stats
                .churn_confirmed
                .fetch_add(confirmed as u64, Ordering::Relaxed);
            if !prefix || arrived.len() < confirmed {
                shared.fail(format!(
                    "steady-{i} from churn slot {} episode {}: sent {:?}, of which the first {confirmed} \
                     were routed for sure; arrived {:?}",
                    record.slot,
                    record.episode,
                    &sent[..sent.len().min(20)],
                    &arrived[..arrived.len().min(20)]
                ));
            }
        }
    }
}

#[test]
fn chaos() {
    let (seed, source) = chaos_seed(DEFAULT_SEED);
    let chaos = std::env::var("CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs_f64);
    eprintln!(
        "chaos: seed {seed} ({source}); replay with CHAOS_SEED={seed}; \
         {STEADY} steady + {CHURNY} churning clients for {chaos:?}"
    );
    let wanted = (STEADY + CHURNY) as u64 * 2 + 256;
    let limit = rlimit::increase_nofile_limit(wanted).expect("raise RLIMIT_NOFILE");
    assert!(
        limit >= wanted,
        "RLIMIT_NOFILE is {limit}; this test needs {wanted}"
    );
    let deadline = format!("{}ms", WRITE_DEADLINE.as_millis());
    let hub = ServeProcess::start(&["--write-deadline", &deadline], &[]);
    let pid = child_pid("tcphub");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (shared, figures) = runtime.block_on(run(hub.addr, pid, hub.stderr.clone(), seed, chaos));
    drop(runtime);

    let stats = &shared.stats;
    eprintln!(
        "chaos: churn {:.1?}, whole run {:.1?}; hub RSS baseline {} KiB, peak {} KiB, after {} KiB",
        figures.chaos, figures.total, figures.baseline_kib, figures.peak_kib, figures.after_kib
    );
    eprintln!(
        "chaos: {} steady messages ({} bursts, {} self-bursts), {} churn episodes sending {} messages \
         ({} bursts); \
         {} taken over, {} half-closes ({} ended peer_closed), {} abrupt ({} mid-frame), \
         {} stuck ones cut, {} filled and half-closed, \
         {} graceful, {} resets after a bye; {} stalls; {} split and {} joined writes, \
         {} held back over 250 ms; {} unknown_alias; {} lines read; {} churn messages \
         reached steady clients ({} of them known routed)",
        get(&stats.steady_messages),
        get(&stats.steady_bursts),
        get(&stats.steady_self_bursts),
        get(&stats.episodes),
        get(&stats.churn_messages),
        get(&stats.churn_bursts),
        get(&stats.taken_over),
        get(&stats.half_closes),
        get(&stats.half_closes_peer_closed),
        get(&stats.abrupt),
        get(&stats.abrupt_mid_frame),
        get(&stats.stuck_cut),
        get(&stats.filled_half_closes),
        get(&stats.graceful),
        get(&stats.resets),
        get(&stats.stalls),
        get(&stats.split_writes),
        get(&stats.joined_writes),
        get(&stats.held_back),
        get(&stats.unknown_alias),
        get(&stats.lines),
        get(&stats.churn_delivered),
        get(&stats.churn_confirmed),
    );

    // The hub's own account: it never panicked or logged an error, and
    // closed no steady client before the end.
    let (status, _stdout, log) = hub.terminate();
    let mut reasons: HashMap<String, u64> = HashMap::new();
    for line in log.lines() {
        if line.contains("panicked") {
            shared.fail(format!("the hub panicked: {}", shorten(line)));
        }
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if entry["level"] == "ERROR" {
            shared.fail(format!("the hub logged an error: {}", shorten(line)));
        }
        if entry["message"] == "closed" {
            let reason = entry["reason"].as_str().unwrap_or("?").to_owned();
            *reasons.entry(reason.clone()).or_default() += 1;
            let peer = entry["session_id"].as_str().unwrap_or("");
            if figures.steady_ids.iter().any(|id| id == peer) && reason != "peer_closed" {
                shared.fail(format!("the hub closed a steady client: {}", shorten(line)));
            }
        }
    }
    eprintln!("chaos: the hub's closes by reason: {reasons:?}");
    if !status.success() {
        shared.fail(format!("the hub exited with {status}"));
    }

    let total = shared.failures.total.load(Ordering::Relaxed);
    let kept = shared.failures.kept.lock().unwrap();
    assert!(
        total == 0,
        "{total} failures (seed {seed}; replay with CHAOS_SEED={seed}), the first {}:\n{}",
        kept.len(),
        kept.join("\n")
    );
}
