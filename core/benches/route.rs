//! Decode-and-route throughput of the core alone, on one core.
//!
//! - `direct`: a client streams directed `info` frames of about 100 bytes to
//!   another alias; reported per message.
//! - `scan` and `direct_scanned`: the same, split as the server splits it
//!   between the thread reading a connection (finding its frames) and
//!   the hub's (acting on them as found, merging a session's frames as
//!   the server has it: `HubConfig::merge_transmits`); `scan_64`,
//!   `scan_512` and `direct_scanned_512` for what `tcphub-bench pairs`
//!   sends: ASCII messages of 64 and 512 bytes.
//! - `broadcast_1000`: the host broadcasts to 1,000 sessions; reported per
//!   delivery (one encoding, 1,000 shared `Transmit`s).
//! - `relay_star_1000`: a client relays to `*` with 1,000 sessions open.
//! - `fanout/star/N` against `fanout/room/N` (N = 100, 1,000): a client
//!   relays a message to `*`, or to a room all N others joined (the
//!   sender is no member), in the same hub of N + 1 sessions; reported per
//!   recipient, so the two read directly as the per-recipient cost of a
//!   room message against a broadcast's.
//! - `observe/*/off` against `observe/*/on`: the same relays with
//!   `HubConfig::observe` off and on (an `Event::Relayed` per message,
//!   which the drain drops, as a host that ignores it would), for a
//!   directed message (per message, where one event per delivery costs
//!   the most) and a room message to 1,000 (per recipient).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use tcphub_core::{Hub, HubConfig, Output, SessionHandle};

const BATCH: usize = 1_000;

/// Takes every output and reports each frame written at once, as a driver
/// whose readers keep up does (the flow-control bookkeeping is part of
/// what is measured).
fn drain(hub: &mut Hub) -> usize {
    let mut n = 0;
    while let Some(out) = hub.poll_output() {
        if let Output::Transmit {
            handle: session,
            frame,
        } = out
        {
            n += frame.len();
            hub.handle_written(Duration::ZERO, session, frame.len())
                .unwrap();
        }
    }
    n
}

fn hub_with_clients(n: usize) -> (Hub, Vec<SessionHandle>) {
    hub_with_config(HubConfig::default(), n)
}

fn hub_with_config(config: HubConfig, n: usize) -> (Hub, Vec<SessionHandle>) {
    let mut hub = Hub::new(config).unwrap();
    let ids: Vec<SessionHandle> = (0..n)
        .map(|i| {
            let id = hub
                .handle_accept(Duration::ZERO, &format!("127.0.0.1:{}", 10_000 + i))
                .unwrap();
            hub.handle_data(
                Duration::ZERO,
                id,
                &tcphub_core::encode_sync(&format!("Client-{i}")),
            )
            .unwrap();
            id
        })
        .collect();
    drain(&mut hub);
    (hub, ids)
}

fn direct(c: &mut Criterion) {
    let (mut hub, ids) = hub_with_clients(2);
    let frame = r#"{"type":"info","to":"Client-1","message":{"seq":12345,"text":"赶紧来做核酸了, 就差你了"}}"#.as_bytes();
    assert!(
        (90..=110).contains(&frame.len()),
        "about 100 bytes: {}",
        frame.len()
    );
    let stream: Vec<u8> = frame.repeat(BATCH);
    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("direct", |b| {
        b.iter(|| {
            hub.handle_data(Duration::ZERO, ids[0], &stream).unwrap();
            drain(&mut hub)
        })
    });
    // The same bytes arriving in 1,460-byte segments, as TCP would cut them.
    group.bench_function("direct_segmented", |b| {
        b.iter(|| {
            for segment in stream.chunks(1460) {
                hub.handle_data(Duration::ZERO, ids[0], segment).unwrap();
            }
            drain(&mut hub)
        })
    });
    // The same work split as the tcphub server splits it: finding the
    // frames (`scan`, on the thread that read them), then acting on them
    // as found (`direct_scanned`, on the hub's).
    let chunk = bytes::Bytes::from(stream.clone());
    let mut scanner = hub.input_scanner();
    group.bench_function("scan", |b| b.iter(|| scanner.scan(chunk.clone())));
    let scanned = scanner.scan(chunk.clone());
    assert_eq!(scanned.frames_found(), BATCH);
    // With the server's settings: a session's frames merged.
    let (mut merging, merging_ids) = hub_with_config(
        HubConfig {
            merge_transmits: true,
            ..HubConfig::default()
        },
        2,
    );
    // What `tcphub-bench pairs` sends: 64 bytes of ASCII text.
    let text = tcphub_core::RawValue::from_string(format!("\"{}\"", "x".repeat(64))).unwrap();
    let plain =
        bytes::Bytes::from(tcphub_core::encode_info(Some("pair-17-b"), &text).repeat(BATCH));
    group.bench_function("scan_64", |b| b.iter(|| scanner.scan(plain.clone())));
    // And its 512 bytes: where scanning strings is most of the work.
    let text = tcphub_core::RawValue::from_string(format!("\"{}\"", "x".repeat(512))).unwrap();
    let plain_512 =
        bytes::Bytes::from(tcphub_core::encode_info(Some("Client-1"), &text).repeat(BATCH));
    group.bench_function("scan_512", |b| b.iter(|| scanner.scan(plain_512.clone())));
    // (The hub takes each chunk: copies are made outside the timing.)
    group.bench_function("direct_scanned", |b| {
        b.iter_batched(
            || scanned.clone(),
            |scanned| {
                merging
                    .handle_scanned(Duration::ZERO, merging_ids[0], scanned)
                    .unwrap();
                drain(&mut merging)
            },
            BatchSize::SmallInput,
        )
    });
    // In chunks of 100 frames (57 KB), about what one read of the
    // server's takes, each drained as the server drains a batch: a
    // merged buffer of all 1,000 would be a fresh mmap each time.
    let chunks_512: Vec<_> = plain_512
        .chunks(plain_512.len() / 10)
        .map(|chunk| scanner.scan(bytes::Bytes::copy_from_slice(chunk)))
        .collect();
    assert!(chunks_512.iter().all(|c| c.frames_found() == BATCH / 10));
    group.bench_function("direct_scanned_512", |b| {
        b.iter_batched(
            || chunks_512.clone(),
            |chunks| {
                chunks
                    .into_iter()
                    .map(|chunk| {
                        merging
                            .handle_scanned(Duration::ZERO, merging_ids[0], chunk)
                            .unwrap();
                        drain(&mut merging)
                    })
                    .sum::<usize>()
            },
            BatchSize::SmallInput,
        )
    });
    // A 512-byte text message: where scanning strings dominates.
    let long = format!(
        r#"{{"type":"info","to":"Client-1","message":"{}"}}"#,
        "赶紧来做核酸了, 就差你了 ".repeat(512 / 36)
    );
    let long_stream = long.as_bytes().repeat(BATCH);
    group.bench_function("direct_512", |b| {
        b.iter(|| {
            hub.handle_data(Duration::ZERO, ids[0], &long_stream)
                .unwrap();
            drain(&mut hub)
        })
    });
    group.finish();
}

fn broadcast(c: &mut Criterion) {
    let (mut hub, ids) = hub_with_clients(1_000);
    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("broadcast_1000", |b| {
        b.iter(|| {
            hub.broadcast("大家来领物资了").unwrap();
            drain(&mut hub)
        })
    });
    let relay = r#"{"type":"info","to":"*","message":"一会儿上门做核酸"}"#.as_bytes();
    group.bench_function("relay_star_1000", |b| {
        b.iter_batched(
            || (),
            |()| {
                hub.handle_data(Duration::ZERO, ids[0], relay).unwrap();
                drain(&mut hub)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// The message both fan-out benchmarks relay: 64 bytes of text.
const PAYLOAD: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// A hub of `members + 1` sessions: the first is the sender, the others
/// are all in room `lobby`.
fn hub_with_room(config: HubConfig, members: usize) -> (Hub, Vec<SessionHandle>) {
    let (mut hub, ids) = hub_with_config(config, members + 1);
    for &id in &ids[1..] {
        hub.join_room(id, "lobby").unwrap();
    }
    drain(&mut hub);
    (hub, ids)
}

fn relay_star() -> Vec<u8> {
    format!(r#"{{"type":"info","to":"*","message":"{PAYLOAD}"}}"#).into_bytes()
}

fn relay_room() -> Vec<u8> {
    format!(r#"{{"type":"info","room":"lobby","message":"{PAYLOAD}"}}"#).into_bytes()
}

/// Feeds `frame` (one or more messages) from `sender` and drains; returns
/// the bytes handed out. Never inlined, so a profiler or `valgrind
/// --tool=callgrind` counts it per call: instructions per relay are
/// steady where time on a shared machine is not.
#[inline(never)]
fn relay_once(hub: &mut Hub, sender: SessionHandle, frame: &[u8]) -> usize {
    hub.handle_data(Duration::ZERO, sender, frame).unwrap();
    drain(hub)
}

fn room_against_broadcast(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout");
    for n in [100, 1_000] {
        let (mut hub, ids) = hub_with_room(HubConfig::default(), n);
        let (star, room) = (relay_star(), relay_room());
        // Both reach the same n sessions, with frames a room name apart.
        let star_bytes = relay_once(&mut hub, ids[0], &star);
        let room_bytes = relay_once(&mut hub, ids[0], &room);
        assert_eq!(
            room_bytes - star_bytes,
            n * r#","room":"lobby""#.len(),
            "n recipients each way"
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("star", n), |b| {
            b.iter(|| relay_once(&mut hub, ids[0], &star))
        });
        group.bench_function(BenchmarkId::new("room", n), |b| {
            b.iter(|| relay_once(&mut hub, ids[0], &room))
        });
    }
    group.finish();
}

fn observation(c: &mut Criterion) {
    let mut group = c.benchmark_group("observe");
    for observe in [false, true] {
        let config = HubConfig {
            observe,
            ..HubConfig::default()
        };
        let setting = if observe { "on" } else { "off" };

        let (mut hub, ids) = hub_with_config(config.clone(), 2);
        let one = format!(r#"{{"type":"info","to":"Client-1","message":"{PAYLOAD}"}}"#);
        let stream = one.as_bytes().repeat(BATCH);
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function(BenchmarkId::new("direct", setting), |b| {
            b.iter(|| relay_once(&mut hub, ids[0], &stream))
        });

        let (mut hub, ids) = hub_with_room(config, 1_000);
        let room = relay_room();
        group.throughput(Throughput::Elements(1_000));
        group.bench_function(BenchmarkId::new("room_1000", setting), |b| {
            b.iter(|| relay_once(&mut hub, ids[0], &room))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    direct,
    broadcast,
    room_against_broadcast,
    observation
);
criterion_main!(benches);
