//! Who must hear nothing from whom: the notifications rule of blocks and mutes.

use nova_core::db::Db;
use uuid::Uuid;

/// The `(recipient, actor)` pairs of `pairs` that must raise no notification:
/// a block either way between the two, or the recipient muted the actor.
pub async fn silenced_pairs(
    db: &Db,
    pairs: &[(Uuid, Uuid)],
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let (recipients, actors): (Vec<Uuid>, Vec<Uuid>) = pairs.iter().copied().unzip();
    let rows = sqlx::query!(
        r#"SELECT p.recipient AS "recipient!", p.actor AS "actor!"
           FROM unnest($1::uuid[], $2::uuid[]) AS p (recipient, actor)
           WHERE EXISTS (SELECT 1 FROM blocks b
                  WHERE (b.blocker_id = p.recipient AND b.blocked_id = p.actor)
                     OR (b.blocker_id = p.actor AND b.blocked_id = p.recipient))
              OR EXISTS (SELECT 1 FROM mutes m
                  WHERE m.muter_id = p.recipient AND m.muted_id = p.actor)"#,
        &recipients,
        &actors,
    )
    .fetch_all(db.statement())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.recipient, row.actor))
        .collect())
}
