//! Redis key names: everything under `tcphub:{NAME}:`, with alias and room
//! names hex-encoded so no text a client sends can forge a key or a `:`.
//!
//! The braces make `NAME` a Redis Cluster hash tag, so every key of one
//! cluster lands in one slot and the Lua scripts may touch any of them.

use tcphub_core::NodeId;

/// The keys of one cluster, as seen from one node.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    /// `tcphub:{NAME}:`, passed to the scripts, which build the keys of
    /// other nodes from it.
    pub(crate) prefix: String,
    node: NodeId,
}

impl Keys {
    pub(crate) fn new(cluster: &str, node: &NodeId) -> Self {
        Keys {
            prefix: format!("tcphub:{{{cluster}}}:"),
            node: node.clone(),
        }
    }

    pub(crate) fn node(&self) -> &NodeId {
        &self.node
    }

    /// This node's lease: present while the node is alive.
    pub(crate) fn lease(&self) -> String {
        format!("{}node:{}", self.prefix, self.node)
    }

    /// The set of every registered node.
    pub(crate) fn nodes(&self) -> String {
        format!("{}nodes", self.prefix)
    }

    /// Frames for one node (directed and room), and `taken_over` notes.
    pub(crate) fn inbox(&self, node: &NodeId) -> String {
        format!("{}inbox:{node}", self.prefix)
    }

    /// Frames for every node.
    pub(crate) fn all(&self) -> String {
        format!("{}all", self.prefix)
    }

    /// Directory changes, for every node's replica.
    pub(crate) fn directory(&self) -> String {
        format!("{}directory", self.prefix)
    }
}

/// A name as it appears inside a key: lower-case hex of its UTF-8 bytes.
pub(crate) fn hex(name: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(name.len() * 2);
    for byte in name.bytes() {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The name a key's hex stands for; `None` when it is not hex of UTF-8.
pub(crate) fn unhex(text: &[u8]) -> Option<String> {
    if text.len() % 2 != 0 {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16);
    let bytes = text
        .chunks(2)
        .map(|pair| Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8))
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_reach_outside_their_key() {
        let keys = Keys::new("prod", &NodeId::new("n1").unwrap());
        assert_eq!(keys.lease(), "tcphub:{prod}:node:n1");
        // An alias full of separators is just hex digits in a key.
        let forged = "x:node:n2}:*";
        let encoded = hex(forged);
        assert!(encoded.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(unhex(encoded.as_bytes()).as_deref(), Some(forged));
        assert_eq!(unhex("大家".as_bytes()), None);
        assert_eq!(hex("大"), "e5a4a7");
        assert_eq!(unhex(b"e5a4a7").as_deref(), Some("大"));
        assert_eq!(unhex(b"e5a"), None);
        assert_eq!(unhex(b"zz"), None);
        assert_eq!(unhex(b"ff"), None, "not UTF-8");
    }
}
