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
use sqlx::PgPool;

use crate::backfill::rebuild_index;
use crate::index::TantivyEngine;

#[derive(Deserialize, Serialize)]
pub struct Reindexed {
    pub documents: usize,
}

#[derive(Clone)]
struct Reindex {
    pool: PgPool,
    engine: Arc<TantivyEngine>,
}

async fn reindex(State(state): State<Reindex>) -> Result<Json<Reindexed>, Refusal> {
    let documents = rebuild_index(&state.pool, &state.engine)
        .await
        .map_err(failed)?;
    tracing::info!(documents, "search index rebuilt and swapped in");
    Ok(Json(Reindexed { documents }))
}

/// The routes, protected by the router secret.
pub fn routes(pool: PgPool, engine: Arc<TantivyEngine>, router_secret: &str) -> axum::Router {
    let routes = axum::Router::new()
        .route("/internal/reindex", post(reindex))
        .with_state(Reindex { pool, engine });
    nova_core::internal::protected(routes, router_secret)
}
