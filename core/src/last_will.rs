//! Last wills: a message a client leaves with the hub when it syncs, sent
//! for it if its session ends without a clean `bye` (MQTT's last will).

use serde_json::value::RawValue;

use crate::alias::Alias;
use crate::config::MAX_LAST_WILL_ALIASES;
use crate::error::{ErrorCode, PeerError};
use crate::frame::LastWillRequest;
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
    pub(crate) message: Box<RawValue>,
}

impl LastWill {
    /// Checks a `lastWill` against the room and alias rules and the limits:
    /// at most [`MAX_LAST_WILL_ALIASES`] aliases, and a frame no larger
    /// than `max_frame_len` once sent (the same limit the client's own
    /// frames obey, so a will costs the hub no more than one frame).
    pub(crate) fn new(
        request: &LastWillRequest<'_>,
        max_frame_len: usize,
    ) -> Result<Self, PeerError> {
        let target = match &request.room {
            Some(room) => WillTarget::Room(Room::new(room)?),
            None => {
                if request.to.len() > MAX_LAST_WILL_ALIASES {
                    return Err(PeerError::new(
                        ErrorCode::TooManyWatches,
                        format!(
                            "a last will names {} aliases; at most {MAX_LAST_WILL_ALIASES} are allowed",
                            request.to.len()
                        ),
                    ));
                }
                let aliases = request
                    .to
                    .iter()
                    .map(|name| Alias::new(name))
                    .collect::<Result<Vec<_>, _>>()?;
                WillTarget::Aliases(aliases)
            }
        };
        // The frame sent: the message plus at most this much around it
        // (type, a 64-byte sender name and room escaped, the flag).
        const ENVELOPE: usize = 512;
        let size = request.message.get().len() + ENVELOPE;
        if size > max_frame_len {
            return Err(PeerError::new(
                ErrorCode::LastWillTooLarge,
                format!(
                    "the last will's message is {} bytes; with its envelope it must fit the {max_frame_len}-byte frame limit",
                    request.message.get().len()
                ),
            ));
        }
        Ok(LastWill {
            target,
            message: request.message.0.to_owned(),
        })
    }
}
