//! search's `/internal/` routes (see `nova_core::internal`).
//!
//! - `POST /internal/reindex` → `{ "documents": n }`: build a fresh index from
//!   search's tables and swap it in while queries go on (`cargo xtask search
//!   reindex` calls it).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use nova_core::internal::{failed, Refusal};
use serde::{Deserialize, Serialize};

use crate::indexing::IndexSync;

#[derive(Deserialize, Serialize)]
pub struct Reindexed {
    pub documents: usize,
}

async fn reindex(State(index): State<Arc<IndexSync>>) -> Result<Json<Reindexed>, Refusal> {
    let documents = index.rebuild().await.map_err(failed)?;
    tracing::info!(documents, "search index rebuilt and swapped in");
    Ok(Json(Reindexed { documents }))
}

/// The routes, protected by the router secret.
pub fn routes(index: Arc<IndexSync>, router_secret: &str) -> axum::Router {
    let routes = axum::Router::new()
        .route("/internal/reindex", post(reindex))
        .with_state(index);
    nova_core::internal::protected(routes, router_secret)
}
