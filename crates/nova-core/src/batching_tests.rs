//! Batches hold together however slowly a request is polled.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use futures::future::join_all;

use super::{dispatch_when_idle, loader};

/// Doubles its keys and notes the size of every batch it was asked for.
#[derive(Clone, Default)]
struct Doubler {
    batches: Arc<Mutex<Vec<usize>>>,
}

impl Loader<u32> for Doubler {
    type Value = u32;
    type Error = String;

    async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, String> {
        self.batches.lock().unwrap().push(keys.len());
        Ok(keys.iter().map(|k| (*k, k * 2)).collect())
    }
}

/// Pending once after waking its own task, as a FuturesUnordered does when it yields.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Resolve 20 keys the way a page's fields do, each slow to reach its loader (a
/// busy machine): the later ones yield first.
async fn slow_page(loader: &DataLoader<Doubler>) -> Vec<u32> {
    join_all((0..20u32).map(|key| async move {
        if key >= 10 {
            YieldOnce(false).await;
        }
        std::thread::sleep(Duration::from_millis(1));
        loader.load_one(key).await.unwrap().unwrap()
    }))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_pass_over_a_page_is_still_one_batch() {
    let doubler = Doubler::default();
    let loader = loader(doubler.clone());
    let values = dispatch_when_idle(slow_page(&loader)).await;
    assert_eq!(values, (0..20).map(|k| k * 2).collect::<Vec<_>>());
    assert_eq!(*doubler.batches.lock().unwrap(), [20]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_dropped_midway_does_not_strand_the_batch_it_held() {
    let doubler = Doubler::default();
    let loader = Arc::new(loader(doubler.clone()));
    // Poll a request once: it has asked for key 1 and is not idle yet (it woke
    // itself), so the batch is still held when the request is dropped.
    let mut abandoned = Box::pin(dispatch_when_idle({
        let loader = loader.clone();
        async move { futures::future::join(loader.load_one(1), YieldOnce(false)).await }
    }));
    let waker = futures::task::noop_waker();
    assert!(abandoned
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    drop(abandoned);
    // Another request's key joins the same batch and is still answered.
    let answered = tokio::time::timeout(
        Duration::from_secs(5),
        dispatch_when_idle(loader.load_one(2)),
    )
    .await;
    assert_eq!(answered.expect("key 2 answered").unwrap(), Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_a_request_a_batch_starts_by_itself() {
    let doubler = Doubler::default();
    let loader = loader(doubler.clone());
    let answered = tokio::time::timeout(Duration::from_secs(5), loader.load_one(3)).await;
    assert_eq!(answered.expect("key 3 answered").unwrap(), Some(6));
}
