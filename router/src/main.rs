//! Nova's router: Hive Router (MIT) built with Nova's plugin.
#![recursion_limit = "256"]

mod circuit_breaker;
mod client_ip;
mod errors;
mod jwks_reloads;
mod nova_plugin;
mod operation;
mod rate_limit;
mod refusal;
mod rollout;

use hive_router::{
    configure_global_allocator, error::RouterInitError, init_rustls_crypto_provider, ntex,
    router_entrypoint, PluginRegistry, RouterGlobalAllocator,
};

configure_global_allocator!();

#[hive_router::main]
async fn main() -> Result<(), RouterInitError> {
    init_rustls_crypto_provider();
    router_entrypoint(PluginRegistry::new().register::<nova_plugin::NovaPlugin>()).await
}
