use std::sync::Arc;

use nova_core::config::exit_on_error;
use nova_identity::schema::passwords::ResetSettings;
use nova_identity::{
    internal, mail::Mailer, passwords::Passwords, schema, tokens::TokenIssuer, MIGRATOR,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if nova_core::http::printed_schema(schema::sdl) {
        return Ok(());
    }
    nova_core::http::run_subgraph("identity", 4001, &MIGRATOR, |startup| async move {
        let tokens = Arc::new(exit_on_error(TokenIssuer::from_env()));
        let passwords = exit_on_error(Passwords::from_env());
        let mailer = exit_on_error(Mailer::from_env(&startup.metrics));
        if mailer.is_none() {
            tracing::warn!("SMTP_HOST is not set: password reset by e-mail is off");
        }
        let resets = exit_on_error(ResetSettings::from_env());
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
            schema::build(startup.db, tokens, passwords, mailer, resets),
            routes,
        ))
    })
    .await
}
