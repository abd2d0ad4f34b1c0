//! One page of a home feed: candidates from the viewer's Redis timeline and,
//! merged in, the newest posts of followed accounts above the fan-out limit;
//! then the read-time checks — the feed's rule (`store::visible`) and the owner
//! (`content` serves the post now) — so a deleted or hidden post is left out of
//! the page, never returned as a null.
//!
//! The statements per page do not depend on its size: a reader touch, the merge,
//! the visibility check, and one call to content (more rounds only when most
//! candidates were filtered out).

use chrono::{Duration, Utc};
use nova_core::db::Db;
use nova_core::internal::{served_posts, InternalClient};
use uuid::Uuid;

use crate::ranked::RankedFeeds;
use crate::ranking;
use crate::settings::FeedSettings;
use crate::store;
use crate::timeline::Timelines;

/// Rounds of candidates a page tries before it returns what it has.
const MAX_ROUNDS: usize = 3;

/// What a page read needs.
#[derive(Clone)]
pub struct FeedReader {
    pub db: Db,
    pub timelines: Timelines,
    pub content: InternalClient,
    pub settings: FeedSettings,
    pub ranked: RankedFeeds,
}

/// One FOR_YOU page: its posts with their positions in the ranking.
pub struct RankedPage {
    pub ranking: Uuid,
    /// (position, post, author)
    pub posts: Vec<(usize, Uuid, Uuid)>,
    /// Whether the ranking holds more after the last position returned.
    pub has_next: bool,
}

/// A FOR_YOU cursor that no longer leads anywhere.
#[derive(Debug)]
pub struct RankingExpired;

impl std::fmt::Display for RankingExpired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "this FOR_YOU ranking has expired; start again from the first page"
        )
    }
}

impl std::error::Error for RankingExpired {}

impl FeedReader {
    /// Up to `limit` posts for `viewer` older than `before`, newest first, each
    /// with its author.
    pub async fn page(
        &self,
        viewer: Uuid,
        before: Option<Uuid>,
        limit: usize,
    ) -> anyhow::Result<Vec<(Uuid, Uuid)>> {
        let last_read = store::touch_reader(&self.db, viewer).await?;
        let window = Duration::days(self.settings.inactive_days);
        // Fan-out skipped this viewer while inactive: what Redis holds is stale.
        if last_read.is_none_or(|at| at < Utc::now() - window) {
            self.rebuild(viewer).await?;
        }
        let mut page = Vec::with_capacity(limit);
        let mut before = before;
        for _ in 0..MAX_ROUNDS {
            let wanted = limit - page.len();
            // Room for candidates the checks remove.
            let fetch = wanted * 2 + 4;
            let (candidates, exhausted) = self.candidates(viewer, before, fetch).await?;
            let Some(oldest) = candidates.last().copied() else {
                break;
            };
            let visible = store::visible(&self.db, viewer, &candidates).await?;
            let checked: Vec<(Uuid, Uuid)> = candidates
                .into_iter()
                .filter_map(|id| Some((id, *visible.get(&id)?)))
                .collect();
            let ids: Vec<Uuid> = checked.iter().map(|(id, _)| *id).collect();
            let served = served_posts(&self.content, &ids).await?;
            page.extend(
                checked
                    .into_iter()
                    .filter(|(id, _)| served.contains(id))
                    .take(wanted),
            );
            if page.len() >= limit || exhausted {
                break;
            }
            before = Some(oldest);
        }
        Ok(page)
    }

    /// A FOR_YOU page: the first ranks the newest `ranking::CANDIDATES` visible
    /// posts and keeps the order (or shows the viewer's ranking made less than
    /// `FEED_FOR_YOU_REUSE_SECONDS` ago again); a later one (`after`: ranking,
    /// position) reads on from there, leaving out what the viewer may no
    /// longer see.
    pub async fn for_you(
        &self,
        viewer: Uuid,
        after: Option<(Uuid, usize)>,
        limit: usize,
    ) -> anyhow::Result<RankedPage> {
        let (ranking, start) = match after {
            Some((ranking, position)) => (ranking, position + 1),
            None => {
                let reuse = self.settings.for_you_reuse_seconds;
                let recent = match reuse {
                    0 => None,
                    _ => self.ranked.recent(viewer).await?,
                };
                if let Some(recent) = recent {
                    match self.read_ranking(viewer, recent, 0, limit).await {
                        Err(error) if error.is::<RankingExpired>() => {}
                        page => return page,
                    }
                }
                let candidates = self.page(viewer, None, ranking::CANDIDATES).await?;
                let features = self.ranked.features(viewer, &candidates).await?;
                let ranked = ranking::rank(candidates, &features, Utc::now());
                let id = Uuid::new_v4();
                self.ranked.save(viewer, id, &ranked, reuse).await?;
                let has_next = ranked.len() > limit;
                let posts = ranked
                    .into_iter()
                    .take(limit)
                    .enumerate()
                    .map(|(i, (post, author))| (i, post, author))
                    .collect();
                return Ok(RankedPage {
                    ranking: id,
                    posts,
                    has_next,
                });
            }
        };
        self.read_ranking(viewer, ranking, start, limit).await
    }

    /// Up to `limit` posts of `viewer`'s ranking from position `start` on that
    /// the viewer may still see.
    async fn read_ranking(
        &self,
        viewer: Uuid,
        ranking: Uuid,
        start: usize,
        limit: usize,
    ) -> anyhow::Result<RankedPage> {
        // `next`: the position of the first entry not looked at yet.
        let mut posts = Vec::with_capacity(limit);
        let mut next = start;
        let mut length = start;
        'rounds: for _ in 0..MAX_ROUNDS {
            let fetch = (limit - posts.len()) * 2 + 4;
            let Some((entries, total)) = self.ranked.slice(viewer, ranking, next, fetch).await?
            else {
                return Err(RankingExpired.into());
            };
            length = total;
            if entries.is_empty() {
                break;
            }
            let ids: Vec<Uuid> = entries.iter().map(|(post, _)| *post).collect();
            let visible = store::visible(&self.db, viewer, &ids).await?;
            let served = served_posts(&self.content, &ids).await?;
            let first = next;
            next += entries.len();
            for (offset, (post, author)) in entries.into_iter().enumerate() {
                if visible.contains_key(&post) && served.contains(&post) {
                    posts.push((first + offset, post, author));
                    if posts.len() == limit {
                        next = first + offset + 1;
                        break 'rounds;
                    }
                }
            }
        }
        Ok(RankedPage {
            ranking,
            has_next: next < length,
            posts,
        })
    }

    /// The newest `count` candidates older than `before`, and whether there are
    /// no more beyond them.
    async fn candidates(
        &self,
        viewer: Uuid,
        before: Option<Uuid>,
        count: usize,
    ) -> anyhow::Result<(Vec<Uuid>, bool)> {
        let cached = match self.timelines.page(viewer, before, count).await? {
            Some(ids) => ids,
            None => {
                self.rebuild(viewer).await?;
                self.timelines
                    .page(viewer, before, count)
                    .await?
                    .unwrap_or_default()
            }
        };
        let merged_in = store::posts_of_followed_above_limit(
            &self.db,
            viewer,
            self.settings.fan_out_limit,
            before,
            count as i64,
        )
        .await?;
        let exhausted = cached.len() < count && merged_in.len() < count;
        let mut all: Vec<Uuid> = cached.into_iter().chain(merged_in).collect();
        all.sort_unstable_by(|a, b| b.cmp(a));
        all.dedup();
        all.truncate(count);
        Ok((all, exhausted))
    }

    /// Rebuild `viewer`'s timeline from the feed's tables.
    async fn rebuild(&self, viewer: Uuid) -> anyhow::Result<()> {
        self.timelines.start_rebuild(viewer).await?;
        let posts = store::timeline_source(
            &self.db,
            viewer,
            self.settings.fan_out_limit,
            self.timelines.cap() as i64,
        )
        .await?;
        self.timelines.add_if_present(&[viewer], &posts).await?;
        Ok(())
    }
}
