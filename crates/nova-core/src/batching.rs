//! DataLoader batches that do not depend on timing.
//!
//! async-graphql's `DataLoader` starts a batch a fixed delay (1 ms) after its first
//! key. On a busy machine one pass over a 20-item page can take longer than that, so
//! the batch is split and a page costs more SQL statements the larger it is — the N+1
//! the loaders exist to prevent, and a statement count no test can rely on.
//!
//! Here a batch starts when the request is idle instead: the loader's start task is
//! held while the request is being polled and released once the request's future has
//! gone pending with nothing left to run (every resolver waits on a loader or on I/O)
//! — what graphql-js's DataLoader does on `process.nextTick`. A request future polled
//! under `dispatch_when_idle` holds the queue; outside one (WebSocket operations,
//! subscription streams) a batch starts after the usual 1 ms.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use async_graphql::dataloader::DataLoader;
use futures::future::BoxFuture;

/// The delay before a batch starts when no request holds it (async-graphql's default).
const DELAY_OUTSIDE_A_REQUEST: Duration = Duration::from_millis(1);

tokio::task_local! {
    /// Batch start tasks held until the current request is idle.
    static HELD_BATCHES: RefCell<Vec<BoxFuture<'static, ()>>>;
}

/// A DataLoader whose batches start when the request that asked is idle.
pub fn loader<T: Send + Sync + 'static>(loader: T) -> DataLoader<T> {
    // The hold replaces the delay: the batch starts as soon as it is released.
    DataLoader::new(loader, start_batch::<T>).delay(Duration::ZERO)
}

/// The DataLoader's spawner: hold the task in the current request, or start it
/// after the usual delay when there is none. A traced batch is a span of its own
/// (its SQL inside), a child of the field that asked first.
fn start_batch<T>(task: BoxFuture<'static, ()>) {
    let task = if crate::telemetry::tracing_on() {
        let loader = std::any::type_name::<T>();
        let span = tracing::info_span!(
            "dataloader batch",
            otel.name = %format!("DataLoader {}", loader.rsplit("::").next().unwrap_or(loader)),
            dataloader.loader = loader,
        );
        Box::pin(tracing::Instrument::instrument(task, span))
    } else {
        task
    };
    let mut task = Some(task);
    let _ = HELD_BATCHES.try_with(|held| {
        if let Some(task) = task.take() {
            held.borrow_mut().push(task);
        }
    });
    if let Some(task) = task {
        tokio::spawn(async move {
            tokio::time::sleep(DELAY_OUTSIDE_A_REQUEST).await;
            task.await;
        });
    }
}

/// Run `request` so that the loader batches it starts are released when it is idle.
pub async fn dispatch_when_idle<F: Future>(request: F) -> F::Output {
    HELD_BATCHES
        .scope(
            RefCell::new(Vec::new()),
            ReleaseWhenIdle {
                request: Box::pin(request),
            },
        )
        .await
}

/// The request future (boxed, so this wrapper is `Unpin` and can have a plain `Drop`).
struct ReleaseWhenIdle<F> {
    request: Pin<Box<F>>,
}

impl<F: Future> Future for ReleaseWhenIdle<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let woken = Arc::new(WakeFlag {
            woken: AtomicBool::new(false),
            waker: cx.waker().clone(),
        });
        let waker = Waker::from(woken.clone());
        let polled = self.request.as_mut().poll(&mut Context::from_waker(&waker));
        // Woken during its own poll (a FuturesUnordered yielding, a spent tokio
        // budget): more of the request runs on the next poll, so it is not idle yet.
        if polled.is_ready() || !woken.woken.load(Ordering::Acquire) {
            release_held();
        }
        polled
    }
}

impl<F> Drop for ReleaseWhenIdle<F> {
    fn drop(&mut self) {
        // A request dropped midway (client gone) must not strand a batch that other
        // requests' keys have joined. tokio drops a scoped future inside its scope.
        release_held();
    }
}

/// Start every batch the current request holds.
fn release_held() {
    let _ = HELD_BATCHES.try_with(|held| {
        for task in held.borrow_mut().drain(..) {
            tokio::spawn(task);
        }
    });
}

/// A waker that notes it was used before passing the wake on.
struct WakeFlag {
    woken: AtomicBool,
    waker: Waker,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.waker.wake_by_ref();
    }
}

#[cfg(test)]
#[path = "batching_tests.rs"]
mod tests;
