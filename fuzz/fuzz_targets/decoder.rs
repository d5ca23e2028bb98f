//! Fuzzes `tcphub_core::FrameDecoder`: arbitrary bytes, cut at arbitrary
//! points, under an arbitrary (mostly small) frame limit.
//!
//! Invariants checked on every input:
//! - every way of cutting the stream (the fuzzer's cuts, one byte at a time)
//!   yields exactly the items of the uncut stream;
//! - `next` uses up its input before returning `None`;
//! - `buffered_len()` never exceeds the limit;
//! - every `Frame` starts with `{`, ends with a closing `}` or `]` (the
//!   decoder ends a frame on a mismatched pair such as `{]` and leaves it to
//!   the parser), is no longer than the limit, appears verbatim in the
//!   input after the previous frame, and decodes as itself, alone;
//! - `Garbage` is always `bad_json`; `TooLarge` comes at most once and
//!   nothing is decoded after it;
//! - no panic.
//!
//! Known bug `split`, tolerated unless `TCPHUB_FUZZ_KNOWN_BUGS=split` (or `1`): a broken frame
//! (a raw newline in a string, or nesting past `MAX_DEPTH`) longer than the
//! limit is `Garbage` when its end arrives in the same chunk as its start,
//! but `TooLarge` when a chunk boundary falls after the limit and before
//! the break: the limit is only checked while a frame is incomplete. See
//! fuzz/README.md.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tcphub_core::{Decoded, ErrorCode, FrameDecoder};

#[derive(Debug, Arbitrary)]
struct Input {
    /// The frame limit, mapped to 0..=4096 so that `TooLarge` is reached.
    limit: u16,
    /// Cut points, each taken modulo the stream length.
    cuts: Vec<u16>,
    /// The stream itself (takes the rest of the fuzzer's bytes).
    data: Vec<u8>,
}

/// One decoded item, owned so runs can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Frame(Vec<u8>),
    Garbage(ErrorCode, String),
    TooLarge,
    /// The end of the input, and whether the decoder is mid-frame there
    /// (a frame begun, or a broken line being skipped).
    End {
        mid_frame: bool,
    },
}

/// Feeds `chunks` in order to a fresh decoder, checking the per-call
/// invariants, and returns every item, then whether it ends mid-frame.
fn decode(limit: usize, chunks: &[&[u8]]) -> Vec<Item> {
    let mut decoder = FrameDecoder::new(limit);
    let mut items = Vec::new();
    for chunk in chunks {
        let mut input: &[u8] = chunk;
        loop {
            let before = input.len();
            let item = decoder.next(&mut input).map(|d| match d {
                Decoded::Frame(bytes) => Item::Frame(bytes.to_vec()),
                Decoded::Garbage(e) => Item::Garbage(e.code, e.message),
                Decoded::TooLarge => Item::TooLarge,
            });
            assert!(input.len() <= before, "input grew");
            assert!(
                decoder.buffered_len() <= limit,
                "buffered {} > limit {limit}",
                decoder.buffered_len()
            );
            match item {
                Some(item) => items.push(item),
                None => {
                    assert!(input.is_empty(), "None with {} bytes left", input.len());
                    break;
                }
            }
        }
    }
    // Where the stream ended is part of what a split must not change.
    items.push(Item::End {
        mid_frame: decoder.mid_frame(),
    });
    items
}

/// Whether to stop stepping around the known bug `name`: set
/// `TCPHUB_FUZZ_KNOWN_BUGS` to `1` (all of them) or to a comma-separated
/// list of names (`split`, `depth`, `number`).
fn expose(name: &str) -> bool {
    // `split` and `depth` are fixed in the core (the decoder checks the
    // limit on broken-off frames too; MAX_DEPTH is 127): always checked.
    if name != "number" {
        return true;
    }
    static KNOWN: OnceLock<String> = OnceLock::new();
    let bugs = KNOWN.get_or_init(|| std::env::var("TCPHUB_FUZZ_KNOWN_BUGS").unwrap_or_default());
    bugs == "1" || bugs == "all" || bugs.split(',').any(|b| b.trim() == name)
}

/// Whether `split` is `whole` but for the known bug above: at the first
/// difference, the split run stopped with `TooLarge` where the whole run
/// reported a broken frame.
fn only_known_split_bug(whole: &[Item], split: &[Item]) -> bool {
    if expose("split") {
        return false;
    }
    let i = whole
        .iter()
        .zip(split)
        .position(|(a, b)| a != b)
        .unwrap_or(whole.len().min(split.len()));
    let broken_frame = matches!(
        whole.get(i),
        Some(Item::Garbage(_, m)) if m.starts_with("unterminated string") || m.contains("nested deeper")
    );
    broken_frame && i + 2 == split.len() && split[i] == Item::TooLarge
}

fn assert_same(whole: &[Item], split: &[Item], how: &dyn std::fmt::Debug) {
    if whole != split && !only_known_split_bug(whole, split) {
        panic!("split {how:?} decodes differently:\n whole: {whole:?}\n split: {split:?}");
    }
}

fn check_items(limit: usize, data: &[u8], items: &[Item]) {
    let mut pos = 0;
    for (i, item) in items.iter().enumerate() {
        match item {
            Item::Frame(frame) => {
                assert_eq!(frame.first(), Some(&b'{'), "frame {frame:?}");
                assert!(
                    matches!(frame.last(), Some(b'}' | b']')),
                    "frame does not end on a closing brace: {frame:?}"
                );
                assert!(
                    frame.len() <= limit,
                    "frame of {} > limit {limit}",
                    frame.len()
                );
                // Verbatim from the input, in order.
                let at = memchr::memmem::find(&data[pos..], frame)
                    .unwrap_or_else(|| panic!("frame {frame:?} not found in the input"));
                pos += at + frame.len();
                // A frame decodes as itself, alone.
                let again = decode(usize::MAX, &[frame]);
                let alone = [Item::Frame(frame.clone()), Item::End { mid_frame: false }];
                assert_eq!(again, alone, "re-decoding {frame:?}");
            }
            Item::Garbage(code, message) => {
                assert_eq!(*code, ErrorCode::BadJson, "{message}");
                assert!(!message.is_empty());
            }
            Item::TooLarge => {
                assert_eq!(i, items.len() - 2, "items after TooLarge: {items:?}");
                assert_eq!(items[i + 1], Item::End { mid_frame: false });
            }
            Item::End { .. } => assert_eq!(i, items.len() - 1),
        }
    }
}

fuzz_target!(|input: Input| {
    let limit = usize::from(input.limit) % 4097;
    let data = &input.data[..];

    let whole = decode(limit, &[data]);
    check_items(limit, data, &whole);

    // The fuzzer's cuts.
    let mut cuts: Vec<usize> = input
        .cuts
        .iter()
        .map(|c| usize::from(*c) % (data.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        chunks.push(&data[start..cut]);
        start = cut;
    }
    chunks.push(&data[start..]);
    assert_same(&whole, &decode(limit, &chunks), &chunks);

    // One byte at a time, the worst a network can do.
    let bytes: Vec<&[u8]> = data.chunks(1).collect();
    assert_same(&whole, &decode(limit, &bytes), &"one byte at a time");
});
