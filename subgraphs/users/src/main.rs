use nova_users::{internal, schema, MIGRATOR};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("print-schema") {
        print!("{}", schema::sdl());
        return Ok(());
    }
    nova_core::http::run_subgraph("users", 4002, &MIGRATOR, |startup| async move {
        let internal = internal::routes(startup.db.clone(), &startup.router_secret);
        Ok((schema::build(startup.db), internal))
    })
    .await
}
