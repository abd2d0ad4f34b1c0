use std::sync::Arc;
use std::time::Duration;

use nova_core::config::exit_on_error;
use nova_core::internal::InternalClient;
use nova_search::backfill::{self, Owners};
use nova_search::events::Indexer;
use nova_search::index::TantivyEngine;
use nova_search::indexing::IndexSync;
use nova_search::query::Searcher;
use nova_search::settings::SearchSettings;
use nova_search::{internal, schema, MIGRATOR};

/// How long a search waits for an owner's answer.
const INTERNAL_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Exports may take longer than a page's check.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::ran_command("search", schema::sdl, &MIGRATOR).await? {
        return Ok(());
    }
    let settings = exit_on_error(SearchSettings::from_env());
    nova_core::http::run_subgraph("search", 4008, &MIGRATOR, |startup| async move {
        let secret = &startup.router_secret;
        let owners = Arc::new(Owners {
            identity: InternalClient::new(&settings.identity_url, secret, EXPORT_TIMEOUT)?,
            users: InternalClient::new(&settings.users_url, secret, EXPORT_TIMEOUT)?,
            content: InternalClient::new(&settings.content_url, secret, EXPORT_TIMEOUT)?,
        });
        let pool = startup.db.background_pool().clone();
        // Not ready (not even listening) until the index can answer: first the
        // owners' data, then an index that opens — rebuilt from the tables when
        // it cannot be opened or when the copy brought documents it lacks.
        let copied = backfill::run_until_done(&pool, &owners).await;
        let (engine, rebuild) = match TantivyEngine::open(&settings.index_path) {
            Ok(engine) => (Arc::new(engine), copied),
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "rebuilding the search index");
                (Arc::new(TantivyEngine::create(&settings.index_path)?), true)
            }
        };
        let index = IndexSync::new(&settings.instance, pool, engine.clone());
        if rebuild {
            let documents = index.rebuild().await?;
            tracing::info!(documents, "search index rebuilt");
        }
        tokio::spawn(index.clone().run());
        startup
            .events
            .spawn_consumer(Indexer::new(index.clone(), owners.clone()))?;
        let routes = internal::routes(index, secret);
        let searcher = Searcher {
            engine,
            db: startup.db,
            content: InternalClient::new(&settings.content_url, secret, INTERNAL_CALL_TIMEOUT)?,
            social: InternalClient::new(&settings.social_url, secret, INTERNAL_CALL_TIMEOUT)?,
        };
        Ok((schema::build(searcher), routes))
    })
    .await
}
