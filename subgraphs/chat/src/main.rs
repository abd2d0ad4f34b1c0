use nova_chat::crypto::MessageCipher;
use nova_chat::events::BlockMirror;
use nova_chat::live::ChatHub;
use nova_chat::{schema, MIGRATOR};
use nova_core::config::exit_on_error;
use nova_core::live::redis_url_from_env;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::printed_schema(schema::sdl) {
        return Ok(());
    }
    let cipher = exit_on_error(MessageCipher::from_env());
    let redis_url = exit_on_error(redis_url_from_env());
    nova_core::http::run_subgraph("chat", 4005, &MIGRATOR, |startup| async move {
        startup.events.spawn_consumer(BlockMirror)?;
        let hub = ChatHub::start(&redis_url, "chat", &startup.metrics).await?;
        Ok((schema::build(startup.db, cipher, hub), axum::Router::new()))
    })
    .await
}
