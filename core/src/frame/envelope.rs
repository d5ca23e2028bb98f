//! The fields of a client frame, found in one pass over its bytes.
//!
//! Every frame a client sends goes through here, so this is the hub's
//! hottest parsing. [`scan`] walks the frame once, checks that it is a JSON
//! object exactly as `serde_json` would, and notes where each field the hub
//! reads lies; values are kept as their raw text, so the message a client
//! relays is neither built into a value nor copied.
//!
//! The scan is the fast path, not the rule. Whenever it meets anything
//! unusual (a key with escapes, a repeated field, any JSON error) it gives
//! up and the caller parses the frame with `serde_json`, which then accepts
//! it or names the error in its words. So the scan need only be right about
//! what it accepts: a frame it accepts is one `serde_json` accepts, with the
//! same fields (checked by a property test below and, under `cfg(fuzzing)`,
//! on every frame the fuzz targets feed the hub).

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::decoder::MAX_DEPTH;
use crate::string_scan::{find_in_words, needs_attention, Stop};

/// Every field the hub reads, as raw JSON text (a string keeps its quotes
/// and escapes). Other fields are checked and ignored (the tutorial sends
/// `message` in `sync` and `clientName` in `info`), and the hub never
/// trusts a `clientName` in `info`: the sender is who the session synced
/// as. The scan fills it by hand; serde_json, the fallback, by the derive.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
pub(super) struct Fields<'a> {
    #[serde(rename = "type", default, borrow, deserialize_with = "raw_text")]
    pub(super) kind: Option<&'a str>,
    #[serde(rename = "clientName", default, borrow, deserialize_with = "raw_text")]
    pub(super) client_name: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "raw_text")]
    pub(super) message: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "raw_text")]
    pub(super) to: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "raw_text")]
    pub(super) id: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "raw_text")]
    pub(super) limit: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "raw_text")]
    pub(super) after: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "raw_text")]
    pub(super) room: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "raw_text")]
    pub(super) aliases: Option<&'a str>,
    #[serde(rename = "lastWill", default, borrow, deserialize_with = "raw_text")]
    pub(super) last_will: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "raw_text")]
    pub(super) token: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "raw_text")]
    pub(super) timeout: Option<&'a str>,
    #[serde(rename = "replyTo", default, borrow, deserialize_with = "raw_text")]
    pub(super) reply_to: Option<&'a str>,
}

/// A field's value as its raw text; an explicit `null` is `Some("null")`,
/// so "absent" and "null" stay apart.
fn raw_text<'de, D>(d: D) -> Result<Option<&'de str>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    <&RawValue>::deserialize(d).map(|raw| Some(raw.get()))
}

/// The number of the slot in [`Fields`] for a key as written in a frame,
/// if the hub reads it.
fn slot_index(key: &[u8]) -> Option<u8> {
    Some(match key {
        b"type" => 0,
        b"clientName" => 1,
        b"message" => 2,
        b"to" => 3,
        b"id" => 4,
        b"limit" => 5,
        b"after" => 6,
        b"room" => 7,
        b"aliases" => 8,
        b"lastWill" => 9,
        b"token" => 10,
        b"timeout" => 11,
        b"replyTo" => 12,
        _ => return None,
    })
}

/// Where [`scan_front_into`] puts the fields it finds.
pub(super) trait FieldSink<'a> {
    /// The field `key` has the raw text `text[start..end]`; `None` to give
    /// up the scan (a repeated field, which serde_json refuses: let it say
    /// so).
    fn put(&mut self, key: &[u8], text: &'a str, start: usize, end: usize) -> Option<()>;
}

impl<'a> FieldSink<'a> for Fields<'a> {
    fn put(&mut self, key: &[u8], text: &'a str, start: usize, end: usize) -> Option<()> {
        let Some(slot) = slot_index(key).and_then(|index| self.slot_at(index)) else {
            return Some(());
        };
        if slot.is_some() {
            return None;
        }
        // Indices at value boundaries are ASCII, so char boundaries.
        *slot = Some(text.get(start..end)?);
        Some(())
    }
}

impl<'a> FieldSink<'a> for FieldSpans {
    fn put(&mut self, key: &[u8], _text: &'a str, start: usize, end: usize) -> Option<()> {
        let Some(slot) = slot_index(key) else {
            return Some(());
        };
        let count = usize::from(self.count);
        if self.slots[..count].contains(&slot) {
            return None;
        }
        // More fields than a note holds: the frame is read again instead.
        *self.slots.get_mut(count)? = slot;
        self.ranges[count] = (u32::try_from(start).ok()?, u32::try_from(end).ok()?);
        self.count += 1;
        Some(())
    }
}

impl<'a> Fields<'a> {
    /// The slot numbered `index` (as `slot_index` numbers the keys).
    fn slot_at(&mut self, index: u8) -> Option<&mut Option<&'a str>> {
        Some(match index {
            0 => &mut self.kind,
            1 => &mut self.client_name,
            2 => &mut self.message,
            3 => &mut self.to,
            4 => &mut self.id,
            5 => &mut self.limit,
            6 => &mut self.after,
            7 => &mut self.room,
            8 => &mut self.aliases,
            9 => &mut self.last_will,
            10 => &mut self.token,
            11 => &mut self.timeout,
            12 => &mut self.reply_to,
            _ => return None,
        })
    }

    /// The fields `spans` found in `text`; `None` if one does not lie on
    /// character boundaries of `text`.
    #[inline]
    pub(super) fn from_spans(text: &'a str, spans: &FieldSpans) -> Option<Self> {
        let mut fields = Fields::default();
        let count = usize::from(spans.count);
        for (&slot, &(start, end)) in spans.slots.iter().zip(&spans.ranges).take(count) {
            *fields.slot_at(slot)? = Some(text.get(start as usize..end as usize)?);
        }
        Some(fields)
    }
}

/// Where the fields of one frame lie in the text it was read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FieldSpans {
    /// How many fields there are.
    count: u8,
    /// Which fields (numbered as `Fields::slot_at` numbers them).
    slots: [u8; FieldSpans::MAX],
    /// Where each one's raw text starts and ends.
    ranges: [(u32, u32); FieldSpans::MAX],
}

impl FieldSpans {
    /// Most fields noted for a frame: a message has three or four (`type`,
    /// `to` or `room`, `message`, an `id`), and a frame with more is rare
    /// enough to be read again rather than make every note larger.
    pub(crate) const MAX: usize = 4;

    /// The same fields, found in a text that starts `by` bytes further
    /// on; `None` if one of them starts before it.
    pub(crate) fn shifted_back(&self, by: usize) -> Option<FieldSpans> {
        if by == 0 {
            return Some(*self);
        }
        let by = u32::try_from(by).ok()?;
        let mut shifted = *self;
        for (start, end) in &mut shifted.ranges[..usize::from(self.count)] {
            *start = start.checked_sub(by)?;
            *end = end.checked_sub(by)?;
        }
        Some(shifted)
    }
}

/// The fields of `text`, a whole frame, or `None` when the fast path
/// cannot vouch for it (see the module docs).
pub(super) fn scan(text: &str) -> Option<Fields<'_>> {
    let start = text.len() - text.trim_start_matches([' ', '\n', '\t', '\r']).len();
    let (fields, end) = scan_front(text, start)?;
    let trailing = &text.as_bytes()[end..];
    trailing
        .iter()
        .all(|b| matches!(b, b' ' | b'\n' | b'\t' | b'\r'))
        .then_some(fields)
}

/// The fields of the object that starts at `text[start]` (a `{`), and
/// where it ends (just past its `}`); what follows is not looked at.
pub(super) fn scan_front(text: &str, start: usize) -> Option<(Fields<'_>, usize)> {
    let mut fields = Fields::default();
    let end = scan_front_into(text, start, &mut fields)?;
    Some((fields, end))
}

/// As [`scan_front`], putting the fields into `sink` and giving where the
/// object ends.
pub(super) fn scan_front_into<'a>(
    text: &'a str,
    start: usize,
    sink: &mut impl FieldSink<'a>,
) -> Option<usize> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: start,
    };
    scanner.eat(b'{')?;
    scanner.skip_whitespace();
    if scanner.peek() == Some(b'}') {
        scanner.at += 1;
    } else {
        loop {
            let key = scanner.key()?;
            scanner.skip_whitespace();
            scanner.eat(b':')?;
            scanner.skip_whitespace();
            let start = scanner.at;
            scanner.value(1)?;
            sink.put(key, text, start, scanner.at)?;
            scanner.skip_whitespace();
            match scanner.next()? {
                b',' => scanner.skip_whitespace(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    Some(scanner.at)
}

/// A cursor over the frame's bytes. Every method returns `None` on
/// anything the fast path does not accept.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    /// JSON's whitespace, as serde_json reads it.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// An object key without escapes, between its quotes; a key with
    /// escapes is left to serde_json, which decodes it before matching.
    fn key(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.at;
        self.skip_plain_chars();
        match self.next()? {
            b'"' => Some(&self.bytes[start..self.at - 1]),
            _ => None,
        }
    }

    /// One value, nested at `depth` (the frame's own object is depth 1).
    fn value(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.string_rest()
            }
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn object(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(());
        }
        loop {
            self.eat(b'"')?;
            self.string_rest()?;
            self.skip_whitespace();
            self.eat(b':')?;
            self.skip_whitespace();
            self.value(depth)?;
            self.skip_whitespace();
            match self.next()? {
                b',' => self.skip_whitespace(),
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Some(());
        }
        loop {
            self.value(depth)?;
            self.skip_whitespace();
            match self.next()? {
                b',' => self.skip_whitespace(),
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.skip_digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.digits()?;
        }
        Some(())
    }

    /// At least one digit.
    fn digits(&mut self) -> Option<()> {
        let start = self.at;
        self.skip_digits();
        (self.at > start).then_some(())
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    /// The rest of a string after its opening quote, escapes checked.
    fn string_rest(&mut self) -> Option<()> {
        loop {
            self.skip_plain_chars();
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => self.escape()?,
                // A raw control character.
                _ => return None,
            }
        }
    }

    /// What follows a backslash: one of `"\/bfnrt`, or `u` and four hex
    /// digits. (serde_json checks surrogate pairs only where it decodes a
    /// string, which the hub does for the fields it reads as strings.)
    fn escape(&mut self) -> Option<()> {
        match self.next()? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => {
                let hex = self.bytes.get(self.at..self.at + 4)?;
                self.at += 4;
                hex.iter().all(u8::is_ascii_hexdigit).then_some(())
            }
            _ => None,
        }
    }

    /// Skips the bytes of a string that need no attention: all but `"`,
    /// `\` and control characters.
    #[inline]
    fn skip_plain_chars(&mut self) {
        let rest = &self.bytes[self.at..];
        match find_in_words(rest, usize::MAX) {
            Stop::At(at) => self.at += at,
            Stop::Clear(clear) => {
                self.at += clear;
                while self.peek().is_some_and(|b| !needs_attention(b)) {
                    self.at += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What serde_json makes of `text`: the reference.
    fn reference(text: &str) -> Option<Fields<'_>> {
        serde_json::from_str::<Fields<'_>>(text).ok()
    }

    #[test]
    fn every_key_lands_in_the_field_serde_json_reads_it_into() {
        // `slot_index` and `slot_at` are two tables that must agree with
        // each other and with the serde attributes on `Fields`.
        for key in [
            "type",
            "clientName",
            "message",
            "to",
            "id",
            "limit",
            "after",
            "room",
            "aliases",
            "lastWill",
            "token",
            "timeout",
            "replyTo",
        ] {
            let text = format!("{{\"{key}\":1}}");
            let expected = reference(&text).unwrap();
            assert_ne!(expected, Fields::default(), "{key} is a field");
            let mut fields = Fields::default();
            assert_eq!(scan_front_into(&text, 0, &mut fields), Some(text.len()));
            assert_eq!(fields, expected, "{key}");
            let mut spans = FieldSpans::default();
            assert_eq!(scan_front_into(&text, 0, &mut spans), Some(text.len()));
            assert_eq!(Fields::from_spans(&text, &spans), Some(expected), "{key}");
        }
    }

    #[test]
    fn everyday_frames_take_the_fast_path_and_read_as_serde_reads_them() {
        let frames = [
            r#"{"type":"info","to":"Client-1","message":{"seq":12345,"text":"赶紧来做核酸了, 就差你了"}}"#,
            r#"{"type":"sync","clientName":"Client-1","message":"hi"}"#,
            r#"{ "type" : "info" , "message" : [1, -2.5e-3, 0, true, false, null, {}, [], "a\"b\\c\u00e9\n"] }"#,
            r#"{"type":"request","to":"b","id":"r1","timeout":2000,"message":null}"#,
            r#"{"type":"list","limit":0,"after":"3"}"#,
            r#"{"type":"sync","clientName":"a","lastWill":{"to":["b"],"message":1},"token":"t"}"#,
            r#"{"type":"reply","replyTo":"n1/2.1","message":{"deep":[[[[{"x":[]}]]]]}}"#,
            "{}",
            "\t{\"type\":\"ping\"}\r\n",
        ];
        for text in frames {
            let fields = scan(text).unwrap_or_else(|| panic!("not on the fast path: {text}"));
            assert_eq!(Some(fields), reference(text), "{text}");
        }
    }

    #[test]
    fn the_unusual_is_left_to_serde() {
        let frames = [
            // Keys with escapes, repeated fields: serde decides.
            r#"{"t\u0079pe":"info"}"#,
            r#"{"type":"info","type":"ping"}"#,
            // Not JSON, or not an object.
            r#"{"type":"info",}"#,
            r#"{"type":"info" "to":"b"}"#,
            r#"{"message":01}"#,
            r#"{"message":1.}"#,
            r#"{"message":-}"#,
            r#"{"message":tru}"#,
            r#"{"message":"\x"}"#,
            r#"{"message":"\u12g4"}"#,
            "{\"message\":\"a\u{1}b\"}",
            r#"{"message":[1,]}"#,
            r#"{"message":{"a"}}"#,
            r#"{"message":1} x"#,
            r#"{]"#,
            "[]",
            "",
        ];
        for text in frames {
            assert_eq!(scan(text), None, "{text}");
        }
    }

    #[test]
    fn nesting_past_the_decoder_limit_is_left_to_serde() {
        let depth = MAX_DEPTH as usize;
        let at_limit = format!(
            "{{\"m\":{}{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        );
        assert!(scan(&at_limit).is_some());
        let past = format!("{{\"m\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(scan(&past), None);
    }

    /// JSON values, written with varied whitespace and escapes.
    fn json_value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?",
            "\"([a-z\\-é赶 ]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4}){0,12}\"",
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(" , "))),
                proptest::collection::vec((key(), inner), 0..4).prop_map(|pairs| {
                    let body: Vec<String> =
                        pairs.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
                    format!("{{{}}}", body.join(","))
                }),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("\"type\"".to_owned()),
            Just("\"to\"".to_owned()),
            Just("\"message\"".to_owned()),
            Just("\"id\"".to_owned()),
            Just("\"room\"".to_owned()),
            Just("\"ty\\u0070e\"".to_owned()),
            "\"[a-zA-Z]{0,8}\"",
        ]
    }

    /// A frame-like object whose fields are those the hub reads or others.
    fn frame() -> impl Strategy<Value = String> {
        proptest::collection::vec((key(), json_value(), "[ \t\r\n]{0,2}"), 0..6).prop_map(
            |fields| {
                let body: Vec<String> = fields
                    .into_iter()
                    .map(|(k, v, ws)| format!("{ws}{k}{ws}:{ws}{v}{ws}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Whatever the fast path accepts, serde_json accepts with the same
        /// fields, for well-formed frames and for frames with one byte
        /// changed into something JSON cares about.
        #[test]
        fn the_fast_path_never_disagrees_with_serde(
            text in frame(),
            edit in proptest::option::of((any::<prop::sample::Index>(), prop::sample::select(
                vec!["", "\"", "\\", ",", ":", "{", "}", "[", "]", "0", "-", ".", "e", "\n", "\u{1}", "x", "é"],
            ), any::<bool>())),
        ) {
            let mut text = text;
            if let Some((at, with, replace)) = edit {
                let mut at = at.index(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                if replace && at < text.len() {
                    let next = text[at..].chars().next().map_or(0, char::len_utf8);
                    text.replace_range(at..at + next, with);
                } else {
                    text.insert_str(at, with);
                }
            }
            if let Some(fields) = scan(&text) {
                prop_assert_eq!(Some(fields), reference(&text), "{}", text);
            }
        }

        /// Well-formed frames whose keys have no escapes all take the fast
        /// path, so the fast path is the common one.
        #[test]
        fn well_formed_frames_take_the_fast_path(text in frame()) {
            if let Some(expected) = reference(&text) {
                if !text.contains("\\u0070") {
                    prop_assert_eq!(scan(&text), Some(expected), "{}", text);
                }
            }
        }
    }
}
