use std::sync::Arc;
use std::time::Duration;

use nova_core::config::{exit_on_error, required};
use nova_core::internal::InternalClient;
use nova_identity::schema::passwords::ResetSettings;
use nova_identity::store::deletion;
use nova_identity::suspended_set::SuspendedSet;
use nova_identity::{
    internal, mail::Mailer, passwords::Passwords, schema, tokens::TokenIssuer, MIGRATOR,
};

/// How long a profile read waits for social's answer on blocks.
const SOCIAL_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::ran_command("identity", schema::sdl, &MIGRATOR).await? {
        return Ok(());
    }
    let social_url = exit_on_error(required(
        "SOCIAL_SERVICE_URL",
        "the social subgraph's base URL (http://host:port), asked whom a profile's owner blocked",
    ));
    let redis_url = exit_on_error(required(
        "REDIS_URL",
        "the Redis the router reads suspended accounts from (redis://host:port)",
    ));
    nova_core::http::run_subgraph("identity", 4001, &MIGRATOR, |startup| async move {
        let tokens = Arc::new(exit_on_error(TokenIssuer::from_env()));
        let suspended = SuspendedSet::new(&redis_url)?;
        // A Redis that restarted empty gets the suspensions in force (and the
        // deleted accounts whose tokens may still be valid) again.
        let syncing = suspended.clone();
        let pool = startup.db.background_pool().clone();
        let token_lifetime = tokens.access_token_lifetime();
        tokio::spawn(async move { syncing.keep_in_sync(&pool, token_lifetime).await });
        let retention = exit_on_error(nova_core::config::moderation_retention());
        let pool = startup.db.background_pool().clone();
        nova_core::events::pruning::spawn_hourly(
            "deleted accounts past the retention",
            move || {
                let pool = pool.clone();
                async move { deletion::prune(&pool, retention).await }
            },
        );
        let passwords = exit_on_error(Passwords::from_env());
        let mailer = exit_on_error(Mailer::from_env(&startup.metrics));
        if mailer.is_none() {
            tracing::warn!("SMTP_HOST is not set: password reset by e-mail is off");
        }
        let resets = exit_on_error(ResetSettings::from_env());
        let social = InternalClient::new(&social_url, &startup.router_secret, SOCIAL_TIMEOUT)?;
        let jwks = tokens.jwks();
        let routes = axum::Router::new()
            .route(
                "/.well-known/jwks.json",
                axum::routing::get(move || {
                    let jwks = jwks.clone();
                    async move { axum::Json(jwks) }
                }),
            )
            .merge(internal::routes(startup.db.clone(), &startup.router_secret));
        Ok((
            schema::build(
                startup.db, tokens, passwords, mailer, resets, social, suspended,
            ),
            routes,
        ))
    })
    .await
}
