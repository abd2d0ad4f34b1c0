//! Purging deleted documents: tantivy marks a deleted document and keeps its
//! terms in its segment until that segment is merged. After an account's
//! erasure the segments holding deleted documents are merged at once, so
//! nothing of the account stays in the index files (docs/deletion.md).

use tantivy::index::SegmentId;

use super::TantivyEngine;

impl TantivyEngine {
    /// Merge every segment that holds deleted documents, leaving none, and
    /// remove the old files. Returns how many deleted documents went.
    pub fn purge_deleted(&self) -> anyhow::Result<u32> {
        let serving = self.serving.read().expect("never poisoned");
        let mut writer = serving.writer.lock().expect("never poisoned");
        let metas = writer.index().searchable_segment_metas()?;
        let with_deletes: Vec<SegmentId> = metas
            .iter()
            .filter(|meta| meta.has_deletes())
            .map(|meta| meta.id())
            .collect();
        if with_deletes.is_empty() {
            return Ok(0);
        }
        let purged = metas.iter().map(|meta| meta.num_deleted_docs()).sum();
        writer.merge(&with_deletes).wait()?;
        writer.garbage_collect_files().wait()?;
        serving.reader.reload()?;
        Ok(purged)
    }
}
