//! SQL of `nova_users`. Every statement is counted through `Db::statement`.

use nova_core::db::Db;
use nova_core::events::envelope::ProfileChanged;
use nova_core::events::{self, Event};
use uuid::Uuid;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub display_name: Option<String>,
    pub bio: String,
    pub avatar_url: Option<String>,
    pub avatar_media_id: Option<Uuid>,
}

/// One statement for any number of users (the DataLoader's batch). Users without a
/// row are absent from the result.
pub async fn profiles_by_user_ids(
    db: &Db,
    user_ids: &[Uuid],
) -> Result<Vec<(Uuid, Profile)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT user_id, display_name, bio, avatar_url, avatar_media_id FROM profiles \
         WHERE user_id = ANY($1)",
        user_ids,
    )
    .fetch_all(db.statement())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let profile = Profile {
                display_name: row.display_name,
                bio: row.bio,
                avatar_url: row.avatar_url,
                avatar_media_id: row.avatar_media_id,
            };
            (row.user_id, profile)
        })
        .collect())
}

/// A change to a profile: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub display_name: Option<Option<String>>,
    pub bio: Option<String>,
    pub avatar_url: Option<Option<String>>,
    pub avatar_media_id: Option<Option<Uuid>>,
}

/// Apply a change, creating the row on first use, with its
/// `users.profile_changed` event; returns the profile after it.
pub async fn update_profile(
    db: &Db,
    user_id: Uuid,
    change: &ProfileChange,
) -> Result<Profile, sqlx::Error> {
    let mut tx = db.begin().await?;
    db.count_statement();
    let profile = sqlx::query_as!(
        Profile,
        "INSERT INTO profiles (user_id, display_name, bio, avatar_url, avatar_media_id) \
         VALUES ($1, $3, coalesce($5, ''), $7, $9) \
         ON CONFLICT (user_id) DO UPDATE SET \
           display_name = CASE WHEN $2 THEN excluded.display_name ELSE profiles.display_name END, \
           bio          = CASE WHEN $4 THEN excluded.bio ELSE profiles.bio END, \
           avatar_url   = CASE WHEN $6 THEN excluded.avatar_url ELSE profiles.avatar_url END, \
           avatar_media_id = CASE WHEN $8 THEN excluded.avatar_media_id \
                                  ELSE profiles.avatar_media_id END, \
           updated_at   = now() \
         RETURNING display_name, bio, avatar_url, avatar_media_id",
        user_id,
        change.display_name.is_some(),
        change.display_name.clone().flatten(),
        change.bio.is_some(),
        change.bio.clone(),
        change.avatar_url.is_some(),
        change.avatar_url.clone().flatten(),
        change.avatar_media_id.is_some(),
        change.avatar_media_id.flatten(),
    )
    .fetch_one(&mut *tx)
    .await?;
    let event = Event::ProfileChanged(ProfileChanged { user_id });
    events::enqueue(db, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(profile)
}
