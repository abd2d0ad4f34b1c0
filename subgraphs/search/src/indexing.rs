//! The index writer: drains this instance's `index_queue` into the index in
//! batches — one tantivy commit per batch, not per event — and rebuilds the
//! index from search's tables on demand.
//!
//! The queue is the durable half of every index write: the consumer queues a
//! document in its event's transaction, and a row leaves the queue only after
//! an index commit holds the document as the tables hold it. A crash anywhere
//! in between leaves the row, and the next pass redoes it.
//!
//! One lock orders the writer and a rebuild: a rebuild reads every document
//! and swaps in the new index while the writer waits, so what was queued during
//! the rebuild is written into the new index afterwards, never into the old
//! one that is about to be dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{Mutex, Notify};
use uuid::Uuid;

use crate::engine::SearchEngine;
use crate::index::TantivyEngine;
use crate::store;

/// Test hook: with `NOVA_FAULT_EXIT_BEFORE_INDEX_WRITE=1` the process exits when
/// it is about to write a batch into the index, as a crash after the events'
/// transactions but before the index write would. The
/// fault test uses it; nothing else sets it.
pub const FAULT_EXIT_BEFORE_INDEX_WRITE: &str = "NOVA_FAULT_EXIT_BEFORE_INDEX_WRITE";

/// Documents written per index commit at most.
const BATCH: i64 = 1_000;
/// A pass runs this often without a wake-up too (rows left by a failed pass, a
/// missed wake-up), so nothing waits longer than this.
const POLL: Duration = Duration::from_secs(1);

pub struct IndexSync {
    instance: String,
    pool: PgPool,
    engine: Arc<TantivyEngine>,
    wake: Notify,
    writing: Mutex<()>,
    exit_before_write: bool,
    /// An account was erased: once its deletes are written, purge them from
    /// the index files (`TantivyEngine::purge_deleted`).
    purge_requested: AtomicBool,
}

impl IndexSync {
    pub fn new(instance: &str, pool: PgPool, engine: Arc<TantivyEngine>) -> Arc<Self> {
        Arc::new(Self {
            instance: instance.to_string(),
            pool,
            engine,
            wake: Notify::new(),
            writing: Mutex::new(()),
            exit_before_write: nova_core::config::optional(FAULT_EXIT_BEFORE_INDEX_WRITE).is_some(),
            purge_requested: AtomicBool::new(false),
        })
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Something was queued: run a pass now. A wake-up while a pass runs is
    /// kept for the next one.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// An account's documents were queued for deletion (committed): purge
    /// them from the index files once they are written.
    pub fn request_purge(&self) {
        self.purge_requested.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// Drain the queue until the process ends.
    pub async fn run(self: Arc<Self>) {
        let mut delay = Duration::from_millis(100);
        loop {
            // Taken before the queue is read: a purge requested after an
            // erasure committed sees its deletes written first.
            let purge = self.purge_requested.swap(false, Ordering::SeqCst);
            match self.write_batch().await {
                // A full batch: more may be waiting.
                Ok(written) if written as i64 == BATCH => {
                    self.purge_requested.fetch_or(purge, Ordering::SeqCst);
                    continue;
                }
                Ok(_) => {
                    delay = Duration::from_millis(100);
                    if purge {
                        self.purge().await;
                    }
                    let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
                }
                Err(error) => {
                    self.purge_requested.fetch_or(purge, Ordering::SeqCst);
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "search index write failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn purge(&self) {
        let _writing = self.writing.lock().await;
        let engine = self.engine.clone();
        match tokio::task::spawn_blocking(move || engine.purge_deleted()).await {
            Ok(Ok(purged)) => tracing::info!(purged, "deleted documents purged from the index"),
            // Tried again at the next pass (within `POLL`).
            Ok(Err(error)) => {
                tracing::warn!(error = format!("{error:#}"), "index purge failed; retrying");
                self.purge_requested.store(true, Ordering::SeqCst);
            }
            Err(error) => {
                tracing::warn!(%error, "index purge failed; retrying");
                self.purge_requested.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Write one batch of queued documents into the index, commit it, then
    /// take those rows off the queue. Returns how many were written.
    async fn write_batch(&self) -> anyhow::Result<usize> {
        let _writing = self.writing.lock().await;
        let batch = store::queued(&self.pool, &self.instance, BATCH).await?;
        if batch.is_empty() {
            return Ok(0);
        }
        let mut upserts = Vec::new();
        let mut deletes: Vec<Uuid> = Vec::new();
        for queued in &batch {
            match &queued.document {
                Some(document) => upserts.push(document.clone()),
                None => deletes.push(queued.id),
            }
        }
        if self.exit_before_write {
            tracing::error!("fault injection: exiting before the index write");
            std::process::exit(88);
        }
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.write(&upserts, &deletes)).await??;
        store::dequeue(&self.pool, &self.instance, &batch).await?;
        Ok(batch.len())
    }

    /// Build a fresh index from search's tables and swap it in while queries
    /// go on. Returns the documents indexed.
    pub async fn rebuild(&self) -> anyhow::Result<usize> {
        let _writing = self.writing.lock().await;
        let documents = store::all_documents(&self.pool).await?;
        let engine = self.engine.clone();
        let count = tokio::task::spawn_blocking(move || engine.rebuild(&mut documents.into_iter()))
            .await??;
        self.wake();
        Ok(count)
    }
}
