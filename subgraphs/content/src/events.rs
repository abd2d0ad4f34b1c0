//! Events of content.
//!
//! Emits (on `nova.content`, written by `store` in the transaction of the change):
//! `content.post_created`, `content.post_deleted`, `content.comment_created`.
//! Consumes nothing yet.
