use std::time::Duration;

use nova_core::config::{exit_on_error, required};
use nova_core::internal::InternalClient;
use nova_media::events::Processor;
use nova_media::exports::Exporter;
use nova_media::settings::MediaSettings;
use nova_media::storage::ObjectStore;
use nova_media::uploads::Uploads;
use nova_media::worker::Worker;
use nova_media::{attaching, schema, sweep, MIGRATOR};

/// How long an export waits for each owner's section.
const EXPORT_CALL_TIMEOUT: Duration = Duration::from_secs(20);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::ran_command("media", schema::sdl, &MIGRATOR).await? {
        return Ok(());
    }
    let settings = exit_on_error(MediaSettings::from_env());
    // exportMyData asks each owner of personal data for its section.
    let owners: Vec<(&'static str, String)> = nova_core::personal_data::OWNERS
        .iter()
        .map(|(name, variable)| {
            let purpose = format!("the {name} subgraph's base URL (http://host:port), asked for its part of a data export");
            (*name, exit_on_error(required(variable, &purpose)))
        })
        .collect();
    nova_core::http::run_subgraph("media", 4009, &MIGRATOR, |startup| async move {
        let objects = ObjectStore::new(&settings.store);
        objects.ensure_bucket(settings.store.create_bucket).await?;
        let pool = startup.db.background_pool().clone();
        let worker = Worker {
            pool: pool.clone(),
            store: objects.clone(),
            limits: settings.limits.clone(),
        };
        startup.events.spawn_consumer(Processor { worker })?;
        tokio::spawn(sweep::run(
            pool.clone(),
            objects.clone(),
            settings.abandoned_after,
        ));
        let routes = attaching::routes(pool, &startup.router_secret);
        let owners = owners
            .iter()
            .map(|(name, url)| {
                let client = InternalClient::new(url, &startup.router_secret, EXPORT_CALL_TIMEOUT)?;
                Ok((*name, client))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let exporter = Exporter::new(
            startup.db.clone(),
            objects.clone(),
            owners,
            settings.export_url_ttl,
        );
        let uploads = Uploads::new(startup.db, objects, &settings);
        Ok((schema::build(uploads, exporter), routes))
    })
    .await
}
