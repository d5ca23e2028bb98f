//! The rules alias and room names share, kept in one place so the two can
//! never drift apart.

/// Longest alias or room name accepted, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 64;

/// The target that means "every other session" in a relayed `info`.
pub const BROADCAST_TARGET: &str = "*";

/// Which rule `name` breaks, if any: 1 to [`MAX_NAME_LEN`] bytes, no control
/// characters, not `*` (it means "everyone"), no leading `#` (reserved for
/// the hub itself, such as `#hub`).
pub(crate) fn broken_rule(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".to_owned());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!("it is longer than {MAX_NAME_LEN} bytes"));
    }
    if name == BROADCAST_TARGET {
        return Some("\"*\" means every session".to_owned());
    }
    if name.starts_with('#') {
        return Some("names starting with '#' are reserved for the hub".to_owned());
    }
    if name.chars().any(char::is_control) {
        return Some("it contains a control character".to_owned());
    }
    None
}

/// The traits every validated name type has: shown as its text, borrowed
/// as `str` (so tables keyed by it are searched with a `&str`).
macro_rules! name_traits {
    ($name:ident) => {
        impl $name {
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}
pub(crate) use name_traits;
