//! Node ids: the names of a cluster's nodes.

use std::sync::Arc;

use crate::error::HubError;
use crate::name::name_traits;

/// Longest node id accepted.
pub const MAX_NODE_ID_LEN: usize = 32;

/// A node's name in its cluster, such as `n1` or `eu-west-2`: 1 to
/// [`MAX_NODE_ID_LEN`] ASCII letters, digits, `-` and `_`, so it can sit in
/// a session id (`n1/127.0.0.1:53412`) and a key without escaping.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// Checks `id` against the node id rules.
    pub fn new(id: &str) -> Result<Self, HubError> {
        let valid = !id.is_empty()
            && id.len() <= MAX_NODE_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(NodeId(Arc::from(id)))
        } else {
            Err(HubError::InvalidConfig(format!(
                "node id {id:?} must be 1 to {MAX_NODE_ID_LEN} ASCII letters, digits, '-' or '_'"
            )))
        }
    }
}

name_traits!(NodeId);
