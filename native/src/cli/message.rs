//! A message as typed on a command line or read from stdin, for the
//! commands that take one JSON value (`request`, `reply`, `/request`,
//! `/reply`): **valid JSON is that value, anything else is text**, the
//! rule `send --lines` reads lines by and the consoles show messages by.

use tcphub_core::RawValue;
use tokio::io::AsyncReadExt;

/// `text` as a message: the JSON value it is (`42`, `null`, `"42"`,
/// `{"a":1}`), or else the string it is (`hello`, `12:00`).
pub fn typed_message(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.trim().to_owned()).unwrap_or_else(|_| text_message(text))
}

/// `text` as a JSON string, whatever it reads as.
pub fn text_message(text: &str) -> Box<RawValue> {
    serde_json::value::to_raw_value(text).expect("a string always serializes")
}

/// MESSAGE of a command: as typed, or for `-` all of stdin with trailing
/// line breaks dropped, as `$(...)` drops them.
pub async fn message_argument(given: &str) -> Result<Box<RawValue>, String> {
    if given != "-" {
        return Ok(typed_message(given));
    }
    Ok(typed_message(&read_stdin().await?))
}

/// All of stdin, trailing line breaks dropped, as `$(...)` drops them:
/// `echo hi | tcphub send -` sends `hi`.
pub async fn read_stdin() -> Result<String, String> {
    let mut all = String::new();
    tokio::io::stdin()
        .read_to_string(&mut all)
        .await
        .map_err(|e| format!("reading the message from stdin: {e}"))?;
    all.truncate(all.trim_end_matches(['\n', '\r']).len());
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_json_is_its_value_and_anything_else_text() {
        assert_eq!(typed_message("42").get(), "42");
        assert_eq!(typed_message(" \"now?\" ").get(), "\"now?\"");
        assert_eq!(typed_message("{\"a\": 1}").get(), "{\"a\": 1}");
        assert_eq!(typed_message("12:00").get(), "\"12:00\"");
        assert_eq!(typed_message("two words").get(), "\"two words\"");
        assert_eq!(typed_message("").get(), "\"\"");
        assert_eq!(typed_message("say \"hi\"").get(), "\"say \\\"hi\\\"\"");
    }
}
