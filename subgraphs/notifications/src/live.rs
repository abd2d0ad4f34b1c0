//! What notifications sends to subscribers: each new or grown notification,
//! keyed by its recipient, through Redis (`nova_core::live`) so whichever
//! instance the recipient is connected to delivers it.

use nova_core::live::LiveHub;
use uuid::Uuid;

use crate::store::NotificationRow;

/// Live notifications keyed by recipient.
pub type NotificationHub = LiveHub<Uuid, NotificationRow>;
