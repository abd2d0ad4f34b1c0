//! The event envelope and the catalogue of event types. One typed definition is
//! shared by every producer and consumer; on the wire an event is this JSON:
//!
//! ```json
//! { "id": "<UUIDv7>", "type": "content.post_deleted", "version": 1,
//!   "time": "2026-11-22T06:00:00Z", "producer": "content",
//!   "key": "<aggregate id>", "payload": { "postId": "...", "authorId": "..." } }
//! ```
//!
//! The Kafka message key is `key` (the aggregate id), so one aggregate's events land
//! on one partition and stay in order. Topics are one per producing domain:
//! `nova.<producer>` (see [`Event::topic`]).
//!
//! A change to a payload that old consumers cannot read gets a new `version`;
//! consumers skip types they do not handle, so adding a type is safe.
//!
//! Payloads carry ids, never personal data (a username, a profile, a body):
//! the broker keeps what it was sent for its retention, and an account's
//! deletion must not wait for that (docs/deletion.md). A consumer that needs
//! the text asks its owner (search: the owners' `/internal/…/export` by ids).
//! Fields events written before carried (`username`, `body`, `hashtags`,
//! `mentions`, `displayName`, `bio`) are ignored when read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use super::viewed::{PostsViewed, View, ViewedPost};

/// The schema version of every payload below.
pub const SCHEMA_VERSION: u32 = 1;

/// Every event Nova emits. The serde tag is the event's `type` on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum Event {
    /// An account was created (identity). Key: the user.
    #[serde(rename = "identity.user_registered")]
    UserRegistered(UserRegistered),
    /// An account was deleted (identity): every subgraph erases what it holds
    /// of the user (docs/deletion.md). Key: the user.
    #[serde(rename = "identity.user_deleted")]
    UserDeleted(UserDeleted),
    /// A post was published (content). Key: the post.
    #[serde(rename = "content.post_created")]
    PostCreated(PostCreated),
    /// A post's body was changed (content). Key: the post.
    #[serde(rename = "content.post_edited")]
    PostEdited(PostEdited),
    /// A post was deleted, with its comments (content). Key: the post.
    #[serde(rename = "content.post_deleted")]
    PostDeleted(PostDeleted),
    /// A moderator took a post down (content): kept, no longer served. Key:
    /// the post.
    #[serde(rename = "content.post_taken_down")]
    PostTakenDown(PostModerated),
    /// A moderator restored a taken-down post (content). Key: the post.
    #[serde(rename = "content.post_restored")]
    PostRestored(PostModerated),
    /// A profile's public fields changed (users). Key: the user.
    #[serde(rename = "users.profile_changed")]
    ProfileChanged(ProfileChanged),
    /// A comment was added to a post (content). Key: the post.
    #[serde(rename = "content.comment_created")]
    CommentCreated(CommentCreated),
    /// Its author deleted a comment (content); the same fields as when it was
    /// created. Key: the post.
    #[serde(rename = "content.comment_deleted")]
    CommentDeleted(CommentCreated),
    /// A moderator took a comment down (content): kept, no longer served or
    /// counted. Key: the post.
    #[serde(rename = "content.comment_taken_down")]
    CommentTakenDown(CommentCreated),
    /// A moderator restored a taken-down comment (content). Key: the post.
    #[serde(rename = "content.comment_restored")]
    CommentRestored(CommentCreated),
    /// Someone followed someone (social). Key: the follower.
    #[serde(rename = "social.followed")]
    Followed(Follow),
    /// Someone stopped following someone (social). Key: the follower.
    #[serde(rename = "social.unfollowed")]
    Unfollowed(Follow),
    /// Someone blocked someone; follows both ways were dropped (social). Key: the blocker.
    #[serde(rename = "social.blocked")]
    Blocked(Block),
    /// Someone lifted a block (social). Key: the blocker.
    #[serde(rename = "social.unblocked")]
    Unblocked(Block),
    /// Someone muted someone: the muted account's posts leave the muter's feed
    /// (social). Key: the muter.
    #[serde(rename = "social.muted")]
    Muted(Mute),
    /// Someone lifted a mute (social). Key: the muter.
    #[serde(rename = "social.unmuted")]
    Unmuted(Mute),
    /// Someone liked a post (social). Key: the post.
    #[serde(rename = "social.post_liked")]
    PostLiked(PostLiked),
    /// Someone took their like back (social). Key: the post.
    #[serde(rename = "social.post_unliked")]
    PostUnliked(PostLiked),
    /// A chat message was sent (chat). Key: the conversation. The body stays in
    /// chat, encrypted: events never carry message text.
    #[serde(rename = "chat.message_sent")]
    MessageSent(MessageSent),
    /// Pages of the home feed were served (feed): each post on them counts as
    /// a view (`nova_core::views`). Key: the first view's viewer.
    #[serde(rename = "feed.posts_viewed")]
    FeedPostsViewed(PostsViewed),
    /// Posts' pages were served (content: `Query.post`). Key: the first view's
    /// viewer.
    #[serde(rename = "content.post_viewed")]
    PostPageViewed(PostsViewed),
    /// An upload's bytes are in the store and passed the checks at
    /// `completeUpload`; processing makes its variants (media). Key: the media.
    #[serde(rename = "media.uploaded")]
    MediaUploaded(MediaUploaded),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistered {
    pub user_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDeleted {
    pub user_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostCreated {
    pub post_id: Uuid,
    pub author_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// The accounts the body mentions (`@username`) that exist. Absent in
    /// events written before it was added: read as none.
    #[serde(default)]
    pub mentioned_ids: Vec<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostEdited {
    pub post_id: Uuid,
    pub author_id: Uuid,
    pub edited_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileChanged {
    pub user_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostDeleted {
    pub post_id: Uuid,
    pub author_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostModerated {
    pub post_id: Uuid,
    pub author_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentCreated {
    pub comment_id: Uuid,
    pub post_id: Uuid,
    pub post_author_id: Uuid,
    pub author_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Follow {
    pub follower_id: Uuid,
    pub followee_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    pub blocker_id: Uuid,
    pub blocked_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mute {
    pub muter_id: Uuid,
    pub muted_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostLiked {
    pub user_id: Uuid,
    pub post_id: Uuid,
    /// The post's author. Absent in events written before it was added.
    #[serde(default)]
    pub post_author_id: Option<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSent {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    /// The message's sequence number in its conversation.
    pub seq: i64,
    pub sender_id: Uuid,
    /// The conversation's other members when it was sent.
    pub recipient_ids: Vec<Uuid>,
    pub sent_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaUploaded {
    pub media_id: Uuid,
    pub owner_id: Uuid,
    /// What the bytes are (sniffed), e.g. `image/jpeg`.
    pub content_type: String,
}

impl Event {
    /// The `type` on the wire: `<producer>.<what happened>`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::UserRegistered(_) => "identity.user_registered",
            Event::UserDeleted(_) => "identity.user_deleted",
            Event::PostCreated(_) => "content.post_created",
            Event::PostEdited(_) => "content.post_edited",
            Event::PostDeleted(_) => "content.post_deleted",
            Event::PostTakenDown(_) => "content.post_taken_down",
            Event::PostRestored(_) => "content.post_restored",
            Event::ProfileChanged(_) => "users.profile_changed",
            Event::CommentCreated(_) => "content.comment_created",
            Event::CommentDeleted(_) => "content.comment_deleted",
            Event::CommentTakenDown(_) => "content.comment_taken_down",
            Event::CommentRestored(_) => "content.comment_restored",
            Event::Followed(_) => "social.followed",
            Event::Unfollowed(_) => "social.unfollowed",
            Event::Blocked(_) => "social.blocked",
            Event::Unblocked(_) => "social.unblocked",
            Event::Muted(_) => "social.muted",
            Event::Unmuted(_) => "social.unmuted",
            Event::PostLiked(_) => "social.post_liked",
            Event::PostUnliked(_) => "social.post_unliked",
            Event::MessageSent(_) => "chat.message_sent",
            Event::FeedPostsViewed(_) => "feed.posts_viewed",
            Event::PostPageViewed(_) => "content.post_viewed",
            Event::MediaUploaded(_) => "media.uploaded",
        }
    }

    /// The domain that produces it (the part of the type before the dot).
    pub fn producer(&self) -> &'static str {
        let name = self.type_name();
        &name[..name.find('.').unwrap_or(name.len())]
    }

    /// The topic it is published on.
    pub fn topic(&self) -> String {
        topic_of(self.producer())
    }

    /// The aggregate the event is about; the Kafka message key.
    pub fn key(&self) -> Uuid {
        match self {
            Event::UserRegistered(e) => e.user_id,
            Event::UserDeleted(e) => e.user_id,
            Event::PostCreated(e) => e.post_id,
            Event::PostEdited(e) => e.post_id,
            Event::PostDeleted(e) => e.post_id,
            Event::PostTakenDown(e) | Event::PostRestored(e) => e.post_id,
            Event::ProfileChanged(e) => e.user_id,
            Event::CommentCreated(e)
            | Event::CommentDeleted(e)
            | Event::CommentTakenDown(e)
            | Event::CommentRestored(e) => e.post_id,
            Event::Followed(e) | Event::Unfollowed(e) => e.follower_id,
            Event::Blocked(e) | Event::Unblocked(e) => e.blocker_id,
            Event::Muted(e) | Event::Unmuted(e) => e.muter_id,
            Event::PostLiked(e) | Event::PostUnliked(e) => e.post_id,
            Event::MessageSent(e) => e.conversation_id,
            Event::FeedPostsViewed(e) | Event::PostPageViewed(e) => e.key(),
            Event::MediaUploaded(e) => e.media_id,
        }
    }
}

/// The topic of a producing domain.
pub fn topic_of(producer: &str) -> String {
    format!("nova.{producer}")
}

/// What travels on Kafka. `payload` stays JSON until a consumer that handles the
/// type decodes it with [`Envelope::event`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u32,
    pub time: DateTime<Utc>,
    pub producer: String,
    pub key: String,
    pub payload: serde_json::Value,
}

impl Envelope {
    /// A new envelope for `event`, with a fresh UUIDv7 id and the current time.
    pub fn new(event: &Event) -> Self {
        let tagged = serde_json::to_value(event).expect("events serialize to JSON");
        Self {
            id: Uuid::now_v7(),
            event_type: event.type_name().to_string(),
            version: SCHEMA_VERSION,
            time: Utc::now(),
            producer: event.producer().to_string(),
            key: event.key().to_string(),
            payload: tagged["payload"].clone(),
        }
    }

    /// Decode the payload into its typed event.
    pub fn event(&self) -> Result<Event, serde_json::Error> {
        serde_json::from_value(serde_json::json!({
            "type": self.event_type,
            "payload": self.payload,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_round_trips_through_json() {
        let event = Event::PostDeleted(PostDeleted {
            post_id: Uuid::now_v7(),
            author_id: Uuid::now_v7(),
        });
        let envelope = Envelope::new(&event);
        assert_eq!(envelope.event_type, "content.post_deleted");
        assert_eq!(envelope.producer, "content");
        assert_eq!(event.topic(), "nova.content");
        assert_eq!(envelope.key, event.key().to_string());
        let wire = serde_json::to_string(&envelope).unwrap();
        let read: Envelope = serde_json::from_str(&wire).unwrap();
        assert_eq!(read, envelope);
        assert_eq!(read.event().unwrap(), event);
        assert!(wire.contains("\"postId\""), "{wire}");
    }

    #[test]
    fn a_payload_that_does_not_match_its_type_is_an_error() {
        let mut envelope = Envelope::new(&Event::Followed(Follow {
            follower_id: Uuid::now_v7(),
            followee_id: Uuid::now_v7(),
        }));
        envelope.payload = serde_json::json!({ "followerId": "not a uuid" });
        assert!(envelope.event().is_err());
        envelope.event_type = "social.something_new".into();
        assert!(envelope.event().is_err());
    }
}
