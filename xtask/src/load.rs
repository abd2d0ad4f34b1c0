//! Latency recording and the open-model load generator the benches share.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use hdrhistogram::Histogram;

/// A histogram of microseconds, 1 µs to 60 s, three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// The value at `quantile`, in milliseconds.
pub fn ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

/// Send `rate * seconds` requests at a fixed arrival rate (open model: request
/// `i` is due at `i / rate` and its latency counts from then, so a slow server
/// cannot slow the load down). `request(i)` sends request `i` and tells whether
/// it succeeded. Returns the latencies and the number of failures.
pub async fn open_model<F, Fut>(
    rate: u64,
    seconds: u64,
    request: F,
) -> Result<(Histogram<u64>, usize)>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let total = rate * seconds;
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(due.into()).await;
            let ok = request(i).await;
            (due.elapsed(), ok)
        }));
    }
    let mut latency = histogram();
    let mut failures = 0;
    for task in tasks {
        let (elapsed, ok) = task.await?;
        latency.record(elapsed.as_micros() as u64)?;
        failures += usize::from(!ok);
    }
    Ok((latency, failures))
}
