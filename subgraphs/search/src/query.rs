//! One search: candidates from the engine, ranked by the rules users expect,
//! filtered by the owners as they are now (social: blocks either way with the
//! viewer; content: the post is served), with highlights.
//!
//! Ranking, first difference wins: an exact username; a username starting with
//! the query; more query words matched; fewer typos; the engine's score; the
//! newer post.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

use nova_core::db::Db;
use nova_core::internal::{blocked_either_way, served_posts, InternalClient};
use uuid::Uuid;

use crate::engine::{Document, Kinds, SearchEngine};
use crate::index::TantivyEngine;
use crate::store;
use crate::text::{match_text, snippet, words_with_offsets, QueryWords, TextMatch};

/// Candidates the engine hands over for ranking and filtering.
const CANDIDATES: usize = 200;
/// Candidates checked against blocks and content at least at a time.
const MIN_CHECKED: usize = 10;
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
    /// The owner of blocks, asked at each search: a block hides the other's
    /// documents from the moment `blockUser` returns, not when its event
    /// arrives.
    pub social: InternalClient,
}

struct Ranked {
    exact: bool,
    username_prefix: bool,
    matched: TextMatch,
    score: f32,
    newest: i64,
    author: Uuid,
    document: Document,
}

/// What a page lists before highlights are made: a document or a hashtag.
enum Entry {
    Document(Ranked),
    Hashtag { name: String, post_count: i64 },
}

/// The fields of a document a query is matched against, in highlight order.
fn text_fields(document: &Document) -> Vec<String> {
    match document {
        Document::User {
            username,
            display_name,
            bio,
            ..
        } => vec![
            username.clone(),
            display_name.clone().unwrap_or_default(),
            bio.clone(),
        ],
        Document::Post { body, hashtags, .. } => {
            let tags = hashtags
                .iter()
                .map(|t| format!("#{t}"))
                .collect::<Vec<_>>()
                .join(" ");
            vec![body.clone(), tags]
        }
    }
}

fn rank(query: &QueryWords, document: Document, score: f32) -> Ranked {
    let (matched, _) = match_text(query, &text_fields(&document).join("\n"));
    let joined: String = query.words.concat();
    let (exact, username_prefix, newest, author) = match &document {
        Document::User { id, username, .. } => {
            let folded: String = words_with_offsets(username)
                .into_iter()
                .map(|(w, _)| w)
                .collect();
            (folded == joined, folded.starts_with(&joined), 0, *id)
        }
        Document::Post {
            author_id,
            created_at,
            ..
        } => (false, false, created_at.timestamp_millis(), *author_id),
    };
    Ranked {
        exact,
        username_prefix,
        matched,
        score,
        newest,
        author,
        document,
    }
}

/// The hit a page shows: the highlight of the first field that matched.
fn hit(query: &QueryWords, entry: Entry) -> Hit {
    let document = match entry {
        Entry::Hashtag { name, post_count } => return Hit::Hashtag { name, post_count },
        Entry::Document(ranked) => ranked.document,
    };
    let highlight = text_fields(&document).iter().find_map(|field| {
        let (_, ranges) = match_text(query, field);
        snippet(field, &ranges)
    });
    match document {
        Document::User { id, .. } => Hit::User { id, highlight },
        Document::Post { id, .. } => Hit::Post { id, highlight },
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
    /// Hits for `text` as `viewer` may see them, best first: `take` of them
    /// from position `skip`. Only as many candidates as the page needs are
    /// checked against blocks and content and highlighted: the rest cost
    /// nothing.
    pub async fn search(
        &self,
        viewer: Option<Uuid>,
        text: &str,
        wanted: Wanted,
        skip: usize,
        take: usize,
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
        // Hashtags only add entries, so the page's end is reached with at most
        // this many documents.
        let documents = self.visible(viewer, ranked, skip + take).await?;
        let first_is_user = matches!(
            documents.first(),
            Some(Ranked {
                document: Document::User { .. },
                ..
            })
        );
        let mut entries: Vec<Entry> = documents.into_iter().map(Entry::Document).collect();
        if wanted.hashtags {
            if let [word] = query.words.as_slice() {
                let tags = self.hashtags_like(&query, word).await?;
                // After an exact or prefix user, hashtags come before the rest.
                let at = usize::from(first_is_user);
                for (offset, (name, post_count)) in tags.into_iter().enumerate() {
                    let position = (at + offset).min(entries.len());
                    entries.insert(position, Entry::Hashtag { name, post_count });
                }
            }
        }
        Ok(entries
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|entry| hit(&query, entry))
            .collect())
    }

    /// The first `needed` of `ranked` the viewer may see: none by or about an
    /// account blocked either way, no post content does not serve now. Checked
    /// a chunk at a time, so a first page asks about a few dozen ids, not all.
    async fn visible(
        &self,
        viewer: Option<Uuid>,
        ranked: Vec<Ranked>,
        needed: usize,
    ) -> anyhow::Result<Vec<Ranked>> {
        let needed = needed.min(ranked.len());
        let mut visible = Vec::with_capacity(needed);
        let mut rest = ranked.into_iter();
        while visible.len() < needed {
            let chunk: Vec<Ranked> = rest
                .by_ref()
                .take(((needed - visible.len()) * 2).max(MIN_CHECKED))
                .collect();
            if chunk.is_empty() {
                break;
            }
            let people: Vec<Uuid> = chunk.iter().map(|r| r.author).collect();
            let posts: Vec<Uuid> = chunk
                .iter()
                .filter_map(|r| match r.document {
                    Document::Post { id, .. } => Some(id),
                    Document::User { .. } => None,
                })
                .collect();
            let (blocked, served) = tokio::try_join!(
                async {
                    match viewer {
                        Some(viewer) => {
                            Ok(blocked_either_way(&self.social, viewer, &people).await?)
                        }
                        None => anyhow::Ok(HashSet::new()),
                    }
                },
                async { anyhow::Ok(served_posts(&self.content, &posts).await?) },
            )?;
            visible.extend(chunk.into_iter().filter(|r| {
                !blocked.contains(&r.author)
                    && match r.document {
                        Document::Post { id, .. } => served.contains(&id),
                        Document::User { .. } => true,
                    }
            }));
        }
        visible.truncate(needed);
        Ok(visible)
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
                blocked_either_way(&self.social, viewer, &authors).await?
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
