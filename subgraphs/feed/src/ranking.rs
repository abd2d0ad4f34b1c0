//! FOR_YOU: the candidates LATEST would show (followed accounts' recent posts,
//! blocks and mutes applied, only posts content serves), re-ranked by the
//! features analytics keeps in Redis (`nova_core::features`):
//!
//! ```text
//! score = freshness × (1 + 2 × engagement) × (1 + ln(1 + affinity))
//! freshness  = 0.5 ^ (age in hours / 24)             (halves every day)
//! engagement = (likes + comments) / (views + 1)      (the post's, all time)
//! affinity   = likes + comments by the viewer on the author's posts (30 days)
//! ```
//!
//! A post without features has engagement 0; an author without affinity 0.
//! Age counts from the post id's UUIDv7 time to the moment the first page was
//! served. Highest score first, ties to the newer post (higher id): the same
//! state always gives the same order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nova_core::features::PostEngagement;
use uuid::Uuid;

/// How many candidates a ranking considers (the newest visible posts).
pub const CANDIDATES: usize = 200;

/// What the formula reads for one viewer's candidates.
#[derive(Debug, Default)]
pub struct Features {
    /// By post.
    pub engagement: HashMap<Uuid, PostEngagement>,
    /// By author.
    pub affinity: HashMap<Uuid, i64>,
}

/// When `post` was published, from its UUIDv7 id.
pub fn published_at(post: Uuid) -> Option<DateTime<Utc>> {
    let (seconds, nanos) = post.get_timestamp()?.to_unix();
    DateTime::from_timestamp(seconds as i64, nanos)
}

/// The formula above.
pub fn score(post: Uuid, author: Uuid, features: &Features, now: DateTime<Utc>) -> f64 {
    let age_hours = published_at(post)
        .map(|at| (now - at).num_milliseconds().max(0) as f64 / 3_600_000.0)
        .unwrap_or(0.0);
    let freshness = 0.5_f64.powf(age_hours / 24.0);
    let counts = features.engagement.get(&post).copied().unwrap_or_default();
    let engagement =
        (counts.likes + counts.comments).max(0) as f64 / (counts.views.max(0) + 1) as f64;
    let affinity = features.affinity.get(&author).copied().unwrap_or(0).max(0) as f64;
    freshness * (1.0 + 2.0 * engagement) * (1.0 + affinity.ln_1p())
}

/// `posts` (post, author) in FOR_YOU order.
pub fn rank(
    mut posts: Vec<(Uuid, Uuid)>,
    features: &Features,
    now: DateTime<Utc>,
) -> Vec<(Uuid, Uuid)> {
    posts.sort_by(|a, b| {
        let (score_a, score_b) = (
            score(a.0, a.1, features, now),
            score(b.0, b.1, features, now),
        );
        score_b.total_cmp(&score_a).then(b.0.cmp(&a.0))
    });
    posts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post_at(at: DateTime<Utc>) -> Uuid {
        let timestamp = uuid::Timestamp::from_unix(
            uuid::NoContext,
            at.timestamp() as u64,
            at.timestamp_subsec_nanos(),
        );
        Uuid::new_v7(timestamp)
    }

    #[test]
    fn the_formula_weighs_freshness_engagement_and_affinity() {
        let now = Utc::now();
        let (friend, stranger) = (Uuid::now_v7(), Uuid::now_v7());
        let fresh = post_at(now);
        let day_old = post_at(now - chrono::Duration::hours(24));
        let engaging = post_at(now - chrono::Duration::hours(24));
        let mut features = Features::default();
        features.engagement.insert(
            engaging,
            PostEngagement {
                views: 3,
                likes: 2,
                comments: 2,
            },
        );
        features.affinity.insert(friend, 3);
        // A day halves the score.
        let ratio =
            score(day_old, stranger, &features, now) / score(fresh, stranger, &features, now);
        assert!((ratio - 0.5).abs() < 1e-6, "{ratio}");
        // engagement (2 + 2) / (3 + 1) = 1: × 3.
        let engaged = score(engaging, stranger, &features, now);
        assert!((engaged - 1.5).abs() < 1e-6, "{engaged}");
        // affinity 3: × (1 + ln 4).
        let by_friend = score(fresh, friend, &features, now);
        assert!((by_friend - (1.0 + 4f64.ln())).abs() < 1e-6, "{by_friend}");
        let ranked = rank(
            vec![
                (day_old, stranger),
                (engaging, stranger),
                (fresh, friend),
                (fresh, stranger),
            ],
            &features,
            now,
        );
        // 1 + ln 4 ≈ 2.39, then 1.5, 1, 0.5.
        assert_eq!(
            ranked,
            [
                (fresh, friend),
                (engaging, stranger),
                (fresh, stranger),
                (day_old, stranger)
            ]
        );
    }
}
