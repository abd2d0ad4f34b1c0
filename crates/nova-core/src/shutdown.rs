//! Work a subgraph finishes after it stopped serving and before it exits (the
//! views still in memory go to the outbox). `run_subgraph` runs the hooks once
//! the HTTP server has drained, each within a time limit.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;

/// A named piece of shutdown work.
type Hook = (&'static str, BoxFuture<'static, ()>);

#[derive(Clone, Default)]
pub struct ShutdownHooks {
    hooks: Arc<Mutex<Vec<Hook>>>,
}

impl ShutdownHooks {
    /// Run `hook` at shutdown; `name` is logged if it overruns.
    pub fn add(&self, name: &'static str, hook: impl Future<Output = ()> + Send + 'static) {
        self.lock().push((name, Box::pin(hook)));
    }

    /// Run every hook, each for at most `limit`.
    pub async fn run(&self, limit: Duration) {
        let hooks = std::mem::take(&mut *self.lock());
        for (name, hook) in hooks {
            if tokio::time::timeout(limit, hook).await.is_err() {
                tracing::error!(hook = name, ?limit, "shutdown work did not finish in time");
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Hook>> {
        self.hooks.lock().unwrap_or_else(|e| e.into_inner())
    }
}
