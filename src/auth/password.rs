//! Argon2id password hashing (PHC strings) with equal cost for unknown users.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::limits::{PASSWORD_MAX_BYTES, PASSWORD_MIN_CHARS};

pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
}

/// Verifies `password` against a PHC string. A malformed stored hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A small fixed pool of threads for password checks at login.
///
/// Argon2id allocates ~19 MiB per check. Run on an unbounded blocking pool, a flood of logins
/// from many addresses (each below its own failure limit) would hash in parallel and hold one
/// buffer per thread, gigabytes in the worst case. Here at most one check per CPU runs, a
/// short queue waits, and anything beyond it is refused at once ([`Busy`], answered 503
/// with `Retry-After`). Fixed threads also keep the allocator's per-thread arenas to a few.
pub struct Pool {
    workers: usize,
    queue: usize,
    jobs: std::sync::OnceLock<std::sync::mpsc::SyncSender<Job>>,
}

type Job = Box<dyn FnOnce() + Send>;

/// The pool's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl Pool {
    /// One worker per CPU and a queue of four jobs per worker; threads start at first use so
    /// an idle daemon has none.
    pub fn new() -> Pool {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        Pool::with_size(workers, workers * 4)
    }

    pub fn with_size(workers: usize, queue: usize) -> Pool {
        Pool {
            workers: workers.max(1),
            queue,
            jobs: std::sync::OnceLock::new(),
        }
    }

    fn sender(&self) -> &std::sync::mpsc::SyncSender<Job> {
        self.jobs.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(self.queue);
            let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
            for i in 0..self.workers {
                let rx = rx.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("argon2-{i}"))
                    .spawn(move || {
                        loop {
                            let job = match rx.lock() {
                                Ok(r) => r.recv(),
                                Err(_) => return,
                            };
                            match job {
                                Ok(job) => job(),
                                Err(_) => return,
                            }
                        }
                    });
                if let Err(e) = spawned {
                    tracing::error!("cannot start a password worker thread: {e}");
                }
            }
            tx
        })
    }

    /// Queues `f` for a worker, or answers [`Busy`] at once when the queue is full.
    pub fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<tokio::sync::oneshot::Receiver<T>, Busy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.sender().try_send(job).map_err(|_| Busy)?;
        Ok(rx)
    }

    /// [`Pool::submit`], then waits for the result.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        self.submit(f)?.await.map_err(|_| Busy)
    }
}

impl Default for Pool {
    fn default() -> Self {
        Pool::new()
    }
}

/// Rules for new passwords: long enough to resist guessing, bounded to cap hashing work.
pub fn check_new(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(format!(
            "the password must have at least {PASSWORD_MIN_CHARS} characters"
        ));
    }
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(format!(
            "the password must be at most {PASSWORD_MAX_BYTES} bytes"
        ));
    }
    Ok(())
}

/// A random password for the first administrator (no ambiguous characters).
pub fn generate() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("x", "not a phc string"));
        assert!(check_new("short").is_err());
        assert!(check_new("long enough").is_ok());
        assert_eq!(generate().len(), 20);
    }

    #[tokio::test]
    async fn pool_runs_jobs_and_refuses_beyond_its_queue() {
        let pool = Pool::with_size(1, 1);
        assert_eq!(pool.run(|| 41 + 1).await, Ok(42));
        // Occupy the only worker, then fill the one queue slot: the next job is refused.
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let blocked = pool
            .submit(move || {
                started_tx.send(()).ok();
                wait.recv().is_ok()
            })
            .unwrap();
        started.recv().unwrap();
        let queued = pool.submit(|| 1).unwrap();
        assert!(pool.submit(|| 2).is_err(), "a full queue refuses at once");
        release.send(()).unwrap();
        assert!(blocked.await.unwrap());
        assert_eq!(queued.await.unwrap(), 1);
    }
}
