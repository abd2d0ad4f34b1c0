//! Events of chat.
//!
//! Emits (on `nova.chat`, written by `store` with the message): `chat.message_sent`
//! (ids, sequence number, sender and recipients; never the body).
//!
//! Consumes nothing: blocks are asked of social at each write (`crate::blocks`).
