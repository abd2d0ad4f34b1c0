//! How a consumer retries one step of a message (applying it, its external
//! effects, publishing its dead letter): backoff from 100 ms doubling to 5 s, and
//! a count of the failures that cannot pass by themselves.

use std::time::Duration;

use super::dead_letter::MAX_ATTEMPTS;

pub(super) struct Retries {
    delay: Duration,
    failed_for_good: u32,
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(100),
            failed_for_good: 0,
        }
    }
}

impl Retries {
    /// After a failure: `true` when it is the `MAX_ATTEMPTS`-th that cannot pass
    /// (give up and dead-letter); otherwise wait the backoff and try again.
    pub(super) async fn give_up(&mut self, failed_for_good: bool) -> bool {
        if failed_for_good {
            self.failed_for_good += 1;
            if self.failed_for_good == MAX_ATTEMPTS {
                return true;
            }
        }
        self.back_off().await;
        false
    }

    /// Wait the backoff, which doubles up to 5 s.
    pub(super) async fn back_off(&mut self) {
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(Duration::from_secs(5));
    }
}
