//! Rate limits and the per-address connection cap: a client over its limit
//! is refused with `rate_limited` (and closed if it keeps on), nobody else
//! notices, and one address cannot take more sessions than it may.

mod common;

use std::time::Duration;

use common::{error_code, info_numbers, Harness};
use proptest::prelude::*;
use serde_json::json;
use tcphub_core::{
    CloseReason, HubConfig, HubFrame, SessionHandle, RATE_LIMIT_MAX_REFUSALS,
    RATE_LIMIT_REFUSAL_WINDOW,
};

/// 10 messages a second, 3 at once.
fn limited() -> HubConfig {
    HubConfig {
        rate_limit_messages: Some(10),
        rate_limit_message_burst: Some(3),
        ..HubConfig::default()
    }
}

fn relay(to: &str, n: u64) -> Vec<u8> {
    format!(r#"{{"type":"info","to":"{to}","message":{n},"id":{n}}}"#).into_bytes()
}

/// "P" and "R", synced (each sync took one token), inboxes empty; the
/// clock then moves on a second so both buckets are full again.
fn pair(h: &mut Harness) -> (SessionHandle, SessionHandle) {
    let p = h.connect("10.0.0.1:1");
    let r = h.connect("10.0.0.2:1");
    h.sync(p, "P");
    h.sync(r, "R");
    h.take(p);
    h.take(r);
    h.advance(Duration::from_secs(1));
    (p, r)
}

#[test]
fn over_the_limit_is_refused_with_the_request_id_then_recovers() {
    let mut h = Harness::new(limited());
    let (p, r) = pair(&mut h);
    for n in 1..=4 {
        h.send(p, &relay("R", n));
    }
    assert_eq!(info_numbers(&h.take(r)), [1, 2, 3]);
    let answers = h.take(p);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(error_code(&answers[0]), "rate_limited");
    let HubFrame::Error { message, id, .. } = &answers[0] else {
        unreachable!()
    };
    assert_eq!(id, &Some(json!(4)));
    assert!(message.contains("10 per second, burst 3"), "{message}");

    // 100 ms at 10 per second earns one message back.
    h.advance(Duration::from_millis(100));
    h.send(p, &relay("R", 5));
    assert_eq!(info_numbers(&h.take(r)), [5]);
    assert!(h.take(p).is_empty());
    assert_eq!(h.closed(p), None);
}

#[test]
fn pings_count_and_bye_is_never_refused() {
    let mut h = Harness::new(limited());
    let (p, _r) = pair(&mut h);
    for _ in 0..3 {
        h.send(p, br#"{"type":"ping"}"#);
    }
    h.send(p, br#"{"type":"ping","id":"x"}"#);
    let answers = h.take(p);
    assert!(matches!(
        answers[..3],
        [
            HubFrame::Pong { .. },
            HubFrame::Pong { .. },
            HubFrame::Pong { .. }
        ]
    ));
    assert_eq!(error_code(&answers[3]), "rate_limited");
    h.send(p, br#"{"type":"bye"}"#);
    assert_eq!(h.closed(p), Some(CloseReason::ClientBye));
}

#[test]
fn sustained_abuse_is_closed_and_others_are_unaffected() {
    let mut h = Harness::new(limited());
    let (p, r) = pair(&mut h);
    let q = h.connect("10.0.0.3:1");
    h.sync(q, "Q");
    h.take(q);
    h.advance(Duration::from_secs(1));
    for n in 0..3 + u64::from(RATE_LIMIT_MAX_REFUSALS) {
        h.send(p, &relay("R", n));
        // Meanwhile Q sends within its limit, untouched by P's abuse.
        if n % 40 == 0 {
            h.send(q, &relay("R", 1000 + n));
        }
    }
    assert_eq!(
        h.closed(p),
        None,
        "refusals up to the allowance are only refused"
    );
    h.send(p, &relay("R", 9999));
    assert_eq!(h.closed(p), Some(CloseReason::RateLimited));
    let last = h.take(p).pop().expect("a farewell");
    assert!(
        matches!(&last, HubFrame::Bye { reason, .. } if reason == "rate_limited"),
        "{last:?}"
    );
    assert_eq!(info_numbers(&h.take(r)), [0, 1000, 1, 2, 1040, 1080]);
    assert!(h.take(q).is_empty());
    assert_eq!(h.closed(q), None);
}

#[test]
fn refusals_spread_over_windows_do_not_close() {
    let mut h = Harness::new(limited());
    let (p, _r) = pair(&mut h);
    for _ in 0..3 {
        h.send(p, br#"{"type":"ping"}"#);
    }
    for round in 0..5 {
        // Each round refuses the allowance exactly, then waits out the
        // window (which also refills 3 tokens that the next round spends).
        for _ in 0..u64::from(RATE_LIMIT_MAX_REFUSALS) + 3 * u64::from(round > 0) {
            h.send(p, br#"{"type":"ping"}"#);
        }
        assert_eq!(h.closed(p), None, "round {round}");
        h.advance(RATE_LIMIT_REFUSAL_WINDOW);
    }
}

#[test]
fn byte_limit_refuses_big_frames_and_names_itself() {
    let mut h = Harness::new(HubConfig {
        rate_limit_bytes: Some(1000),
        rate_limit_bytes_burst: Some(64 * 1024),
        ..HubConfig::default()
    });
    let (p, r) = pair(&mut h);
    let big = "x".repeat(40_000);
    let frame = |n: u64| format!(r#"{{"type":"info","to":"R","message":"{big}","id":{n}}}"#);
    h.send(p, frame(1).as_bytes());
    h.send(p, frame(2).as_bytes());
    assert_eq!(h.take(r).len(), 1);
    let answers = h.take(p);
    assert_eq!(error_code(&answers[0]), "rate_limited");
    let HubFrame::Error { message, .. } = &answers[0] else {
        unreachable!()
    };
    assert!(message.contains("1000 bytes per second"), "{message}");
    // 40 s at 1000 bytes a second: enough for another.
    h.advance(Duration::from_secs(40));
    h.send(p, frame(3).as_bytes());
    assert_eq!(h.take(r).len(), 1);
}

#[test]
fn limits_off_change_nothing() {
    let mut h = Harness::new(HubConfig::default());
    let (p, r) = pair(&mut h);
    for n in 0..1000 {
        h.send(p, &relay("R", n));
    }
    assert_eq!(info_numbers(&h.take(r)).len(), 1000);
    assert!(h.take(p).is_empty());
}

#[test]
fn per_address_cap_refuses_one_more_from_the_same_ip_only() {
    let mut h = Harness::new(HubConfig {
        max_connections_per_address: Some(2),
        ..HubConfig::default()
    });
    let a1 = h.connect("10.0.0.1:1");
    let _a2 = h.connect("10.0.0.1:2");
    let a3 = h.connect("10.0.0.1:3");
    assert_eq!(h.closed(a3), Some(CloseReason::TooManyConnections));
    let refusal = h.take(a3);
    assert_eq!(error_code(&refusal[0]), "too_many_connections");
    let b = h.connect("10.0.0.2:1");
    assert_eq!(h.closed(b), None);
    let v6 = h.connect("[::1]:1");
    assert_eq!(h.closed(v6), None);
    // One leaves: its address may connect again.
    h.disconnect(a1);
    let a4 = h.connect("10.0.0.1:4");
    assert_eq!(h.closed(a4), None);
    h.sync(a4, "A4");
    assert_eq!(h.take(a4).len(), 1);
}

proptest! {
    /// Whatever the timing, a session never gets more than
    /// burst + rate x elapsed frames acted on.
    #[test]
    fn never_more_than_burst_plus_rate_times_elapsed(
        rate in 1u32..50,
        burst in 1u32..20,
        gaps in proptest::collection::vec(0u64..300, 1..200),
    ) {
        let mut h = Harness::new(HubConfig {
            rate_limit_messages: Some(rate),
            rate_limit_message_burst: Some(burst),
            ..HubConfig::default()
        });
        let p = h.connect("10.0.0.1:1");
        let start = h.now;
        let mut pongs = 0u64;
        for gap in gaps {
            h.advance(Duration::from_millis(gap));
            h.send(p, br#"{"type":"ping"}"#);
            if h.closed(p).is_some() {
                break;
            }
            pongs += h
                .take(p)
                .iter()
                .filter(|f| matches!(f, HubFrame::Pong { .. }))
                .count() as u64;
            let elapsed = (h.now - start).as_nanos();
            let allowed = u128::from(burst) + u128::from(rate) * elapsed / 1_000_000_000;
            prop_assert!(u128::from(pongs) <= allowed, "{pongs} > {allowed}");
        }
    }
}
