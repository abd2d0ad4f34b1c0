//! The one seam between the search subgraph and its engine. Today the engine is
//! an embedded tantivy index (`index.rs`); a server engine (Meilisearch,
//! OpenSearch) would implement this trait once a test can run it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::text::QueryWords;

/// What is indexed: a user or a post, as search's own tables hold it.
#[derive(Clone, Debug, PartialEq)]
pub enum Document {
    User {
        id: Uuid,
        username: String,
        display_name: Option<String>,
        bio: String,
    },
    Post {
        id: Uuid,
        author_id: Uuid,
        body: String,
        hashtags: Vec<String>,
        created_at: DateTime<Utc>,
    },
}

impl Document {
    pub fn id(&self) -> Uuid {
        match self {
            Document::User { id, .. } | Document::Post { id, .. } => *id,
        }
    }
}

/// Which kinds a search looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kinds {
    pub users: bool,
    pub posts: bool,
}

/// A document the engine found, with its relevance score.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub document: Document,
    pub score: f32,
}

pub trait SearchEngine: Send + Sync + 'static {
    /// Add or replace `upserts` (by id) and remove `deletes` (absent ones are
    /// no-ops), durably, in one commit: once it returns, the changes survive a
    /// crash and queries see them.
    fn write(&self, upserts: &[Document], deletes: &[Uuid]) -> anyhow::Result<()>;
    /// Up to `limit` documents matching every word of `query` by the rules of
    /// `text`, most relevant first.
    fn search(
        &self,
        query: &QueryWords,
        kinds: Kinds,
        limit: usize,
    ) -> anyhow::Result<Vec<Candidate>>;
    /// Build a fresh index from `documents` beside the serving one and swap it
    /// in; queries are served from the old one until then.
    fn rebuild(&self, documents: &mut dyn Iterator<Item = Document>) -> anyhow::Result<usize>;
    /// Documents in the serving index.
    fn count(&self) -> anyhow::Result<u64>;
}
