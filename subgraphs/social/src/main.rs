use nova_social::events::PostCleanup;
use nova_social::{internal, schema, MIGRATOR};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::printed_schema(schema::sdl) {
        return Ok(());
    }
    nova_core::http::run_subgraph("social", 4004, &MIGRATOR, |startup| async move {
        startup.events.spawn_consumer(PostCleanup)?;
        let internal = internal::routes(startup.db.clone(), &startup.router_secret);
        Ok((schema::build(startup.db), internal))
    })
    .await
}
