//! The seeds' smoke journey across the supergraph, as a front-end runs it: two
//! people sign up and in, one edits a profile and posts, the other follows and
//! sees the post in the home feed, they chat with the message arriving over a
//! WebSocket subscription, the follow shows as a notification, and a photo goes
//! through upload to READY. Every operation is sent by its persisted-query id,
//! so a router in safelist mode (production) serves it.
//!
//! `cargo xtask smoke [--url …]` runs it against any running Nova and prints each
//! step; `tests/tests/smoke.rs` runs it against a fresh test stack.

mod client;
mod journey;

pub use client::{answer_ping, Client};
pub use journey::{run, Step};
