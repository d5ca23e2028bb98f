//! Small JSON helpers shared by the frame readers and writers.

/// The JSON type of a value given as its raw text, for error messages.
pub(crate) fn kind_of(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Appends `raw` to `out` with every newline and carriage return outside
/// strings removed, so a pretty-printed value cannot break an NDJSON line.
/// Inside strings JSON already forbids raw control characters.
pub(crate) fn push_single_line(out: &mut Vec<u8>, raw: &str) {
    let bytes = raw.as_bytes();
    // A string, the usual message, has no line break to look for: one
    // inside it would be a raw control character, which no valid JSON has.
    if bytes.first() == Some(&b'"') || memchr::memchr2(b'\n', b'\r', bytes).is_none() {
        out.extend_from_slice(bytes);
        return;
    }
    out.extend(bytes.iter().copied().filter(|b| *b != b'\n' && *b != b'\r'));
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_string(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail and a str always serializes.
    serde_json::to_writer(out, s).expect("serializing a str into a Vec cannot fail");
}

/// `s` as an encoded JSON string literal.
pub(crate) fn json_string(s: &str) -> Box<[u8]> {
    let mut out = Vec::with_capacity(s.len() + 2);
    push_string(&mut out, s);
    out.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_keeps_string_contents() {
        let mut out = Vec::new();
        push_single_line(&mut out, "{\n  \"a\": \"x\\ny\",\r\n  \"b\": [1,\n 2]\n}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{  "a": "x\ny",  "b": [1, 2]}"#
        );
    }

    #[test]
    fn string_escaping() {
        let mut out = Vec::new();
        push_string(&mut out, "a\"b\n核");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\n核""#);
    }
}
