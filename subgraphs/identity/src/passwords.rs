//! Password hashing with argon2id (the `argon2` crate's defaults: m=19 MiB, t=2,
//! p=1). Hashing is deliberately slow, so it runs on the blocking pool — and at
//! most `PASSWORD_HASH_CONCURRENCY` at a time (default: half the cores, at least
//! one): a storm of logins queues here instead of taking every core from the
//! requests that need none.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use nova_core::config::{parsed_or, ConfigError};
use tokio::sync::Semaphore;

/// Hashes and verifies passwords, a bounded number at once.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Passwords {
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// `PASSWORD_HASH_CONCURRENCY`, or half the cores (at least one).
    pub fn from_env() -> Result<Self, ConfigError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let concurrency = parsed_or("PASSWORD_HASH_CONCURRENCY", (cores / 2).max(1))?;
        Ok(Self::new(concurrency))
    }

    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
        })
        .await
    }

    /// True when `password` matches the stored hash. A malformed stored hash is an
    /// error, not a mismatch.
    pub async fn verify(&self, password: String, stored_hash: String) -> anyhow::Result<bool> {
        self.run(move || {
            let parsed = PasswordHash::new(&stored_hash)
                .map_err(|e| anyhow::anyhow!("stored password hash is malformed: {e}"))?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        })
        .await
    }

    /// Run `work` on the blocking pool once a permit is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let permit = self.permits.clone().acquire_owned().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await?
    }
}

/// A valid argon2id hash of a random password, verified against when the email is
/// unknown so that a login for a missing account takes as long as a wrong password.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0S1Vm0t0cJ1kX8mJ7o4lM1Vb6Y9p7P3oJ0Y6b8mJ2hQ";

#[cfg(test)]
mod tests {
    use super::Passwords;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_the_configured_number_hash_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let passwords = Passwords::new(1);
        let busy = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let run = || {
            let (busy, most) = (busy.clone(), most.clone());
            passwords.run(move || {
                let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                busy.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            })
        };
        let results = tokio::join!(run(), run(), run(), run());
        for result in [results.0, results.1, results.2, results.3] {
            result.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let passwords = Passwords::new(1);
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(passwords
            .verify("correct horse".into(), hash.clone())
            .await
            .unwrap());
        assert!(!passwords.verify("wrong horse".into(), hash).await.unwrap());
    }
}
