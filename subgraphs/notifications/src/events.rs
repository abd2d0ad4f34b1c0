//! Events of notifications.
//!
//! Emits nothing. Consumes (consumer `notifications.builder`):
//! - `nova.social`: `social.followed` → the followee; `social.post_liked` → the
//!   post's author (a like that arrives before its post is held until it does:
//!   topics are not ordered with each other);
//! - `nova.content`: `content.post_created` → remembers the author, notifies the
//!   mentioned users (the event names them); `content.comment_created` → the post's author;
//!   `content.post_deleted` → forgets the post; `content.post_taken_down` →
//!   forgets the post, deletes its notifications and tells its author (a
//!   `TAKEN_DOWN` notification without actor); `content.post_restored` →
//!   remembers it again;
//! - `nova.chat`: `chat.message_sent` → every recipient;
//! - `nova.identity`: `identity.user_deleted` → erases the account's
//!   notifications, its part in others' and its posts (docs/deletion.md).
//!
//! Nobody is notified of someone blocked either way or muted: social answers
//! which pairs are silenced as each event is applied
//! (`/internal/notices/silenced`), so a notice built after `blockUser` or
//! `muteUser` returned respects it. Social not answering is an outage: the
//! event is retried until it does, never applied without the check.
//!
//! After the transaction commits, each new or grown notification goes live to
//! its recipient (`after_commit`).

use std::sync::Mutex;

use nova_core::events::{topic_of, Event, EventHandler};
use nova_core::internal::{silenced_pairs, InternalClient};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::live::NotificationHub;
use crate::store::{self, Happening, NotificationKind, NotificationRow};

pub struct NotificationBuilder {
    hub: NotificationHub,
    /// social's `/internal/` routes: who is silenced for whom.
    social: InternalClient,
    /// Notifications changed by the event being applied, published after its
    /// commit. The consumer applies one event at a time.
    changed: Mutex<Vec<NotificationRow>>,
}

impl NotificationBuilder {
    pub fn new(hub: NotificationHub, social: InternalClient) -> Self {
        Self {
            hub,
            social,
            changed: Mutex::new(Vec::new()),
        }
    }

    fn set_changed(&self, rows: Vec<NotificationRow>) {
        *self.changed.lock().expect("never poisoned") = rows;
    }
}

/// What one event means for whom.
async fn happenings(
    tx: &mut PgConnection,
    event: &Event,
) -> Result<Option<Vec<Happening>>, sqlx::Error> {
    let happening = |recipient, actor, kind, post_id, conversation_id| Happening {
        recipient,
        actor,
        kind,
        post_id,
        conversation_id,
    };
    let list = match event {
        Event::Followed(e) => vec![happening(
            e.followee_id,
            e.follower_id,
            NotificationKind::Followed,
            None,
            None,
        )],
        Event::PostLiked(e) => match store::post_author(tx, e.post_id).await? {
            Some(author) => vec![happening(
                author,
                e.user_id,
                NotificationKind::PostLiked,
                Some(e.post_id),
                None,
            )],
            None => {
                store::hold_like(tx, e.post_id, e.user_id).await?;
                vec![]
            }
        },
        Event::CommentCreated(e) => vec![happening(
            e.post_author_id,
            e.author_id,
            NotificationKind::Commented,
            Some(e.post_id),
            None,
        )],
        Event::PostCreated(e) => {
            let waiting_likes = store::record_post(tx, e.post_id, e.author_id).await?;
            let likes = waiting_likes.into_iter().map(|liker| {
                happening(
                    e.author_id,
                    liker,
                    NotificationKind::PostLiked,
                    Some(e.post_id),
                    None,
                )
            });
            let mentions = e.mentioned_ids.iter().map(|user| {
                happening(
                    *user,
                    e.author_id,
                    NotificationKind::Mentioned,
                    Some(e.post_id),
                    None,
                )
            });
            likes.chain(mentions).collect()
        }
        Event::PostDeleted(e) => {
            store::forget_post(tx, e.post_id).await?;
            vec![]
        }
        Event::PostRestored(e) => {
            store::record_post(tx, e.post_id, e.author_id).await?;
            vec![]
        }
        Event::UserDeleted(e) => {
            store::erase_user(tx, e.user_id).await?;
            vec![]
        }
        Event::MessageSent(e) => e
            .recipient_ids
            .iter()
            .map(|recipient| {
                happening(
                    *recipient,
                    e.sender_id,
                    NotificationKind::Message,
                    None,
                    Some(e.conversation_id),
                )
            })
            .collect(),
        _ => return Ok(None),
    };
    Ok(Some(list))
}

impl EventHandler for NotificationBuilder {
    fn name(&self) -> &'static str {
        "notifications.builder"
    }

    fn topics(&self) -> Vec<String> {
        ["social", "content", "chat", "identity"]
            .into_iter()
            .map(topic_of)
            .collect()
    }

    async fn apply(&self, tx: &mut PgConnection, event: &Event) -> Result<bool, sqlx::Error> {
        self.set_changed(Vec::new());
        // A taken-down post's notifications go (a restore does not bring them
        // back; while it is down nobody can like or comment on it), and its
        // author is told, live too.
        if let Event::PostTakenDown(e) = event {
            store::forget_post(tx, e.post_id).await?;
            store::delete_post_notifications(tx, e.post_id).await?;
            let told = store::notify_taken_down(tx, e.author_id, e.post_id).await?;
            self.set_changed(vec![told]);
            return Ok(true);
        }
        let Some(list) = happenings(tx, event).await? else {
            return Ok(false);
        };
        let pairs: Vec<(Uuid, Uuid)> = list.iter().map(|h| (h.recipient, h.actor)).collect();
        let silenced = silenced_pairs(&self.social, &pairs)
            .await
            .map_err(|error| {
                // Io: the consumer retries it as an outage, for as long as it takes.
                sqlx::Error::Io(std::io::Error::other(format!(
                    "social did not say who is silenced: {error}"
                )))
            })?;
        let mut changed = Vec::new();
        for happening in list
            .iter()
            .filter(|h| !silenced.contains(&(h.recipient, h.actor)))
        {
            if let Some(row) = store::fold(tx, happening).await? {
                changed.push(row);
            }
        }
        self.set_changed(changed);
        Ok(true)
    }

    async fn after_commit(&self, _event: &Event) {
        let changed = std::mem::take(&mut *self.changed.lock().expect("never poisoned"));
        for row in changed {
            self.hub.publish(row.recipient_id, row).await;
        }
    }
}
