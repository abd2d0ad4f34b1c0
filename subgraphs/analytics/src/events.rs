//! Events of analytics: what each domain event becomes.
//!
//! Emits nothing. Consumes (consumer `analytics.events`, see `ingest`)
//! `nova.content` (post created; comment created, deleted, taken down and
//! restored; a post's page viewed), `nova.feed` (a feed page's posts viewed), `nova.social`
//! (post liked and unliked; followed, unfollowed), `nova.chat` (message sent:
//! who sent one, never what) and `nova.identity` (account deleted: its rows
//! are erased). Every other event is ignored: posts deleted or taken down stay
//! counted for their author, and lists (`trendingPosts`) ask content which
//! posts it serves now.

use nova_core::events::{topic_of, Envelope, Event};
use serde::Serialize;
use uuid::Uuid;

/// The `kind` column: what happened.
pub mod kind {
    pub const POST_CREATED: &str = "post_created";
    /// A post served to a viewer (a feed page, its own page).
    pub const POST_VIEWED: &str = "post_viewed";
    pub const POST_LIKED: &str = "post_liked";
    pub const POST_UNLIKED: &str = "post_unliked";
    pub const COMMENT_CREATED: &str = "comment_created";
    pub const COMMENT_DELETED: &str = "comment_deleted";
    pub const COMMENT_TAKEN_DOWN: &str = "comment_taken_down";
    pub const COMMENT_RESTORED: &str = "comment_restored";
    pub const FOLLOWED: &str = "followed";
    pub const UNFOLLOWED: &str = "unfollowed";
    pub const MESSAGE_SENT: &str = "message_sent";
}

/// The producers whose topics analytics reads.
pub fn topics() -> Vec<String> {
    ["content", "social", "chat", "identity", "feed"]
        .into_iter()
        .map(topic_of)
        .collect()
}

/// One row of `events`. Ids are strings ("" where the event has none); the time
/// is the envelope's, in seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventRow {
    pub event_id: String,
    pub kind: &'static str,
    pub occurred_at: i64,
    /// Who did it: the liker, the commenter, the follower, the sender.
    pub actor_id: String,
    /// Whose it is: the post's author, the account followed.
    pub author_id: String,
    pub post_id: String,
    /// When analytics wrote it (seconds; set by `ingest` at the insert): what
    /// the features' refresh reads on from.
    pub ingested_at: i64,
}

/// The kinds that make a viewer's affinity with an author.
pub const INTERACTIONS: [&str; 6] = [
    kind::POST_LIKED,
    kind::POST_UNLIKED,
    kind::COMMENT_CREATED,
    kind::COMMENT_DELETED,
    kind::COMMENT_TAKEN_DOWN,
    kind::COMMENT_RESTORED,
];

impl EventRow {
    /// Whether it goes into `interactions` too: someone's like or comment on
    /// another account's post.
    pub fn is_interaction(&self) -> bool {
        INTERACTIONS.contains(&self.kind)
            && !self.actor_id.is_empty()
            && !self.author_id.is_empty()
            && self.actor_id != self.author_id
    }

    /// The accounts the row names, for erasure.
    pub fn accounts(&self) -> [&str; 2] {
        [&self.actor_id, &self.author_id]
    }
}

/// What one event does to analytics.
#[derive(Debug, PartialEq)]
pub enum Ingest {
    Row(EventRow),
    /// A page of views: a row per post, with ids `<event id>/<post id>` (a
    /// redelivery makes the same ids).
    Rows(Vec<EventRow>),
    /// An account was deleted: erase its rows.
    Erase(Uuid),
    Ignore,
}

fn id(id: Option<Uuid>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

/// What `event` (from `envelope`) does to analytics.
pub fn ingest_of(envelope: &Envelope, event: &Event) -> Ingest {
    let row = |kind, actor: Uuid, author: Option<Uuid>, post: Option<Uuid>| {
        Ingest::Row(EventRow {
            event_id: envelope.id.to_string(),
            kind,
            occurred_at: envelope.time.timestamp(),
            actor_id: actor.to_string(),
            author_id: id(author),
            post_id: id(post),
            ingested_at: 0,
        })
    };
    match event {
        Event::PostCreated(e) => row(
            kind::POST_CREATED,
            e.author_id,
            Some(e.author_id),
            Some(e.post_id),
        ),
        Event::PostLiked(e) => row(
            kind::POST_LIKED,
            e.user_id,
            e.post_author_id,
            Some(e.post_id),
        ),
        Event::PostUnliked(e) => row(
            kind::POST_UNLIKED,
            e.user_id,
            e.post_author_id,
            Some(e.post_id),
        ),
        Event::CommentCreated(e) => row(
            kind::COMMENT_CREATED,
            e.author_id,
            Some(e.post_author_id),
            Some(e.post_id),
        ),
        Event::CommentDeleted(e) => row(
            kind::COMMENT_DELETED,
            e.author_id,
            Some(e.post_author_id),
            Some(e.post_id),
        ),
        Event::CommentTakenDown(e) => row(
            kind::COMMENT_TAKEN_DOWN,
            e.author_id,
            Some(e.post_author_id),
            Some(e.post_id),
        ),
        Event::CommentRestored(e) => row(
            kind::COMMENT_RESTORED,
            e.author_id,
            Some(e.post_author_id),
            Some(e.post_id),
        ),
        Event::Followed(e) => row(kind::FOLLOWED, e.follower_id, Some(e.followee_id), None),
        Event::Unfollowed(e) => row(kind::UNFOLLOWED, e.follower_id, Some(e.followee_id), None),
        Event::MessageSent(e) => row(kind::MESSAGE_SENT, e.sender_id, None, None),
        // A row's id: the event's, the view's place in it (left out for the
        // first, the id an event of one view had before batching, so such an
        // event redelivered still counts once) and the post.
        Event::FeedPostsViewed(e) | Event::PostPageViewed(e) => Ingest::Rows(
            e.views
                .iter()
                .enumerate()
                .flat_map(|(place, view)| {
                    view.posts.iter().map(move |viewed| EventRow {
                        event_id: match place {
                            0 => format!("{}/{}", envelope.id, viewed.post_id),
                            _ => format!("{}/{place}/{}", envelope.id, viewed.post_id),
                        },
                        kind: kind::POST_VIEWED,
                        occurred_at: envelope.time.timestamp(),
                        actor_id: id(view.viewer_id),
                        author_id: viewed.author_id.to_string(),
                        post_id: viewed.post_id.to_string(),
                        ingested_at: 0,
                    })
                })
                .collect(),
        ),
        Event::UserDeleted(e) => Ingest::Erase(e.user_id),
        _ => Ingest::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use nova_core::events::envelope::{MessageSent, PostLiked, PostsViewed, View, ViewedPost};

    use super::*;

    #[test]
    fn a_like_counts_for_the_post_and_its_author() {
        let (user, post, author) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let event = Event::PostLiked(PostLiked {
            user_id: user,
            post_id: post,
            post_author_id: Some(author),
        });
        let envelope = Envelope::new(&event);
        let Ingest::Row(row) = ingest_of(&envelope, &event) else {
            panic!("a like is a row");
        };
        assert_eq!(row.event_id, envelope.id.to_string());
        assert_eq!(row.kind, kind::POST_LIKED);
        assert_eq!(row.actor_id, user.to_string());
        assert_eq!(row.author_id, author.to_string());
        assert_eq!(row.post_id, post.to_string());
        assert_eq!(row.occurred_at, envelope.time.timestamp());
    }

    #[test]
    fn a_message_is_counted_without_its_conversation_or_recipients() {
        let sender = Uuid::now_v7();
        let event = Event::MessageSent(MessageSent {
            message_id: Uuid::now_v7(),
            conversation_id: Uuid::now_v7(),
            seq: 1,
            sender_id: sender,
            recipient_ids: vec![Uuid::now_v7()],
            sent_at: chrono::Utc::now(),
        });
        let Ingest::Row(row) = ingest_of(&Envelope::new(&event), &event) else {
            panic!("a message is a row");
        };
        assert_eq!(
            (row.kind, row.actor_id, row.author_id, row.post_id),
            (
                kind::MESSAGE_SENT,
                sender.to_string(),
                String::new(),
                String::new()
            )
        );
    }

    #[test]
    fn each_view_in_a_batch_is_a_row_of_its_own_even_of_the_same_post() {
        let (post, author) = (Uuid::now_v7(), Uuid::now_v7());
        let page = |viewer| View {
            viewer_id: Some(viewer),
            posts: vec![ViewedPost {
                post_id: post,
                author_id: author,
            }],
        };
        let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
        let event = Event::FeedPostsViewed(PostsViewed {
            views: vec![page(first), page(second)],
        });
        let envelope = Envelope::new(&event);
        let Ingest::Rows(rows) = ingest_of(&envelope, &event) else {
            panic!("views are rows");
        };
        let ids: Vec<_> = rows.iter().map(|row| row.event_id.clone()).collect();
        assert_eq!(
            ids,
            [
                format!("{}/{post}", envelope.id),
                format!("{}/1/{post}", envelope.id)
            ]
        );
        let viewers: Vec<_> = rows.iter().map(|row| row.actor_id.clone()).collect();
        assert_eq!(viewers, [first.to_string(), second.to_string()]);
    }
}
