use nova_users::{internal, schema, MIGRATOR};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::printed_schema(schema::sdl) {
        return Ok(());
    }
    nova_core::http::run_subgraph("users", 4002, &MIGRATOR, |startup| async move {
        let internal = internal::routes(startup.db.clone(), &startup.router_secret);
        Ok((schema::build(startup.db), internal))
    })
    .await
}
