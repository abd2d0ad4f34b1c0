//! The embedded tantivy engine. The index lives in a generation folder under
//! `SEARCH_INDEX_PATH` (`gen-<id>/`), named by the `current` file beside it;
//! `rebuild` writes a new generation and swaps `current` atomically (write and
//! rename), so queries never see a half-built index and a crash mid-rebuild
//! leaves the old one serving. An index that cannot be opened at start is
//! reported (`open` fails) and the caller rebuilds it from Postgres.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use uuid::Uuid;

use crate::engine::{Candidate, Document, Kinds, SearchEngine};
use crate::text::{analyzer, typo_budget, QueryWords};

const ANALYZER: &str = "nova_folded";
const WRITER_MEMORY: usize = 50_000_000;
const DOC_STORE_CACHE_BLOCKS: usize = 2_000;

#[derive(Clone, Copy)]
struct Fields {
    kind: Field,
    id: Field,
    author: Field,
    username: Field,
    username_exact: Field,
    display_name: Field,
    bio: Field,
    body: Field,
    hashtags: Field,
    created: Field,
    /// Every text field of the document in one: typo and prefix matching runs
    /// one automaton per query word over it instead of one per field.
    all: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        kind: builder.add_text_field("kind", STRING | STORED),
        id: builder.add_text_field("id", STRING | STORED),
        author: builder.add_text_field("author", STRING | STORED),
        username: builder.add_text_field("username", text.clone()),
        username_exact: builder.add_text_field("username_exact", STRING),
        display_name: builder.add_text_field("display_name", text.clone()),
        bio: builder.add_text_field("bio", text.clone()),
        body: builder.add_text_field("body", text.clone()),
        hashtags: builder.add_text_field("hashtags", text),
        created: builder.add_i64_field("created", INDEXED | STORED | FAST),
        all: builder.add_text_field(
            "all",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(ANALYZER)
                    .set_index_option(IndexRecordOption::WithFreqs),
            ),
        ),
    };
    (builder.build(), fields)
}

/// One generation: its index, reader and writer.
struct Generation {
    folder: PathBuf,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
}

impl Generation {
    fn open(folder: PathBuf, create: bool) -> anyhow::Result<Self> {
        let (schema, _) = schema();
        let index = if create {
            std::fs::create_dir_all(&folder)?;
            Index::create_in_dir(&folder, schema)?
        } else {
            let index = Index::open_in_dir(&folder)?;
            // An index written by an older release is rebuilt, never misread.
            anyhow::ensure!(
                index.schema() == schema,
                "the index was written with another schema"
            );
            index
        };
        index.tokenizers().register(ANALYZER, analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOC_STORE_CACHE_BLOCKS)
            .try_into()?;
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        // Reading every segment proves the files are whole.
        reader
            .searcher()
            .segment_readers()
            .iter()
            .try_for_each(|s| s.get_store_reader(0).map(|_| ()))?;
        Ok(Self {
            folder,
            reader,
            writer: Mutex::new(writer),
        })
    }
}

pub struct TantivyEngine {
    root: PathBuf,
    fields: Fields,
    serving: RwLock<Generation>,
}

fn current_file(root: &Path) -> PathBuf {
    root.join("current")
}

impl TantivyEngine {
    /// Open the serving generation under `root`, or fail (missing, corrupt).
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        let name = std::fs::read_to_string(current_file(root))
            .with_context(|| format!("no search index under {}", root.display()))?;
        let generation = Generation::open(root.join(name.trim()), false).with_context(|| {
            format!("the search index under {} cannot be opened", root.display())
        })?;
        Ok(Self {
            root: root.to_path_buf(),
            fields: schema().1,
            serving: RwLock::new(generation),
        })
    }

    /// A new, empty index under `root`; whatever was there (an unreadable
    /// index) is removed first.
    pub fn create(root: &Path) -> anyhow::Result<Self> {
        if root.exists() {
            std::fs::remove_dir_all(root)?;
        }
        std::fs::create_dir_all(root)?;
        let (folder, name) = new_generation_folder(root);
        let generation = Generation::open(folder, true)?;
        write_current(root, &name)?;
        Ok(Self {
            root: root.to_path_buf(),
            fields: schema().1,
            serving: RwLock::new(generation),
        })
    }

    fn to_tantivy(&self, document: &Document) -> TantivyDocument {
        let f = self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, document.id().to_string());
        match document {
            Document::User {
                username,
                display_name,
                bio,
                ..
            } => {
                doc.add_text(f.kind, "user");
                doc.add_text(f.username, username);
                doc.add_text(f.username_exact, username.to_lowercase());
                if let Some(name) = display_name {
                    doc.add_text(f.display_name, name);
                }
                doc.add_text(f.bio, bio);
                for text in [username, bio].into_iter().chain(display_name) {
                    doc.add_text(f.all, text);
                }
            }
            Document::Post {
                author_id,
                body,
                hashtags,
                created_at,
                ..
            } => {
                doc.add_text(f.kind, "post");
                doc.add_text(f.author, author_id.to_string());
                doc.add_text(f.body, body);
                doc.add_text(f.hashtags, hashtags.join(" "));
                doc.add_i64(f.created, created_at.timestamp_millis());
                doc.add_text(f.all, body);
                doc.add_text(f.all, hashtags.join(" "));
            }
        }
        doc
    }

    fn document_of(&self, doc: &TantivyDocument) -> Option<Document> {
        let f = self.fields;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let id = Uuid::parse_str(&text(f.id)?).ok()?;
        match text(f.kind)?.as_str() {
            "user" => Some(Document::User {
                id,
                username: text(f.username)?,
                display_name: text(f.display_name),
                bio: text(f.bio).unwrap_or_default(),
            }),
            _ => Some(Document::Post {
                id,
                author_id: Uuid::parse_str(&text(f.author)?).ok()?,
                body: text(f.body).unwrap_or_default(),
                hashtags: text(f.hashtags)
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
                created_at: doc
                    .get_first(f.created)
                    .and_then(|v| v.as_i64())
                    .and_then(DateTime::<Utc>::from_timestamp_millis)?,
            }),
        }
    }

    /// Query word `i` by the typo rules: one automaton over `all` (the last
    /// word as a prefix, which also matches it whole), and the exact word in
    /// each field, boosted by field, so exact matches are scored (BM25) and
    /// names outrank bodies.
    fn word_query(&self, query: &QueryWords, i: usize) -> Box<dyn Query> {
        let f = self.fields;
        let word = &query.words[i];
        let budget = typo_budget(word);
        let anywhere = Term::from_field_text(f.all, word);
        let typed: Box<dyn Query> = if query.is_last(i) {
            Box::new(FuzzyTermQuery::new_prefix(anywhere, budget, true))
        } else if budget == 0 {
            Box::new(TermQuery::new(anywhere, IndexRecordOption::Basic))
        } else {
            Box::new(FuzzyTermQuery::new(anywhere, budget, true))
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Should, typed)];
        for (field, boost) in [
            (f.username, 3.0),
            (f.display_name, 2.0),
            (f.hashtags, 1.5),
            (f.body, 1.0),
            (f.bio, 0.5),
        ] {
            let exact = TermQuery::new(
                Term::from_field_text(field, word),
                IndexRecordOption::WithFreqs,
            );
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(exact), boost)),
            ));
        }
        Box::new(BooleanQuery::new(clauses))
    }
}

fn new_generation_folder(root: &Path) -> (PathBuf, String) {
    let name = format!("gen-{}", Uuid::now_v7().simple());
    (root.join(&name), name)
}

fn write_current(root: &Path, name: &str) -> anyhow::Result<()> {
    let temporary = root.join("current.tmp");
    std::fs::write(&temporary, name)?;
    std::fs::rename(&temporary, current_file(root))?;
    Ok(())
}

impl SearchEngine for TantivyEngine {
    fn write(&self, upserts: &[Document], deletes: &[Uuid]) -> anyhow::Result<()> {
        let serving = self.serving.read().expect("never poisoned");
        let mut writer = serving.writer.lock().expect("never poisoned");
        let ids = upserts
            .iter()
            .map(Document::id)
            .chain(deletes.iter().copied());
        for id in ids {
            writer.delete_term(Term::from_field_text(self.fields.id, &id.to_string()));
        }
        let added: tantivy::Result<()> = upserts
            .iter()
            .try_for_each(|document| writer.add_document(self.to_tantivy(document)).map(|_| ()));
        if let Err(error) = added.and_then(|()| writer.commit().map(|_| ())) {
            // Leave nothing half-written for the next commit to pick up.
            writer.rollback()?;
            return Err(error.into());
        }
        serving.reader.reload()?;
        Ok(())
    }

    fn search(
        &self,
        query: &QueryWords,
        kinds: Kinds,
        limit: usize,
    ) -> anyhow::Result<Vec<Candidate>> {
        if query.is_empty() || (!kinds.users && !kinds.posts) {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = (0..query.words.len())
            .map(|i| (Occur::Must, self.word_query(query, i)))
            .collect();
        let mut kind_clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (wanted, kind) in [(kinds.users, "user"), (kinds.posts, "post")] {
            if wanted {
                let term = Term::from_field_text(f.kind, kind);
                kind_clauses.push((
                    Occur::Should,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                ));
            }
        }
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(kind_clauses))));
        if let [word] = query.words.as_slice() {
            let exact = TermQuery::new(
                Term::from_field_text(f.username_exact, word),
                IndexRecordOption::Basic,
            );
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(exact), 10.0)),
            ));
        }
        let serving = self.serving.read().expect("never poisoned");
        let searcher = serving.reader.searcher();
        let top = searcher.search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(limit).order_by_score(),
        )?;
        let mut candidates = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(document) = self.document_of(&doc) {
                candidates.push(Candidate { document, score });
            }
        }
        Ok(candidates)
    }

    fn rebuild(&self, documents: &mut dyn Iterator<Item = Document>) -> anyhow::Result<usize> {
        let (folder, name) = new_generation_folder(&self.root);
        let generation = Generation::open(folder, true)?;
        let mut count = 0;
        {
            let mut writer = generation.writer.lock().expect("never poisoned");
            for document in documents {
                writer.add_document(self.to_tantivy(&document))?;
                count += 1;
            }
            writer.commit()?;
        }
        generation.reader.reload()?;
        let old = {
            let mut serving = self.serving.write().expect("never poisoned");
            write_current(&self.root, &name)?;
            std::mem::replace(&mut *serving, generation)
        };
        let folder = old.folder.clone();
        drop(old);
        if let Err(error) = std::fs::remove_dir_all(&folder) {
            tracing::warn!(%error, folder = %folder.display(), "the old search index was not removed");
        }
        Ok(count)
    }

    fn count(&self) -> anyhow::Result<u64> {
        let serving = self.serving.read().expect("never poisoned");
        Ok(serving.reader.searcher().num_docs())
    }
}

#[path = "index_purge.rs"]
mod purge;

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
