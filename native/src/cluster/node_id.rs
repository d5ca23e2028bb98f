//! A node id for a node started without `--node-id`.

use tcphub_core::{NodeId, MAX_NODE_ID_LEN};

/// `HOST-PID-XXXX`: the short host name (cut to fit, characters outside the
/// node id rules made `-`), the process id, and four random hex digits, so
/// two nodes started on one machine in one instant still differ.
pub fn default_node_id() -> NodeId {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let short = host.trim().split('.').next().unwrap_or("");
    let random = crate::random::os_random_u64() & 0xffff;
    let tail = format!("-{}-{random:04x}", std::process::id());
    let room = MAX_NODE_ID_LEN - tail.len();
    let mut head: String = short
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(room)
        .collect();
    if head.is_empty() {
        head.push_str("node");
    }
    let id = format!("{head}{tail}");
    // Built from the allowed characters only, within the length.
    NodeId::new(&id).unwrap_or_else(|_| unreachable!("{id:?} is a valid node id by construction"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ids_are_valid_and_differ() {
        let (a, b) = (default_node_id(), default_node_id());
        assert_ne!(a, b);
        assert!(a.as_str().contains(&std::process::id().to_string()));
    }
}
