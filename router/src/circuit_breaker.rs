//! Stop asking a Redis that does not answer.
//!
//! An unreachable Redis (a dropped route, a full host) costs each check its
//! connection and response timeouts, about a second added to every request. After
//! a failure the breaker opens: checks skip Redis for `retry_after` and the
//! down-policy answers at once; then one check (not all of them) tries Redis
//! again, and a success closes the breaker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct CircuitBreaker {
    retry_after: Duration,
    started: Instant,
    /// Milliseconds since `started` until which checks skip Redis; 0 while closed.
    open_until_ms: AtomicU64,
}

impl CircuitBreaker {
    pub fn new(retry_after: Duration) -> Self {
        Self {
            retry_after,
            started: Instant::now(),
            open_until_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        // +1: 0 means closed, and the first millisecond must not read as closed.
        self.started.elapsed().as_millis() as u64 + 1
    }

    /// Whether this check may ask Redis: yes while closed; while open, only the
    /// first check after `retry_after` (it re-arms the wait for the others).
    pub fn may_ask(&self) -> bool {
        let open_until = self.open_until_ms.load(Ordering::Acquire);
        if open_until == 0 {
            return true;
        }
        let now = self.now_ms();
        if now < open_until {
            return false;
        }
        let next = now + self.retry_after.as_millis() as u64;
        self.open_until_ms
            .compare_exchange(open_until, next, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub fn succeeded(&self) {
        self.open_until_ms.store(0, Ordering::Release);
    }

    pub fn failed(&self) {
        let next = self.now_ms() + self.retry_after.as_millis() as u64;
        self.open_until_ms.store(next, Ordering::Release);
    }

    pub fn is_open(&self) -> bool {
        self.open_until_ms.load(Ordering::Acquire) != 0
    }

    /// How long until a check asks Redis again (zero while closed).
    pub fn retry_in(&self) -> Duration {
        let open_until = self.open_until_ms.load(Ordering::Acquire);
        Duration::from_millis(open_until.saturating_sub(self.now_ms()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_until_a_failure_then_skips_until_the_retry() {
        let breaker = CircuitBreaker::new(Duration::from_secs(60));
        assert!(breaker.may_ask());
        breaker.failed();
        assert!(breaker.is_open());
        assert!(!breaker.may_ask());
        assert!(breaker.retry_in() > Duration::from_secs(59));
        breaker.succeeded();
        assert!(!breaker.is_open());
        assert!(breaker.may_ask());
        assert_eq!(breaker.retry_in(), Duration::ZERO);
    }

    #[test]
    fn after_the_wait_one_check_tries_again() {
        let breaker = CircuitBreaker::new(Duration::from_secs(60));
        // Opened long enough ago that the wait is over.
        breaker.open_until_ms.store(1, Ordering::Release);
        assert!(breaker.may_ask(), "the wait is over: one probe");
        assert!(
            !breaker.may_ask(),
            "the others wait for the probe's outcome"
        );
        assert!(breaker.is_open());
    }
}
