//! Issue 9, as a user and an attacker hit it: the real `tcphub serve` over
//! loopback, driven by plain blocking sockets that see every byte, so a
//! frame cut in the middle or a missing last frame cannot hide.
//!
//! Each test is one numbered problem of the issue. They run one at a time
//! (see [`serial`]): several of them load the 2-core machine on purpose and
//! would disturb each other's timing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use common::raw::{shorten, End, RawClient, Transcript};
use common::serve::ServeProcess;
use serde_json::{json, Value};

/// Longest any single wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

/// One test of this file at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `serve`'s log (`--log-format json`, on stderr) read as it grows.
struct ServeLog<'a> {
    hub: &'a ServeProcess,
    /// Bytes of the log already looked at.
    read: usize,
}

impl<'a> ServeLog<'a> {
    /// From the first line logged.
    fn new(hub: &'a ServeProcess) -> ServeLog<'a> {
        ServeLog { hub, read: 0 }
    }

    /// The next entry `pick` accepts among those logged so far.
    fn find(&mut self, mut pick: impl FnMut(&Value) -> bool) -> Option<Value> {
        let log = self.hub.stderr.lock().unwrap();
        // The collector appends whole lines only.
        for line in log[self.read..].split_inclusive('\n') {
            self.read += line.len();
            if let Ok(entry) = serde_json::from_str::<Value>(line) {
                if pick(&entry) {
                    return Some(entry);
                }
            }
        }
        None
    }

    /// The next entry `pick` accepts, waiting up to `timeout` for it.
    fn wait(&mut self, timeout: Duration, mut pick: impl FnMut(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(entry) = self.find(&mut pick) {
                return Some(entry);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether `entry` logs the end of the session `session_id`.
fn closes(entry: &Value, session_id: &str) -> bool {
    entry["message"] == "closed" && entry["session_id"] == session_id
}

/// What a numbered `info` sent by [`publish`] looks like on the wire.
struct Numbered {
    head: Vec<u8>,
    tail: Vec<u8>,
    from: String,
    fill: String,
}

impl Numbered {
    fn new(from: &str, fill_len: usize) -> Numbered {
        let fill = "x".repeat(fill_len);
        Numbered {
            head: format!(r#"{{"type":"info","from":"{from}","message":{{"n":"#).into_bytes(),
            tail: format!(r#","fill":"{fill}"}}}}"#).into_bytes(),
            from: from.to_owned(),
            fill,
        }
    }

    /// The relay request for message `n`, newline included.
    fn request(&self, n: usize) -> String {
        format!(
            "{{\"type\":\"info\",\"to\":\"*\",\"message\":{{\"n\":{n},\"fill\":\"{}\"}}}}\n",
            self.fill
        )
    }

    /// Whether `line` is message `n`, whole. Byte comparison first (over a
    /// million lines go through here); JSON when the bytes differ, so a
    /// different but equivalent encoding still passes.
    fn is(&self, line: &[u8], n: usize) -> bool {
        if line.starts_with(&self.head) && line.ends_with(&self.tail) {
            let digits = &line[self.head.len()..line.len() - self.tail.len()];
            if let Some(got) = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<usize>().ok())
            {
                return got == n;
            }
        }
        let Ok(frame) = serde_json::from_slice::<Value>(line) else {
            return false;
        };
        frame["type"] == "info"
            && frame["from"] == self.from.as_str()
            && frame["message"]["n"] == n
            && frame["message"]["fill"] == self.fill.as_str()
    }
}

/// Sends `count` numbered relays to `*` from `publisher`, in writes of
/// about 64 KiB.
fn publish(publisher: &mut RawClient, numbered: &Numbered, count: usize) {
    let mut batch = Vec::with_capacity(80 * 1024);
    for n in 0..count {
        batch.extend_from_slice(numbered.request(n).as_bytes());
        if batch.len() >= 64 * 1024 {
            publisher.send(&batch);
            batch.clear();
        }
    }
    publisher.send(&batch);
}

/// Reads messages 0..count from `client`, each whole and in order, then
/// checks nothing else is queued (a `ping` is answered next). Says what
/// went wrong otherwise.
fn read_numbered(
    client: &mut RawClient,
    numbered: &Numbered,
    count: usize,
    deadline: Instant,
) -> Result<(), String> {
    for n in 0..count {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_line(left) {
            Ok(line) if numbered.is(line, n) => {}
            Ok(line) => {
                return Err(format!(
                    "message {n}: got {}",
                    shorten(&String::from_utf8_lossy(line))
                ))
            }
            Err(end) => return Err(format!("after {n} of {count} messages: {end:?}")),
        }
    }
    client.send_line(r#"{"type":"ping"}"#);
    let left = deadline.saturating_duration_since(Instant::now());
    match client.next_json(left) {
        Ok(frame) if frame["type"] == "pong" => Ok(()),
        Ok(frame) => Err(format!(
            "after all {count} messages: {}",
            shorten(&frame.to_string())
        )),
        Err(end) => Err(format!("after all {count} messages, no pong: {end:?}")),
    }
}

/// [`read_numbered`] for a reader that is one task among many on an
/// event loop, as in most client programs. With `pace` (bytes per second)
/// it reads steadily at that rate, as over a slow link; without, as fast
/// as it can.
async fn read_numbered_async(
    stream: std::net::TcpStream,
    numbered: Arc<Numbered>,
    count: usize,
    pace: Option<f64>,
) -> Result<(), String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    stream.set_nonblocking(true).expect("non-blocking");
    let (read, mut write) = tokio::net::TcpStream::from_std(stream)
        .expect("tokio socket")
        .into_split();
    let mut reader = tokio::io::BufReader::with_capacity(64 * 1024, read);
    let mut line = Vec::with_capacity(1024);
    let began = tokio::time::Instant::now();
    let mut taken = 0usize;
    for n in 0..=count {
        if n == count {
            write
                .write_all(b"{\"type\":\"ping\"}\n")
                .await
                .map_err(|e| format!("after all {count} messages, ping: {e}"))?;
        }
        if let Some(rate) = pace {
            if n % 64 == 0 {
                let due = began + Duration::from_secs_f64(taken as f64 / rate);
                tokio::time::sleep_until(due).await;
            }
        }
        line.clear();
        let ending = match reader.read_until(b'\n', &mut line).await {
            Ok(0) => "EOF".to_owned(),
            Ok(_) if line.last() == Some(&b'\n') => {
                taken += line.len();
                let frame = &line[..line.len() - 1];
                let expected = if n < count {
                    numbered.is(frame, n)
                } else {
                    serde_json::from_slice::<Value>(frame).is_ok_and(|f| f["type"] == "pong")
                };
                if expected {
                    continue;
                }
                format!("got {}", shorten(&String::from_utf8_lossy(frame)))
            }
            Ok(_) => format!(
                "EOF in the middle of a line, after {} bytes: {}",
                line.len(),
                shorten(&String::from_utf8_lossy(&line))
            ),
            Err(e) => format!("{e}"),
        };
        return Err(if n < count {
            format!("after {n} of {count} messages: {ending}")
        } else {
            format!("after all {count} messages, instead of a pong: {ending}")
        });
    }
    Ok(())
}

/// `transcript` ends on one whole `bye` with `reason`, then a clean EOF.
/// A reset right after the `bye` is accepted when `reset_ok` (the client
/// had unsent requests the hub never read).
fn assert_ends_with_bye(transcript: &Transcript, reason: &str, reset_ok: bool) {
    let clean = match &transcript.end {
        End::Eof => true,
        End::Error { partial: 0, .. } => reset_ok,
        _ => false,
    };
    assert!(
        clean,
        "the stream must end on a whole line, then EOF: {}",
        transcript.summary()
    );
    let last = transcript
        .lines
        .last()
        .map(|l| serde_json::from_str::<Value>(l));
    match last {
        Some(Ok(bye)) if bye["type"] == "bye" && bye["reason"] == reason => {}
        _ => panic!(
            "the last line must be a bye with reason {reason}: {}",
            transcript.summary()
        ),
    }
}

/// Problem 1: `printf '{"type":"ping"}\n' | nc -N host port` must print
/// the `pong`. EOF means "no more requests", not "drop my answers".
#[test]
fn half_close_gets_every_reply() {
    let _serial = serial();
    let hub = ServeProcess::start(&[], &[]);
    const ROUNDS: usize = 25;
    const PING: &str = r#"{"type":"ping"}"#;
    /// Each connection is over in milliseconds; this only bounds a hang.
    const PATIENCE: Duration = Duration::from_secs(5);
    // (what, request, the reply types it must get); `{alias}` is replaced.
    let sync = r#"{"type":"sync","clientName":"{alias}"}"#;
    let cases: [(&str, String, Vec<&str>); 4] = [
        ("one ping", format!("{PING}\n"), vec!["pong"]),
        ("one ping, no newline", PING.to_owned(), vec!["pong"]),
        (
            "pings and a sync",
            format!("{PING}\n{PING}\n{sync}\n{PING}\n"),
            vec!["pong", "pong", "synced", "pong"],
        ),
        (
            "pings and a sync, no delimiters",
            format!("{PING}{sync}{PING}"),
            vec!["pong", "synced", "pong"],
        ),
    ];
    // How the FIN follows the request.
    #[derive(Clone, Copy, Debug)]
    enum Fin {
        /// In the same TCP segment as the request.
        SameSegment,
        /// Right after the request's write.
        RightAfter,
        /// Only once every reply has arrived.
        AfterReplies,
    }
    let mut failures: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut tries = 0;
    for round in 0..ROUNDS {
        for (case, (what, template, expected)) in cases.iter().enumerate() {
            for fin in [Fin::SameSegment, Fin::RightAfter, Fin::AfterReplies] {
                tries += 1;
                let alias = format!("half-{round}-{case}-{fin:?}");
                let request = template.replace("{alias}", &alias);
                let mut client = RawClient::connect(hub.addr);
                let mut early = Vec::new();
                match fin {
                    Fin::SameSegment => client.send_with_fin(request.as_bytes()),
                    Fin::RightAfter => {
                        client.send(request.as_bytes());
                        client.shutdown_write();
                    }
                    Fin::AfterReplies => {
                        client.send(request.as_bytes());
                        for _ in expected {
                            match client.next_line(PATIENCE) {
                                Ok(line) => early.push(String::from_utf8_lossy(line).into_owned()),
                                Err(_) => break,
                            }
                        }
                        client.shutdown_write();
                    }
                }
                let mut transcript = client.read_to_end(PATIENCE);
                early.append(&mut transcript.lines);
                transcript.lines = early;
                assert!(
                    transcript.end.is_over(),
                    "{what}, FIN {fin:?}: the hub never closed the half-closed connection: {}",
                    transcript.summary()
                );
                let mut want: Vec<&str> = expected.to_vec();
                want.push("bye");
                let ok = transcript.types() == want
                    && transcript.end == End::Eof
                    && transcript.lines.iter().all(|line| {
                        let frame: Value = serde_json::from_str(line).unwrap_or(Value::Null);
                        match frame["type"].as_str() {
                            Some("synced") => frame["clientName"] == alias.as_str(),
                            Some("bye") => frame["reason"] == "peer_closed",
                            _ => true,
                        }
                    });
                if !ok {
                    let entry = failures
                        .entry(format!("{what}, FIN {fin:?}"))
                        .or_insert_with(|| (0, transcript.summary()));
                    entry.0 += 1;
                }
            }
        }
        tries += 1;
        if let Err(first) = relays_then_half_close(&hub, round) {
            failures
                .entry("relayed messages queued before the FIN".to_owned())
                .or_insert((0, first))
                .0 += 1;
        }
    }
    let report: Vec<String> = failures
        .iter()
        .map(|(case, (count, first))| {
            format!("{case}: {count} of {ROUNDS} failed; first got {first}")
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {tries} half-closed connections did not get [replies..., bye peer_closed, EOF]:\n{}",
        failures.values().map(|(n, _)| n).sum::<usize>(),
        report.join("\n")
    );
}

/// A client that was sent relays, then sends a ping and half-closes in
/// one segment: it must get every relay, the pong, then `bye`.
fn relays_then_half_close(hub: &ServeProcess, round: usize) -> Result<(), String> {
    const RELAYS: usize = 20;
    let alias = format!("target-{round}");
    let mut target = RawClient::connect(hub.addr);
    target.sync(&alias);
    let mut source = RawClient::connect(hub.addr);
    let source_alias = format!("source-{round}");
    source.sync(&source_alias);
    let mut relays = String::new();
    for n in 0..RELAYS {
        relays += &json!({"type": "info", "to": alias, "message": n}).to_string();
        relays.push('\n');
    }
    source.send(relays.as_bytes());
    // Answered after the hub has routed every relay before it.
    let told = source.ping(WAIT);
    assert!(told.is_empty(), "the source was told: {told:?}");
    target.send_with_fin(b"{\"type\":\"ping\"}\n");
    let transcript = target.read_to_end(Duration::from_secs(5));
    assert!(
        transcript.end.is_over(),
        "the hub never closed the half-closed connection: {}",
        transcript.summary()
    );
    let frames: Vec<Value> = transcript
        .lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or(Value::Null))
        .collect();
    let relayed = (0..RELAYS).all(|n| {
        frames.get(n).is_some_and(|f| {
            f["type"] == "info" && f["from"] == source_alias.as_str() && f["message"] == n
        })
    });
    let ok = relayed
        && frames.len() == RELAYS + 2
        && frames[RELAYS]["type"] == "pong"
        && frames[RELAYS + 1]["type"] == "bye"
        && frames[RELAYS + 1]["reason"] == "peer_closed"
        && transcript.end == End::Eof;
    if ok {
        Ok(())
    } else {
        Err(transcript.summary())
    }
}

/// Problem 2: a burst to `*` must reach every subscriber that keeps
/// reading, whole and in order, however far ahead the publisher could get:
/// the hub holds the publisher back instead of cutting readers.
///
/// The subscribers are tasks on one event-loop thread, as in a client
/// program. Half read as fast as they can; the other half read steadily at
/// 2 MB/s each (a 16 Mbit/s link), slower than the publisher can send.
/// Readers that are all as fast as they can keep up with the unoptimised
/// hub the tests run, so they alone would never see the problem; a reader
/// slower than the publisher, reading all the time, is what must never be
/// cut. On `main` such a reader is cut once it is about 12 MB behind (the
/// kernel's buffers plus the 8 MiB cap): hence 25 MB per subscriber.
#[test]
fn burst_never_cuts_readers_that_keep_reading() {
    const SUBSCRIBERS: usize = 100;
    const MESSAGES: usize = 45_000;
    const FILL: usize = 512;
    /// Bytes per second read by the paced half.
    const LINK: f64 = 2_000_000.0;
    let _serial = serial();
    let hub = ServeProcess::start(&[], &[]);
    let numbered = Arc::new(Numbered::new("pub", FILL));
    let streams: Vec<std::net::TcpStream> = (0..SUBSCRIBERS)
        .map(|i| {
            let mut client = RawClient::connect(hub.addr);
            client.sync(&format!("sub-{i}"));
            client.into_stream()
        })
        .collect();
    let readers = {
        let numbered = numbered.clone();
        thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let tasks: Vec<_> = streams
                    .into_iter()
                    .enumerate()
                    .map(|(i, stream)| {
                        let pace = (i % 2 == 1).then_some(LINK);
                        tokio::spawn(read_numbered_async(
                            stream,
                            numbered.clone(),
                            MESSAGES,
                            pace,
                        ))
                    })
                    .collect();
                let deadline = tokio::time::Instant::now() + 3 * WAIT;
                let mut results = Vec::new();
                for task in tasks {
                    let result = tokio::time::timeout_at(deadline, task).await;
                    results.push(match result {
                        Ok(Ok(result)) => result,
                        Ok(Err(_)) => Err("reader task panicked".to_owned()),
                        Err(_) => Err("timed out".to_owned()),
                    });
                }
                results
            })
        })
    };
    let mut publisher = RawClient::connect(hub.addr);
    publisher.sync("pub");
    let started = Instant::now();
    publish(&mut publisher, &numbered, MESSAGES);
    let told = publisher.ping(3 * WAIT);
    let published = started.elapsed();
    assert!(told.is_empty(), "the publisher was told: {told:?}");
    let failures: Vec<String> = readers
        .join()
        .expect("readers")
        .into_iter()
        .enumerate()
        .filter_map(|(i, result)| result.err().map(|problem| format!("sub-{i}: {problem}")))
        .collect();
    eprintln!(
        "{SUBSCRIBERS} subscribers x {MESSAGES} messages: published in {published:.1?}, \
         read in {:.1?}, {} subscribers failed",
        started.elapsed(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {SUBSCRIBERS} subscribers that kept reading did not get all {MESSAGES} messages \
         whole and in order:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Problem 2, the stuck reader: one that reads nothing is cut after the
/// write deadline, on a whole frame and with a `bye`, while the publisher
/// (held back meanwhile) and a reader that keeps reading carry on.
#[test]
fn stuck_reader_is_cut_on_a_whole_frame_with_notice() {
    // About 9 MB: more than the kernel buffers between the hub and the
    // stuck reader hold, so its queue in the hub cannot drain.
    const MESSAGES: usize = 16_000;
    const FILL: usize = 512;
    let _serial = serial();
    let hub = ServeProcess::start(&["--write-deadline", "1s"], &[]);
    let numbered = Arc::new(Numbered::new("pub", FILL));
    let mut stuck = RawClient::connect_with_recv_buffer(hub.addr, 16 * 1024);
    let stuck_id = stuck.sync("stuck");
    let mut reader = RawClient::connect(hub.addr);
    reader.sync("reader");
    let reading = {
        let numbered = numbered.clone();
        let deadline = Instant::now() + 3 * WAIT;
        thread::spawn(move || read_numbered(&mut reader, &numbered, MESSAGES, deadline))
    };
    let mut publisher = RawClient::connect(hub.addr);
    let publisher_id = publisher.sync("pub");
    publish(&mut publisher, &numbered, MESSAGES);
    let told = publisher.ping(WAIT);
    assert!(told.is_empty(), "the publisher was told: {told:?}");

    let closed = ServeLog::new(&hub)
        .wait(WAIT, |entry| closes(entry, &stuck_id))
        .expect("the hub never closed the reader that read nothing");
    assert_eq!(closed["reason"], "slow_consumer", "{closed}");
    // Only now does the stuck reader look at what it was sent.
    let transcript = stuck.read_to_end(WAIT);
    assert_ends_with_bye(&transcript, "slow_consumer", false);
    let (bye, messages) = transcript.lines.split_last().unwrap();
    for (n, line) in messages.iter().enumerate() {
        assert!(
            numbered.is(line.as_bytes(), n),
            "line {n} of the stuck reader's stream is not message {n} whole: {}\nbye: {bye}",
            shorten(line)
        );
    }
    assert!(
        messages.len() < MESSAGES,
        "the stuck reader was sent everything, so it was never behind"
    );

    match reading.join() {
        Ok(result) => result.expect("the reader that kept reading got everything"),
        Err(_) => panic!("reader thread panicked"),
    }
    let told = publisher.ping(WAIT);
    assert!(told.is_empty(), "the publisher was told: {told:?}");
    let cut = ServeLog::new(&hub).find(|entry| closes(entry, &publisher_id));
    assert!(cut.is_none(), "the publisher was closed: {cut:?}");
}

/// Problem 3, size: `list` answers at most a page, says the true total,
/// and pages through every session exactly once.
#[test]
fn list_replies_are_bounded_and_paged() {
    const SESSIONS: usize = 3_000;
    const PAGE: usize = 1_000;
    let _serial = serial();
    // Each connection is one descriptor in this process (the hub raises its
    // own limit).
    let wanted = SESSIONS as u64 + 256;
    let limit = rlimit::increase_nofile_limit(wanted).expect("raise RLIMIT_NOFILE");
    assert!(
        limit >= wanted,
        "RLIMIT_NOFILE is {limit}; this test needs {wanted}"
    );
    let hub = ServeProcess::start(&[], &[]);
    let mut clients: Vec<RawClient> = (0..SESSIONS)
        .map(|i| {
            let mut client = RawClient::connect(hub.addr);
            client.send_line(&json!({"type": "sync", "clientName": format!("c-{i}")}).to_string());
            client
        })
        .collect();
    let mut expected: BTreeMap<String, Value> = BTreeMap::new();
    for (i, client) in clients.iter_mut().enumerate() {
        let synced = client.expect_json(WAIT, "synced");
        assert_eq!(synced["type"], "synced", "{synced}");
        expected.insert(client.session_id(), json!(format!("c-{i}")));
    }
    let mut lister = RawClient::connect(hub.addr);
    expected.insert(lister.session_id(), Value::Null);
    let total = expected.len();

    lister.send_line(r#"{"type":"list","id":1}"#);
    let mut page = lister.expect_json(WAIT, "sessions");
    assert_eq!(page["type"], "sessions", "{}", shorten(&page.to_string()));
    let rows = page["sessions"].as_array().map_or(0, Vec::len);
    assert!(
        (1..=PAGE).contains(&rows),
        "one list reply carries {rows} rows; at most {PAGE} allowed (keys: {:?})",
        page.as_object().map(|o| o.keys().collect::<Vec<_>>())
    );
    assert_eq!(page["id"], 1, "the reply echoes the request's id");
    assert!(
        page["next"].is_string(),
        "more rows remain, so `next` is given"
    );

    let mut seen: Vec<String> = Vec::new();
    let mut pages = 1;
    loop {
        assert_eq!(page["total"], total, "every page gives the true total");
        for row in page["sessions"].as_array().expect("sessions") {
            let id = row["sessionId"].as_str().expect("sessionId").to_owned();
            let alias = expected
                .get(&id)
                .unwrap_or_else(|| panic!("a row for a session that does not exist: {row}"));
            assert_eq!(&row["clientName"], alias, "{row}");
            seen.push(id);
        }
        let next = match page.get("next") {
            Some(next) if !next.is_null() => next.clone(),
            _ => break,
        };
        assert!(
            pages <= total / PAGE + 1,
            "more pages than {total} rows fill"
        );
        lister.send_line(&json!({"type": "list", "after": next}).to_string());
        page = lister.expect_json(WAIT, "the next page");
        assert_eq!(page["type"], "sessions", "{}", shorten(&page.to_string()));
        pages += 1;
    }
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "a session was listed twice");
    assert_eq!(
        distinct,
        expected.keys().collect::<BTreeSet<_>>(),
        "the pages list every session"
    );

    lister.send_line(r#"{"type":"list","limit":0}"#);
    let count = lister.expect_json(WAIT, "the count");
    assert_eq!(count["total"], total, "{}", shorten(&count.to_string()));
    assert!(
        count.get("sessions").is_none_or(|rows| rows == &json!([])),
        "limit 0 gives the count only: {}",
        shorten(&count.to_string())
    );
    lister.send_line(r#"{"type":"list","limit":10}"#);
    let ten = lister.expect_json(WAIT, "ten rows");
    assert_eq!(ten["sessions"].as_array().map(Vec::len), Some(10));
    assert!(ten["next"].is_string(), "{}", shorten(&ten.to_string()));
    lister.send_line(r#"{"type":"list","limit":5000}"#);
    let clamped = lister.expect_json(WAIT, "a clamped page");
    assert_eq!(
        clamped["sessions"].as_array().map(Vec::len),
        Some(PAGE),
        "a larger limit is clamped to the page size"
    );
}

/// Problem 3, cost: a client spamming `list` without reading does not
/// delay anyone else's `ping`, and is closed as a slow consumer.
#[test]
fn list_spam_does_not_starve_others() {
    /// Sessions besides the spammer and the pinger: each full answer is a
    /// page of this many rows (about 60 KB).
    const OTHERS: usize = 1_000;
    const REQUESTS: usize = 20_000;
    const PINGS: usize = 20;
    const PROMPT: Duration = Duration::from_secs(2);
    let _serial = serial();
    let wanted = OTHERS as u64 + 256;
    let limit = rlimit::increase_nofile_limit(wanted).expect("raise RLIMIT_NOFILE");
    assert!(
        limit >= wanted,
        "RLIMIT_NOFILE is {limit}; this test needs {wanted}"
    );
    let hub = ServeProcess::start(&["--write-deadline", "1s"], &[]);
    let mut others: Vec<RawClient> = (0..OTHERS)
        .map(|i| {
            let mut client = RawClient::connect(hub.addr);
            client.send_line(&json!({"type": "sync", "clientName": format!("o-{i}")}).to_string());
            client
        })
        .collect();
    for client in &mut others {
        client.expect_json(WAIT, "synced");
    }
    let mut pinger = RawClient::connect(hub.addr);
    pinger.sync("pinger");
    let mut spammer = RawClient::connect(hub.addr);
    let spammer_id = spammer.session_id();

    let (started, spamming) = mpsc::channel();
    let mut spam = spammer.writer();
    spam.set_write_timeout(Some(WAIT)).unwrap();
    let spam_thread = thread::spawn(move || {
        let chunk = r#"{"type":"list"}"#.repeat(1_000);
        for sent in (0..REQUESTS).step_by(1_000) {
            if let Err(e) = spam.write_all(chunk.as_bytes()) {
                return format!("after {sent} requests: {e}");
            }
            let _ = started.send(());
        }
        "all sent".to_owned()
    });
    spamming.recv_timeout(WAIT).expect("the spammer got going");

    // Ping back to back until the hub has closed the spammer (at least
    // PINGS times), so the pings span the whole spam.
    let mut log = ServeLog::new(&hub);
    let began = Instant::now();
    let mut waits: Vec<Duration> = Vec::new();
    let closed = loop {
        let sent = Instant::now();
        pinger.send_line(r#"{"type":"ping"}"#);
        match pinger.next_json(PROMPT) {
            Ok(frame) if frame["type"] == "pong" => waits.push(sent.elapsed()),
            Ok(frame) => panic!("ping {}: got {frame}", waits.len()),
            Err(end) => panic!(
                "ping {} got no pong within {PROMPT:?} while another client spams list \
                 (the slowest earlier pong took {:?}): {end:?}",
                waits.len(),
                waits.iter().max()
            ),
        }
        if waits.len() >= PINGS {
            if let Some(closed) = log.find(|entry| closes(entry, &spammer_id)) {
                break closed;
            }
        }
        assert!(
            began.elapsed() < WAIT,
            "the hub never closed the list spammer"
        );
    };
    assert_eq!(closed["reason"], "slow_consumer", "{closed}");
    let transcript = spammer.read_to_end(WAIT);
    assert_ends_with_bye(&transcript, "slow_consumer", true);
    let answers = &transcript.lines[..transcript.lines.len() - 1];
    assert!(
        answers.len() < REQUESTS,
        "the spammer was answered {} times: it was never behind",
        answers.len()
    );
    for (i, line) in answers.iter().enumerate() {
        let frame: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("answer {i} is not a whole frame ({e}): {}", shorten(line)));
        assert_eq!(frame["type"], "sessions", "answer {i}");
    }
    let spam_result = spam_thread.join().expect("spam thread");
    eprintln!(
        "spammer closed after {:.1?} ({spam_result}); {} pongs, the slowest in {:?}",
        began.elapsed(),
        waits.len(),
        waits.iter().max()
    );

    let told = pinger.ping(WAIT);
    assert!(told.is_empty(), "the pinger was told: {told:?}");
    let told = others[0].ping(WAIT);
    assert!(told.is_empty(), "an idle client was told: {told:?}");
}

/// Problem 4: slowloris. A frame trickled a byte at a time is closed with
/// `frame_timeout`; whole frames sent slowly are not.
#[test]
fn trickled_frame_is_closed_with_frame_timeout() {
    const TIMEOUT: Duration = Duration::from_secs(1);
    let _serial = serial();
    let hub = ServeProcess::start(&["--frame-timeout", "1s"], &[]);

    let mut steady = RawClient::connect(hub.addr);
    let steady_id = steady.sync("steady");
    let trickle_done = Arc::new(AtomicBool::new(false));
    let steady_thread = {
        let trickle_done = trickle_done.clone();
        thread::spawn(move || -> Result<usize, String> {
            let began = Instant::now();
            let mut pongs = 0;
            // At least three frame timeouts, and past the trickler's end.
            while began.elapsed() < 3 * TIMEOUT || !trickle_done.load(Ordering::SeqCst) {
                steady.send_line(r#"{"type":"ping"}"#);
                match steady.next_json(Duration::from_secs(2)) {
                    Ok(frame) if frame["type"] == "pong" => pongs += 1,
                    Ok(frame) => return Err(format!("after {pongs} pongs: {frame}")),
                    Err(end) => return Err(format!("after {pongs} pongs: {end:?}")),
                }
                // Deliberate pacing: one whole frame every 300 ms.
                thread::sleep(Duration::from_millis(300));
            }
            Ok(pongs)
        })
    };

    let mut trickler = RawClient::connect(hub.addr);
    trickler.sync("trickler");
    let began = Instant::now();
    let mut head = br#"{"type":"info","message":""#.to_vec();
    head.extend(std::iter::repeat_n(b'x', 60_000));
    trickler.send(&head);
    let mut trickled = 0;
    let outcome = loop {
        // Waiting for an answer paces the trickle: one byte per 200 ms.
        match trickler.next_json(Duration::from_millis(200)) {
            Ok(frame) => break Ok(frame),
            Err(End::TimedOut { .. }) if began.elapsed() < 10 * TIMEOUT => {
                if trickler.try_send(b"x").is_ok() {
                    trickled += 1;
                }
            }
            Err(end) => break Err(end),
        }
    };
    let answered_after = began.elapsed();
    trickle_done.store(true, Ordering::SeqCst);
    let frame = outcome.unwrap_or_else(|end| {
        panic!(
            "a frame trickled for {answered_after:.1?} ({trickled} bytes after the first 60 KB) \
             got no answer: {end:?}"
        )
    });
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["code"], "frame_timeout", "{frame}");
    assert!(
        answered_after < 4 * TIMEOUT,
        "frame_timeout came {answered_after:.1?} after the frame began (limit {TIMEOUT:?})"
    );
    // Then the hub hangs up. A reset instead of a FIN is accepted: the
    // last trickled byte may reach the hub after it stopped reading.
    let rest = trickler.read_to_end(Duration::from_secs(3));
    assert!(
        rest.lines.is_empty() && matches!(rest.end, End::Eof | End::Error { partial: 0, .. }),
        "after frame_timeout the hub must close: {}",
        rest.summary()
    );

    let pongs = steady_thread
        .join()
        .expect("steady thread")
        .expect("the client sending whole frames slowly is answered throughout");
    assert!(pongs >= 10, "{pongs} pongs");
    let closed = ServeLog::new(&hub).find(|entry| closes(entry, &steady_id));
    assert!(closed.is_none(), "the steady client was closed: {closed:?}");
}

/// Replies carry the request's `id`, so a client can tell which call an
/// `error` belongs to.
#[test]
fn replies_echo_request_ids() {
    let _serial = serial();
    let hub = ServeProcess::start(&[], &[]);
    let mut client = RawClient::connect(hub.addr);
    let long_id = "i".repeat(64);
    // (request, the reply type, its error code if an error, the id it must carry)
    let cases = [
        (
            json!({"type": "sync", "clientName": "ider", "id": "sync-1"}),
            "synced",
            None,
            json!("sync-1"),
        ),
        (
            json!({"type": "sync", "clientName": "ider-2", "id": 2}),
            "synced",
            None,
            json!(2),
        ),
        (json!({"type": "ping", "id": 7}), "pong", None, json!(7)),
        (
            json!({"type": "ping", "id": "p-é"}),
            "pong",
            None,
            json!("p-é"),
        ),
        (json!({"type": "ping", "id": -5}), "pong", None, json!(-5)),
        (
            json!({"type": "ping", "id": long_id}),
            "pong",
            None,
            json!(long_id),
        ),
        (
            json!({"type": "list", "id": 123_456_789}),
            "sessions",
            None,
            json!(123_456_789),
        ),
        (
            json!({"type": "list", "id": "L"}),
            "sessions",
            None,
            json!("L"),
        ),
        (
            json!({"type": "info", "to": "ghost", "message": "hi", "id": "r-1"}),
            "error",
            Some("unknown_alias"),
            json!("r-1"),
        ),
        (
            json!({"type": "info", "to": "ghost", "message": "hi", "id": 42}),
            "error",
            Some("unknown_alias"),
            json!(42),
        ),
        (json!({"type": "ping"}), "pong", None, Value::Null),
    ];
    let mut wrong = Vec::new();
    for (request, reply_type, code, id) in &cases {
        client.send_line(&request.to_string());
        let reply = client.expect_json(WAIT, reply_type);
        let ok = reply["type"] == *reply_type
            && code.is_none_or(|code| reply["code"] == code)
            && reply.get("id").unwrap_or(&Value::Null) == id;
        if !ok {
            wrong.push(format!(
                "sent {request}\n   got {}",
                shorten(&reply.to_string())
            ));
        }
    }
    // An id of the wrong type or too long is refused, and the session stays.
    for bad in [
        json!({"a": 1}),
        json!([1]),
        json!(true),
        json!("i".repeat(65)),
    ] {
        let request = json!({"type": "ping", "id": bad});
        client.send_line(&request.to_string());
        let reply = client.expect_json(WAIT, "invalid_field");
        if reply["type"] != "error" || reply["code"] != "invalid_field" {
            wrong.push(format!(
                "sent {}\n   got {} (want error invalid_field)",
                shorten(&request.to_string()),
                shorten(&reply.to_string())
            ));
        }
    }
    let told = client.ping(WAIT);
    assert!(told.is_empty(), "then: {told:?}");
    assert!(
        wrong.is_empty(),
        "{} of {} replies did not match their request:\n{}",
        wrong.len(),
        cases.len() + 4,
        wrong.join("\n")
    );
}

/// A reader that keeps reading, however slowly, is never cut. The kernel's
/// autotuned send buffer (4 MiB on loopback) used to swallow megabytes for
/// a slow reader and turn writable again only once a third of it drained,
/// so the hub saw no progress for seconds and cut a reader that never
/// stopped (found by the chaos test). With TCP_NOTSENT_LOWAT the hub sees
/// progress every few dozen kilobytes.
#[test]
fn a_slow_steady_reader_is_never_cut() {
    let _serial = serial();
    let hub = ServeProcess::start(&["--write-deadline", "500ms"], &[]);
    let mut reader = RawClient::connect_with_recv_buffer(hub.addr, 8192);
    reader.sync("slow");
    let mut sender = RawClient::connect(hub.addr);
    sender.sync("fast");
    const MESSAGES: usize = 400;
    let filler = "x".repeat(15_000);
    let burst: Vec<u8> = (0..MESSAGES)
        .flat_map(|n| {
            let frame = json!({"type": "info", "to": "slow", "message": {"n": n, "p": filler}});
            format!("{frame}\n").into_bytes()
        })
        .collect();
    let sending = std::thread::spawn(move || {
        sender.send(&burst);
        sender
    });
    // About 1 MB/s, steadily: 6 MB in about 6 s, never a pause of even a
    // tenth of the write deadline.
    for n in 0..MESSAGES {
        let frame = reader
            .next_json(WAIT)
            .unwrap_or_else(|end| panic!("message {n}: the stream ended: {end:?}"));
        assert_eq!(
            frame["type"],
            "info",
            "message {n}: got {}",
            shorten(&frame.to_string())
        );
        assert_eq!(frame["message"]["n"], n);
        std::thread::sleep(Duration::from_millis(15));
    }
    let mut sender = sending.join().expect("sender thread");
    assert!(
        sender.ping(WAIT).is_empty(),
        "the sender was not cut either"
    );
    assert!(reader.ping(WAIT).is_empty());
}
