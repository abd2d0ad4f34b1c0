//! Events of identity.
//!
//! Emits (on `nova.identity`, written by `store::create_account` in the account's
//! transaction): `identity.user_registered`. Consumes nothing.
