//! What an authenticated identity may do: which aliases it may relay to,
//! whether it may send to everyone, whether it may see who is connected.

use std::fmt;

use crate::name::MAX_NAME_LEN;

/// Longest alias pattern accepted, in bytes: a pattern is an alias with
/// wildcards, so a few more bytes than the longest alias.
pub const MAX_PATTERN_LEN: usize = MAX_NAME_LEN + 16;

/// A pattern over aliases: `*` matches any run of characters (none
/// included), `?` exactly one, anything else itself. `*` alone matches
/// every alias; `Client-*` matches `Client-1` and `Client-`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AliasPattern(Box<str>);

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(pub String);

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PatternError {}

impl AliasPattern {
    /// Checks `pattern`: 1 to [`MAX_PATTERN_LEN`] bytes, no control
    /// characters.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        if pattern.is_empty() {
            return Err(PatternError("an alias pattern may not be empty".into()));
        }
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(PatternError(format!(
                "alias pattern {pattern:?} is longer than {MAX_PATTERN_LEN} bytes"
            )));
        }
        if pattern.chars().any(char::is_control) {
            return Err(PatternError(format!(
                "alias pattern {pattern:?} contains a control character"
            )));
        }
        Ok(AliasPattern(pattern.into()))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `alias` matches. Runs on every relay of a restricted
    /// identity, so it walks both strings in place without allocating;
    /// linear in practice, and bounded by the product of the two (capped)
    /// lengths in the worst case.
    pub fn matches(&self, alias: &str) -> bool {
        let pattern: &str = &self.0;
        // Classic wildcard matching with one backtrack point: the byte
        // offsets of the last `*` seen and of where the text stood then.
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while let Some(c) = alias[t..].chars().next() {
            match pattern[p..].chars().next() {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(w) if w == '?' || w == c => {
                    p += w.len_utf8();
                    t += c.len_utf8();
                }
                _ => {
                    let Some((star_p, star_t)) = star else {
                        return false;
                    };
                    // Let the `*` swallow one more character and retry.
                    let skipped = alias[star_t..].chars().next().map_or(1, char::len_utf8);
                    p = star_p + 1;
                    t = star_t + skipped;
                    star = Some((star_p, t));
                }
            }
        }
        pattern[p..].chars().all(|c| c == '*')
    }
}

impl fmt::Debug for AliasPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for AliasPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one identity may do. The default allows everything, as a hub
/// without authentication does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    /// The aliases it may relay to (`info` with `to`, and last wills): one
    /// of the patterns must match. Empty: it may relay to no alias.
    pub relay: Vec<AliasPattern>,
    /// Whether it may send to everyone (`to: "*"`).
    pub broadcast: bool,
    /// Whether it may see who is connected: `list` and `watch`.
    pub list: bool,
}

impl Default for Permissions {
    fn default() -> Self {
        Permissions {
            relay: vec![AliasPattern("*".into())],
            broadcast: true,
            list: true,
        }
    }
}

impl Permissions {
    /// Whether it may relay to `alias`.
    pub fn may_relay_to(&self, alias: &str) -> bool {
        self.relay.iter().any(|pattern| pattern.matches(alias))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn matches(pattern: &str, alias: &str) -> bool {
        AliasPattern::new(pattern).unwrap().matches(alias)
    }

    #[test]
    fn wildcards_match_as_documented() {
        assert!(matches("*", "Client-1"));
        assert!(matches("Client-*", "Client-1"));
        assert!(matches("Client-*", "Client-"));
        assert!(!matches("Client-*", "client-1"), "case matters");
        assert!(matches("Client-?", "Client-7"));
        assert!(!matches("Client-?", "Client-10"));
        assert!(matches("*-admin", "ops-admin"));
        assert!(!matches("*-admin", "ops-admin2"));
        assert!(matches("a*b*c", "a--b--b--c"));
        assert!(!matches("a*b*c", "a--b--b--"));
        assert!(matches("客户端*", "客户端一"));
        assert!(matches("Exact", "Exact"));
        assert!(!matches("Exact", "Exactly"));
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        assert!(AliasPattern::new("").unwrap_err().0.contains("empty"));
        let long = "a".repeat(MAX_PATTERN_LEN + 1);
        assert!(AliasPattern::new(&long).unwrap_err().0.contains("longer"));
        assert!(AliasPattern::new("a\nb").unwrap_err().0.contains("control"));
    }

    #[test]
    fn the_default_allows_everything_and_empty_relay_allows_nothing() {
        let all = Permissions::default();
        assert!(all.may_relay_to("anyone") && all.broadcast && all.list);
        let none = Permissions {
            relay: vec![],
            ..Permissions::default()
        };
        assert!(!none.may_relay_to("anyone"));
    }

    /// A regular-expression oracle for the same language.
    fn oracle(pattern: &str, alias: &str) -> bool {
        fn go(p: &[char], t: &[char]) -> bool {
            match p.split_first() {
                None => t.is_empty(),
                Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
                Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
                Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
            }
        }
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = alias.chars().collect();
        go(&p, &t)
    }

    proptest! {
        #[test]
        fn matching_agrees_with_a_recursive_oracle(
            pattern in "[aé*?]{1,8}",
            alias in "[aé]{0,8}",
        ) {
            prop_assert_eq!(matches(&pattern, &alias), oracle(&pattern, &alias));
        }
    }
}
