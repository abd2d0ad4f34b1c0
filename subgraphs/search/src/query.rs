//! One search: candidates from the engine, ranked by the rules users expect,
//! filtered for the viewer (blocks either way) and by the owner (content serves
//! the post now), with highlights.
//!
//! Ranking, first difference wins: an exact username; a username starting with
//! the query; more query words matched; fewer typos; the engine's score; the
//! newer post.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

use nova_core::db::Db;
use nova_core::internal::{served_posts, InternalClient};
use uuid::Uuid;

use crate::engine::{Document, Kinds, SearchEngine};
use crate::index::TantivyEngine;
use crate::store;
use crate::text::{match_text, snippet, words_with_offsets, QueryWords, TextMatch};

/// Candidates the engine hands over for ranking and filtering.
const CANDIDATES: usize = 200;
/// Hashtags a search shows at most.
const HASHTAGS: usize = 5;
/// Hashtags sharing a query's first letter that are checked for a match.
const HASHTAG_CANDIDATES: i64 = 2_000;

#[derive(Clone, Debug)]
pub enum Hit {
    User { id: Uuid, highlight: Option<String> },
    Post { id: Uuid, highlight: Option<String> },
    Hashtag { name: String, post_count: i64 },
}

/// What a search wants besides the text.
#[derive(Clone, Copy, Debug)]
pub struct Wanted {
    pub kinds: Kinds,
    pub hashtags: bool,
}

#[derive(Clone)]
pub struct Searcher {
    pub engine: Arc<TantivyEngine>,
    pub db: Db,
    pub content: InternalClient,
}

struct Ranked {
    exact: bool,
    username_prefix: bool,
    matched: TextMatch,
    score: f32,
    newest: i64,
    hit: Hit,
    author: Uuid,
}

/// How the whole document matches (for ranking), and the highlight of the
/// first of its fields that matched.
fn match_fields(query: &QueryWords, fields: &[&str]) -> (TextMatch, Option<String>) {
    let (matched, _) = match_text(query, &fields.join("\n"));
    let highlight = fields.iter().find_map(|field| {
        let (_, ranges) = match_text(query, field);
        snippet(field, &ranges)
    });
    (matched, highlight)
}

fn rank(query: &QueryWords, document: Document, score: f32) -> Ranked {
    match document {
        Document::User {
            id,
            username,
            display_name,
            bio,
        } => {
            let folded = crate::text::words_with_offsets(&username)
                .into_iter()
                .map(|(w, _)| w)
                .collect::<String>();
            let joined: String = query.words.concat();
            let display_name = display_name.unwrap_or_default();
            let (matched, highlight) = match_fields(query, &[&username, &display_name, &bio]);
            Ranked {
                exact: folded == joined,
                username_prefix: folded.starts_with(&joined),
                matched,
                score,
                newest: 0,
                hit: Hit::User { id, highlight },
                author: id,
            }
        }
        Document::Post {
            id,
            author_id,
            body,
            hashtags,
            created_at,
        } => {
            let tags: String = hashtags
                .iter()
                .map(|t| format!("#{t}"))
                .collect::<Vec<_>>()
                .join(" ");
            let (matched, highlight) = match_fields(query, &[&body, &tags]);
            Ranked {
                exact: false,
                username_prefix: false,
                matched,
                score,
                newest: created_at.timestamp_millis(),
                hit: Hit::Post { id, highlight },
                author: author_id,
            }
        }
    }
}

fn order(a: &Ranked, b: &Ranked) -> Ordering {
    b.exact
        .cmp(&a.exact)
        .then(b.username_prefix.cmp(&a.username_prefix))
        .then(b.matched.words_matched.cmp(&a.matched.words_matched))
        .then(a.matched.typos.cmp(&b.matched.typos))
        .then(b.score.total_cmp(&a.score))
        .then(b.newest.cmp(&a.newest))
}

impl Searcher {
    /// Every hit for `text`, best first, as `viewer` may see them.
    pub async fn search(
        &self,
        viewer: Option<Uuid>,
        text: &str,
        wanted: Wanted,
    ) -> anyhow::Result<Vec<Hit>> {
        let query = QueryWords::parse(text);
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let engine = self.engine.clone();
        let words = query.clone();
        let candidates =
            tokio::task::spawn_blocking(move || engine.search(&words, wanted.kinds, CANDIDATES))
                .await??;
        let mut ranked: Vec<Ranked> = candidates
            .into_iter()
            .map(|c| rank(&query, c.document, c.score))
            .collect();
        ranked.sort_by(order);

        let blocked = match viewer {
            Some(viewer) => {
                let people: Vec<Uuid> = ranked.iter().map(|r| r.author).collect();
                store::blocked_either_way(&self.db, viewer, &people).await?
            }
            None => HashSet::new(),
        };
        ranked.retain(|r| !blocked.contains(&r.author));
        let posts: Vec<Uuid> = ranked
            .iter()
            .filter_map(|r| match r.hit {
                Hit::Post { id, .. } => Some(id),
                _ => None,
            })
            .collect();
        let served = served_posts(&self.content, &posts).await?;
        let mut hits: Vec<Hit> = ranked
            .into_iter()
            .filter(|r| match r.hit {
                Hit::Post { id, .. } => served.contains(&id),
                _ => true,
            })
            .map(|r| r.hit)
            .collect();
        if wanted.hashtags {
            if let [word] = query.words.as_slice() {
                let tags = self.hashtags_like(&query, word).await?;
                let at = usize::from(matches!(hits.first(), Some(Hit::User { .. })));
                for (offset, (name, post_count)) in tags.into_iter().enumerate() {
                    hits.insert(
                        (at + offset).min(hits.len()),
                        Hit::Hashtag { name, post_count },
                    );
                }
            }
        }
        Ok(hits)
    }

    /// Hashtags the one query word matches by the same rules as documents
    /// (folded, typos by length, as a prefix): fewest typos first, then most
    /// used. Candidates share the word's first letter (a typo there is not
    /// forgiven), the most used first.
    async fn hashtags_like(
        &self,
        query: &QueryWords,
        word: &str,
    ) -> anyhow::Result<Vec<(String, i64)>> {
        let initial: String = word.chars().take(1).collect();
        let candidates = store::hashtags_starting(&self.db, &initial, HASHTAG_CANDIDATES).await?;
        let mut matched: Vec<(u8, String, i64)> = candidates
            .into_iter()
            .filter_map(|(tag, count)| {
                let folded: String = words_with_offsets(&tag)
                    .into_iter()
                    .map(|(w, _)| w)
                    .collect();
                query.typos(0, &folded).map(|typos| (typos, tag, count))
            })
            .collect();
        matched.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)));
        Ok(matched
            .into_iter()
            .take(HASHTAGS)
            .map(|(_, tag, count)| (tag, count))
            .collect())
    }

    /// A page of a hashtag's posts the viewer may see: post ids, newest first.
    pub async fn hashtag_posts(
        &self,
        viewer: Option<Uuid>,
        tag: &str,
        before: Option<Uuid>,
        limit: i64,
    ) -> anyhow::Result<Vec<Uuid>> {
        let rows = store::hashtag_posts(&self.db, tag, before, limit).await?;
        let blocked = match viewer {
            Some(viewer) => {
                let authors: Vec<Uuid> = rows.iter().map(|(_, author)| *author).collect();
                store::blocked_either_way(&self.db, viewer, &authors).await?
            }
            None => HashSet::new(),
        };
        let ids: Vec<Uuid> = rows
            .iter()
            .filter(|(_, a)| !blocked.contains(a))
            .map(|(p, _)| *p)
            .collect();
        let served = served_posts(&self.content, &ids).await?;
        Ok(ids.into_iter().filter(|id| served.contains(id)).collect())
    }
}
