use std::time::Duration;

use nova_chat::blocks::Blocks;
use nova_chat::crypto::MessageCipher;
use nova_chat::live::ChatHub;
use nova_chat::{internal, schema, MIGRATOR};
use nova_core::config::{exit_on_error, required};
use nova_core::internal::InternalClient;
use nova_core::live::redis_url_from_env;

/// How long a write waits for social's answer on blocks before it is refused.
const BLOCK_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::ran_command("chat", schema::sdl, &MIGRATOR).await? {
        return Ok(());
    }
    let cipher = exit_on_error(MessageCipher::from_env());
    let redis_url = exit_on_error(redis_url_from_env());
    let social_url = exit_on_error(required(
        "SOCIAL_SERVICE_URL",
        "the social subgraph's base URL (http://host:port), asked about blocks",
    ));
    nova_core::http::run_subgraph("chat", 4005, &MIGRATOR, |startup| async move {
        startup.events.spawn_consumer(nova_chat::events::Erasure)?;
        let social = InternalClient::new(&social_url, &startup.router_secret, BLOCK_CHECK_TIMEOUT)?;
        let hub = ChatHub::start(&redis_url, "chat", &startup.metrics).await?;
        let notices = nova_core::suspensions::SuspensionNotices::start(&redis_url)?;
        let internal = internal::routes(startup.db.clone(), cipher.clone(), &startup.router_secret);
        let schema = schema::build(startup.db, cipher, hub, Blocks::new(social), notices);
        Ok((schema, internal))
    })
    .await
}
