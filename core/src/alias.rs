//! Aliases: the names clients claim with `sync`, and the rules they obey.

use std::sync::Arc;

use crate::error::{ErrorCode, PeerError};
use crate::name::{broken_rule, name_traits, MAX_NAME_LEN};

/// Longest alias accepted, in bytes of UTF-8.
pub const MAX_ALIAS_LEN: usize = MAX_NAME_LEN;

/// A validated alias such as `Client-1` or `客户端一`.
///
/// Rules: 1 to [`MAX_ALIAS_LEN`] bytes of UTF-8, no control characters, not
/// `*` (it means "everyone"), and no leading `#` (names such as `#hub` are
/// reserved for the hub itself). Cloning is cheap: the text is shared.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Alias(Arc<str>);

impl Alias {
    /// Checks `name` against the alias rules.
    pub fn new(name: &str) -> Result<Self, PeerError> {
        match broken_rule(name) {
            None => Ok(Alias(Arc::from(name))),
            Some(why) => Err(PeerError::new(
                ErrorCode::InvalidAlias,
                format!("invalid alias {name:?}: {why}"),
            )),
        }
    }
}

name_traits!(Alias);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ascii_and_chinese_names() {
        assert_eq!(Alias::new("Client-1").unwrap().as_str(), "Client-1");
        assert_eq!(Alias::new("客户端一").unwrap().as_str(), "客户端一");
    }

    #[test]
    fn length_is_counted_in_bytes() {
        // 21 three-byte characters fit (63 bytes); 22 do not (66 bytes).
        assert!(Alias::new(&"核".repeat(21)).is_ok());
        let err = Alias::new(&"核".repeat(22)).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidAlias);
        assert!(err.message.contains("64 bytes"), "{}", err.message);
        assert!(Alias::new(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn rejects_reserved_and_control_names() {
        for bad in ["", "*", "#hub", "tab\there", "nl\n", "\u{7f}"] {
            let err = Alias::new(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidAlias, "{bad:?}");
        }
        // '#' and '*' are fine away from the positions the rules name.
        assert!(Alias::new("a#b").is_ok());
        assert!(Alias::new("**").is_ok());
    }
}
