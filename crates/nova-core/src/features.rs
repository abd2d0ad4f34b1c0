//! Ranking features in Redis: analytics writes them from ClickHouse aggregates
//! (`nova_analytics::features`), the feed reads them to rank FOR_YOU
//! (`nova_feed::ranking`). One definition of the keys and values for both.
//!
//! - `nova:features:engagement`: a hash, post id → `"<views> <likes> <comments>"`,
//!   all-time counts of posts published in the last `ENGAGEMENT_WINDOW_DAYS`
//!   (likes and comments net of those taken back or taken down).
//! - `nova:features:affinity:<viewer>`: a hash, author id → how many of the
//!   author's posts the viewer liked or commented on (net) in the last
//!   `AFFINITY_WINDOW_DAYS`; absent when none.

use uuid::Uuid;

pub const ENGAGEMENT_KEY: &str = "nova:features:engagement";
/// Which posts get an engagement feature: those published this recently.
pub const ENGAGEMENT_WINDOW_DAYS: i64 = 7;
/// Which interactions make affinity: those this recent.
pub const AFFINITY_WINDOW_DAYS: i64 = 30;

pub fn affinity_key(viewer: Uuid) -> String {
    format!("nova:features:affinity:{viewer}")
}

/// A post's counts, as the engagement hash keeps them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PostEngagement {
    pub views: i64,
    pub likes: i64,
    pub comments: i64,
}

impl PostEngagement {
    pub fn encode(&self) -> String {
        format!("{} {} {}", self.views, self.likes, self.comments)
    }

    pub fn decode(value: &str) -> Option<Self> {
        let mut parts = value.split(' ').map(str::parse::<i64>);
        let engagement = Self {
            views: parts.next()?.ok()?,
            likes: parts.next()?.ok()?,
            comments: parts.next()?.ok()?,
        };
        parts.next().is_none().then_some(engagement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engagement_round_trips_and_garbage_is_none() {
        let engagement = PostEngagement {
            views: 12,
            likes: 3,
            comments: -1,
        };
        assert_eq!(
            PostEngagement::decode(&engagement.encode()),
            Some(engagement)
        );
        assert_eq!(PostEngagement::decode("1 2"), None);
        assert_eq!(PostEngagement::decode("1 2 3 4"), None);
        assert_eq!(PostEngagement::decode("a b c"), None);
    }
}
