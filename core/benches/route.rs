//! Decode-and-route throughput of the core alone, on one core.
//!
//! - `direct`: a client streams directed `info` frames of about 100 bytes to
//!   another alias; reported per message.
//! - `broadcast_1000`: the host broadcasts to 1,000 sessions; reported per
//!   delivery (one encoding, 1,000 shared `Transmit`s).
//! - `relay_star_1000`: a client relays to `*` with 1,000 sessions open.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
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
    let mut hub = Hub::new(HubConfig::default()).unwrap();
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

criterion_group!(benches, direct, broadcast);
criterion_main!(benches);
