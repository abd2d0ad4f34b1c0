//! Events of feed: fan-out on write.
//!
//! Emits nothing. Consumes (consumer `feed.timelines`) `nova.content`
//! (`content.post_created`, `content.post_deleted`), `nova.identity`
//! (`identity.user_deleted`) and `nova.social`
//! (`social.followed`, `unfollowed`, `blocked`, `unblocked`, `muted`,
//! `unmuted`). Each event first updates the feed's own tables (`apply`, in the
//! consumer's transaction); then `external_effects` brings the Redis timelines
//! in line with the committed state — on a redelivery too, so a crash between
//! the two redoes the Redis write — before the offset is committed:
//!
//! - post created → into the timelines of the author and of each active
//!   follower who may see it (not for an author at or above the fan-out limit:
//!   reads merge those), and a live `homeFeedUpdated` to those followers;
//! - post deleted → out of the author's and every follower's timeline;
//! - followed, unmuted → the author's recent posts into the viewer's timeline,
//!   if the viewer may see them now;
//! - unfollowed, blocked (both directions), muted → the author's posts out of
//!   the viewer's timeline, unless the viewer may see them again by now;
//! - `identity.user_deleted` → the account's follows, blocks, mutes go and its
//!   posts are marked deleted; its posts leave its followers' timelines (noted
//!   in `erasures` first, so a crash redoes it) and its timeline and FOR_YOU
//!   snapshots are dropped.
//!
//! Every effect reads the rule from the committed tables, never from the event
//! alone, so a late or repeated event cannot bring back what a later one
//! removed.

use nova_core::events::{topic_of, Event, EventHandler};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::live::{FeedHub, FeedUpdate};
use crate::ranked::RankedFeeds;
use crate::settings::FeedSettings;
use crate::store::{self, erasure};
use crate::timeline::Timelines;

pub struct FeedBuilder {
    pool: PgPool,
    timelines: Timelines,
    ranked: RankedFeeds,
    hub: FeedHub,
    settings: FeedSettings,
}

impl FeedBuilder {
    pub fn new(
        pool: PgPool,
        timelines: Timelines,
        ranked: RankedFeeds,
        hub: FeedHub,
        settings: FeedSettings,
    ) -> Self {
        Self {
            pool,
            timelines,
            ranked,
            hub,
            settings,
        }
    }

    async fn post_created(&self, post: Uuid) -> anyhow::Result<()> {
        let Some(fan_out) = store::fan_out(
            &self.pool,
            post,
            self.settings.fan_out_limit,
            self.settings.inactive_days,
        )
        .await?
        else {
            return Ok(());
        };
        let mut timelines = vec![fan_out.author];
        if !fan_out.above_limit {
            timelines.extend(&fan_out.followers);
        }
        self.timelines.add_if_present(&timelines, &[post]).await?;
        let update = FeedUpdate {
            post_id: post,
            author_id: fan_out.author,
        };
        self.hub.publish_to_many(&fan_out.followers, update).await;
        Ok(())
    }

    /// `author`'s recent posts into `viewer`'s timeline, if allowed now.
    async fn backfill(&self, viewer: Uuid, author: Uuid) -> anyhow::Result<()> {
        let posts = store::posts_to_backfill(
            &self.pool,
            viewer,
            author,
            self.settings.fan_out_limit,
            self.timelines.cap() as i64,
        )
        .await?;
        if !posts.is_empty() {
            self.timelines.add_if_present(&[viewer], &posts).await?;
        }
        Ok(())
    }

    /// A deleted account's posts out of its followers' timelines, and its own
    /// timeline and FOR_YOU snapshots dropped; then its `erasures` row goes (a
    /// redelivery finds none).
    async fn erased(&self, user: Uuid) -> anyhow::Result<()> {
        let Some(pending) = erasure::pending_erasure(&self.pool, user).await? else {
            return Ok(());
        };
        self.timelines
            .remove(&pending.followers, &pending.posts)
            .await?;
        self.timelines.drop_timeline(user).await?;
        self.ranked.drop_viewer(user).await?;
        erasure::erasure_done(&self.pool, user).await?;
        Ok(())
    }

    /// `author`'s posts out of `viewer`'s timeline, unless allowed again now.
    async fn prune(&self, viewer: Uuid, author: Uuid) -> anyhow::Result<()> {
        if store::may_see(&self.pool, viewer, author).await? {
            return Ok(());
        }
        let members = self.timelines.members(viewer).await?;
        if members.is_empty() {
            return Ok(());
        }
        let theirs = store::posts_by_authors_among(&self.pool, &members, &[author]).await?;
        self.timelines.remove(&[viewer], &theirs).await?;
        Ok(())
    }
}

impl EventHandler for FeedBuilder {
    fn name(&self) -> &'static str {
        "feed.timelines"
    }

    fn topics(&self) -> Vec<String> {
        ["content", "social", "identity"]
            .into_iter()
            .map(topic_of)
            .collect()
    }

    async fn apply(&self, tx: &mut PgConnection, event: &Event) -> Result<bool, sqlx::Error> {
        match event {
            Event::PostCreated(e) => {
                store::record_post(tx, e.post_id, e.author_id, e.created_at).await?
            }
            Event::PostDeleted(e) => store::tombstone_post(tx, e.post_id, e.author_id).await?,
            Event::Followed(e) => store::add_follow(tx, e.follower_id, e.followee_id).await?,
            Event::Unfollowed(e) => store::remove_follow(tx, e.follower_id, e.followee_id).await?,
            Event::Blocked(e) => store::add_block(tx, e.blocker_id, e.blocked_id).await?,
            Event::Unblocked(e) => store::remove_block(tx, e.blocker_id, e.blocked_id).await?,
            Event::Muted(e) => store::add_mute(tx, e.muter_id, e.muted_id).await?,
            Event::Unmuted(e) => store::remove_mute(tx, e.muter_id, e.muted_id).await?,
            Event::UserDeleted(e) => erasure::erase_user(tx, e.user_id).await?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    async fn external_effects(&self, event: &Event) -> anyhow::Result<()> {
        match event {
            Event::PostCreated(e) => self.post_created(e.post_id).await,
            Event::PostDeleted(e) => {
                let mut users = store::followers(&self.pool, e.author_id).await?;
                users.push(e.author_id);
                Ok(self.timelines.remove(&users, &[e.post_id]).await?)
            }
            Event::Followed(e) => self.backfill(e.follower_id, e.followee_id).await,
            Event::Unmuted(e) => self.backfill(e.muter_id, e.muted_id).await,
            Event::Unfollowed(e) => self.prune(e.follower_id, e.followee_id).await,
            Event::Muted(e) => self.prune(e.muter_id, e.muted_id).await,
            Event::Blocked(e) => {
                self.prune(e.blocker_id, e.blocked_id).await?;
                self.prune(e.blocked_id, e.blocker_id).await
            }
            Event::UserDeleted(e) => self.erased(e.user_id).await,
            _ => Ok(()),
        }
    }
}
