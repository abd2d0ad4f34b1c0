//! Writers of the copies services keep of another service's data.
//!
//! Search keeps social's blocks in a `blocks (blocker_id, blocked_id)` table of
//! its own database, for read-time filtering (chat asks social at each write
//! instead). The writer is a macro so that it expands in the service that uses
//! it: its statements are checked at compile time against
//! that crate's own schema, as every statement is (nova-core's statements are
//! checked against the event backbone's database, which has no such table).

/// Expands to `pub async fn apply_block(tx, blocker, blocked, is_blocked)`,
/// which records or removes one block in the calling service's `blocks` copy.
#[macro_export]
macro_rules! blocks_copy_writer {
    () => {
        /// Apply one of social's block events to this service's copy of who
        /// blocked whom (idempotent: a redelivery changes nothing).
        pub async fn apply_block(
            tx: &mut sqlx::PgConnection,
            blocker: uuid::Uuid,
            blocked: uuid::Uuid,
            is_blocked: bool,
        ) -> Result<(), sqlx::Error> {
            let statement = if is_blocked {
                sqlx::query!(
                    "INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    blocker,
                    blocked,
                )
            } else {
                sqlx::query!(
                    "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2",
                    blocker,
                    blocked,
                )
            };
            statement.execute(tx).await?;
            Ok(())
        }
    };
}
