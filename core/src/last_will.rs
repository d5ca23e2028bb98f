//! Last wills: a message a client leaves with the hub when it syncs, sent
//! for it if its session ends without a clean `bye` (MQTT's last will).

use std::collections::BTreeSet;

use bytes::Bytes;
use serde_json::value::RawValue;

use crate::alias::Alias;
use crate::config::MAX_LAST_WILL_ALIASES;
use crate::error::{ErrorCode, PeerError};
use crate::frame::hub_encode as encode;
use crate::frame::{json_string, LastWillRequest};
use crate::room::Room;

/// Where a last will goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WillTarget {
    /// The room's members at the time the session ends.
    Room(Room),
    /// Whoever holds these aliases at the time the session ends.
    Aliases(Vec<Alias>),
}

/// A checked last will, kept on its session until it ends.
#[derive(Debug, Clone)]
pub(crate) struct LastWill {
    pub(crate) target: WillTarget,
    /// The `info` frame sent, encoded once when the will is left.
    pub(crate) frame: Bytes,
    /// The message as sent, kept only when the host observes relays.
    pub(crate) message: Option<Box<RawValue>>,
}

/// What the hub allows a last will: the size of its message and whether
/// the host wants it reported when sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WillRules {
    pub(crate) max_bytes: usize,
    pub(crate) observe: bool,
}

impl LastWill {
    /// Checks a `lastWill` left by a session syncing as `alias` against the
    /// room and alias rules and the limits: at most
    /// [`MAX_LAST_WILL_ALIASES`] aliases, a message of at most
    /// `rules.max_bytes` (a will is held for the whole session, so it is
    /// kept small), and encodes the frame it will be sent as.
    pub(crate) fn new(
        request: &LastWillRequest<'_>,
        alias: &Alias,
        rules: WillRules,
    ) -> Result<Self, PeerError> {
        let target = match &request.room {
            Some(room) => WillTarget::Room(Room::new(room)?),
            None => {
                if request.to.len() > MAX_LAST_WILL_ALIASES {
                    return Err(PeerError::new(
                        ErrorCode::InvalidField,
                        format!(
                            "field \"lastWill.to\" names {} aliases; at most {MAX_LAST_WILL_ALIASES} are allowed",
                            request.to.len()
                        ),
                    ));
                }
                let mut aliases = request
                    .to
                    .iter()
                    .map(|name| Alias::new(name))
                    .collect::<Result<Vec<_>, _>>()?;
                // An alias named twice gets the will once.
                let mut seen = BTreeSet::new();
                aliases.retain(|alias| seen.insert(alias.clone()));
                WillTarget::Aliases(aliases)
            }
        };
        let message = request.message.get();
        if message.len() > rules.max_bytes {
            return Err(PeerError::new(
                ErrorCode::LastWillTooLarge,
                format!(
                    "the last will's message is {} bytes; the hub keeps at most {}",
                    message.len(),
                    rules.max_bytes
                ),
            ));
        }
        let room = match &target {
            WillTarget::Room(room) => Some(room.as_str()),
            WillTarget::Aliases(_) => None,
        };
        Ok(LastWill {
            frame: encode::info(&json_string(alias.as_str()), room, true, message),
            target,
            message: rules.observe.then(|| request.message.to_raw_value()),
        })
    }
}
