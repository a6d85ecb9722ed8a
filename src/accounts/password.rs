//! argon2id password hashing on a few threads of its own (one per core), never on the async
//! executor. Each hash takes 19 MiB, which glibc keeps in the arena of the thread that hashed;
//! on tokio's blocking pool hashes wander over many threads and the RSS grows by 19 MiB per
//! thread for good (seen: 200 MB after a sign-in benchmark). Queued hashes wait their turn.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{DomainError, DomainResult};

type Job = Box<dyn FnOnce() + Send>;

/// Threads that run hashing jobs, one at a time each.
struct Workers(mpsc::Sender<Job>);

impl Workers {
    fn start(n: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n.max(1) {
            let rx = rx.clone();
            let _ = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
        }
        Self(tx)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> DomainResult<T> + Send + 'static,
    ) -> DomainResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.0
            .send(job)
            .map_err(|_| DomainError::internal("password hashing threads stopped"))?;
        rx.await
            .map_err(|_| DomainError::internal("password hashing failed"))?
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// The password is right; `rehash` when the stored hash uses other parameters.
    Match {
        rehash: bool,
    },
    NoMatch,
}

/// Hashes with the configured parameters. Cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    /// Verified against when there is no user, so that an unknown user costs a hash too;
    /// made at the first such sign-in, not at start-up.
    dummy: Arc<OnceLock<String>>,
    workers: Arc<Workers>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Hasher(argon2id m={} t={} p={})",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        )
    }
}

impl Hasher {
    pub fn new(m_cost: u32, t_cost: u32, p_cost: u32) -> DomainResult<Self> {
        let params = Params::new(m_cost, t_cost, p_cost, None)
            .map_err(|e| DomainError::internal(format!("argon2 parameters: {e}")))?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            params,
            dummy: Arc::default(),
            workers: Arc::new(Workers::start(cores)),
        })
    }

    fn argon2(params: &Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
    }

    pub async fn hash(&self, password: &str) -> DomainResult<String> {
        let params = self.params.clone();
        let password = password.as_bytes().to_vec();
        self.workers
            .run(move || hash_with(&params, &password))
            .await
    }

    /// Verify `password` against `stored`; with no stored hash, verify against a dummy one so
    /// that the time taken does not tell whether the account exists.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> DomainResult<Verified> {
        let params = self.params.clone();
        let password = password.as_bytes().to_vec();
        let stored = stored.map(str::to_string);
        let dummy = self.dummy.clone();
        self.workers
            .run(move || {
                let real = stored.is_some();
                let stored = match stored {
                    Some(h) => h,
                    None => match dummy.get() {
                        Some(d) => d.clone(),
                        None => {
                            let d = hash_with(&params, b"plinto dummy password for unknown users")?;
                            dummy.get_or_init(|| d).clone()
                        }
                    },
                };
                let parsed = PasswordHash::new(&stored).map_err(DomainError::internal)?;
                let ok = Self::argon2(&params)
                    .verify_password(&password, &parsed)
                    .is_ok();
                if !(ok && real) {
                    return Ok(Verified::NoMatch);
                }
                let same = parsed.algorithm.as_str() == "argon2id"
                    && Params::try_from(&parsed)
                        .map(|p| {
                            p.m_cost() == params.m_cost()
                                && p.t_cost() == params.t_cost()
                                && p.p_cost() == params.p_cost()
                        })
                        .unwrap_or(false);
                Ok(Verified::Match { rehash: !same })
            })
            .await
    }
}

fn hash_with(params: &Params, password: &[u8]) -> DomainResult<String> {
    Hasher::argon2(params)
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(DomainError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_ask_for_rehash_when_parameters_change() {
        let weak = Hasher::new(8, 1, 1).unwrap();
        let strong = Hasher::new(16, 2, 1).unwrap();
        let h = weak.hash("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{h}");
        assert_eq!(
            weak.verify("correct horse", Some(&h)).await.unwrap(),
            Verified::Match { rehash: false }
        );
        assert_eq!(
            strong.verify("correct horse", Some(&h)).await.unwrap(),
            Verified::Match { rehash: true }
        );
        assert_eq!(
            weak.verify("wrong", Some(&h)).await.unwrap(),
            Verified::NoMatch
        );
        assert_eq!(
            weak.verify("correct horse", None).await.unwrap(),
            Verified::NoMatch
        );
    }
}
