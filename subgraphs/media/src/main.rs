use nova_core::config::exit_on_error;
use nova_media::events::Processor;
use nova_media::settings::MediaSettings;
use nova_media::storage::ObjectStore;
use nova_media::uploads::Uploads;
use nova_media::worker::Worker;
use nova_media::{attaching, schema, sweep, MIGRATOR};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::ran_command("media", schema::sdl, &MIGRATOR).await? {
        return Ok(());
    }
    let settings = exit_on_error(MediaSettings::from_env());
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
        let uploads = Uploads::new(startup.db, objects, &settings);
        Ok((schema::build(uploads), routes))
    })
    .await
}
