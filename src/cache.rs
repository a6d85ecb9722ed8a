//! What may be lost: counters and short-lived flags. Redis when `PLINTO_REDIS_URL` is set
//! (shared by every node), else an in-process map (one node only).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::clock::SharedClock;

#[derive(Debug, thiserror::Error)]
#[error("cache unavailable: {0}")]
pub struct CacheError(String);

impl From<redis::RedisError> for CacheError {
    fn from(e: redis::RedisError) -> Self {
        Self(e.to_string())
    }
}

#[derive(Clone)]
pub enum Cache {
    Memory(MemoryCache),
    Redis(RedisCache),
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cache::Memory(_) => "Cache::Memory",
            Cache::Redis(_) => "Cache::Redis",
        })
    }
}

impl Cache {
    /// Redis if a URL is given, else in-process.
    pub fn new(
        redis_url: Option<&str>,
        prefix: &str,
        clock: SharedClock,
    ) -> Result<Self, CacheError> {
        match redis_url {
            Some(url) => {
                let client = redis::Client::open(url)?;
                let config = ConnectionManagerConfig::new()
                    .set_number_of_retries(1)
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(Duration::from_secs(2)));
                let manager = ConnectionManager::new_lazy_with_config(client, config)?;
                Ok(Cache::Redis(RedisCache {
                    manager,
                    prefix: prefix.to_string(),
                }))
            }
            None => Ok(Cache::Memory(MemoryCache {
                entries: Arc::new(Mutex::new(HashMap::new())),
                clock,
            })),
        }
    }

    pub fn is_redis(&self) -> bool {
        matches!(self, Cache::Redis(_))
    }

    /// Add one to a counter and return the new value; a new counter lives `ttl`.
    pub async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, CacheError> {
        match self {
            Cache::Memory(m) => Ok(m.incr(key, ttl)),
            Cache::Redis(r) => r.incr(key, ttl).await,
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        match self {
            Cache::Memory(m) => Ok(m.get(key)),
            Cache::Redis(r) => {
                let mut conn = r.manager.clone();
                Ok(redis::cmd("GET")
                    .arg(r.key(key))
                    .query_async(&mut conn)
                    .await?)
            }
        }
    }

    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        match self {
            Cache::Memory(m) => {
                m.set(key, value, ttl);
                Ok(())
            }
            Cache::Redis(r) => {
                let mut conn = r.manager.clone();
                redis::cmd("SET")
                    .arg(r.key(key))
                    .arg(value)
                    .arg("EX")
                    .arg(ttl.as_secs().max(1))
                    .query_async::<()>(&mut conn)
                    .await?;
                Ok(())
            }
        }
    }

    pub async fn del(&self, key: &str) -> Result<(), CacheError> {
        match self {
            Cache::Memory(m) => {
                m.lock().remove(key);
                Ok(())
            }
            Cache::Redis(r) => {
                let mut conn = r.manager.clone();
                redis::cmd("DEL")
                    .arg(r.key(key))
                    .query_async::<()>(&mut conn)
                    .await?;
                Ok(())
            }
        }
    }

    /// One atomic GCRA step on `key` (see [`crate::ratelimit`]): the ms to wait, 0 if the
    /// request is allowed (and, when `count`, counted; without `count` nothing is stored).
    pub async fn gcra(
        &self,
        key: &str,
        now_ms: i64,
        emission_ms: i64,
        period_ms: i64,
        count: bool,
    ) -> Result<i64, CacheError> {
        match self {
            Cache::Memory(m) => Ok(m.gcra(key, now_ms, emission_ms, period_ms, count)),
            Cache::Redis(r) => {
                let mut conn = r.manager.clone();
                Ok(GCRA
                    .key(r.key(key))
                    .arg(now_ms)
                    .arg(emission_ms)
                    .arg(period_ms)
                    .arg(i32::from(count))
                    .invoke_async(&mut conn)
                    .await?)
            }
        }
    }

    /// Reachability, for `/ready`.
    pub async fn ping(&self) -> Result<(), CacheError> {
        match self {
            Cache::Memory(_) => Ok(()),
            Cache::Redis(r) => {
                let mut conn = r.manager.clone();
                redis::cmd("PING").query_async::<String>(&mut conn).await?;
                Ok(())
            }
        }
    }
}

type Entries = HashMap<String, (String, DateTime<Utc>)>;

/// In-process entries expire by the injected clock.
#[derive(Clone)]
pub struct MemoryCache {
    entries: Arc<Mutex<Entries>>,
    clock: SharedClock,
}

impl MemoryCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expiry(&self, ttl: Duration) -> DateTime<Utc> {
        self.clock.now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)
    }

    fn incr(&self, key: &str, ttl: Duration) -> u64 {
        let now = self.clock.now();
        let expires = self.expiry(ttl);
        let mut map = self.lock();
        // Drop what has expired now and then, so that the map does not grow without bound.
        if map.len() > 10_000 {
            map.retain(|_, (_, exp)| *exp > now);
        }
        let entry = map.entry(key.to_string()).or_insert(("0".into(), expires));
        if entry.1 <= now {
            *entry = ("0".into(), expires);
        }
        let n = entry.0.parse::<u64>().unwrap_or(0).saturating_add(1);
        entry.0 = n.to_string();
        n
    }

    fn gcra(&self, key: &str, now_ms: i64, emission_ms: i64, period_ms: i64, count: bool) -> i64 {
        let now = self.clock.now();
        let mut map = self.lock();
        if map.len() > 10_000 {
            map.retain(|_, (_, exp)| *exp > now);
        }
        let stored = map
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .and_then(|(v, _)| v.parse::<i64>().ok());
        let (tat, wait) = crate::ratelimit::gcra_step(stored, now_ms, emission_ms, period_ms);
        if wait == 0 && count {
            let ttl = chrono::Duration::milliseconds((tat - now_ms).max(1));
            map.insert(key.to_string(), (tat.to_string(), now + ttl));
        }
        wait
    }

    fn get(&self, key: &str) -> Option<String> {
        let now = self.clock.now();
        let map = self.lock();
        map.get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v.clone())
    }

    fn set(&self, key: &str, value: &str, ttl: Duration) {
        let expires = self.expiry(ttl);
        self.lock()
            .insert(key.to_string(), (value.to_string(), expires));
    }
}

/// INCR and EXPIRE in one atomic step (its SHA1 is computed once).
static INCR_WITH_TTL: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        "local n = redis.call('INCR', KEYS[1]) \
         if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end \
         return n",
    )
});

static GCRA: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(crate::ratelimit::GCRA_LUA));

#[derive(Clone)]
pub struct RedisCache {
    manager: ConnectionManager,
    prefix: String,
}

impl RedisCache {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, CacheError> {
        let mut conn = self.manager.clone();
        let n: u64 = INCR_WITH_TTL
            .key(self.key(key))
            .arg(ttl.as_secs().max(1))
            .invoke_async(&mut conn)
            .await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestClock;

    #[tokio::test]
    async fn memory_entries_expire_by_the_injected_clock() {
        let clock = TestClock::new(Utc::now());
        let cache = Cache::new(None, "t:", Arc::new(clock.clone())).unwrap();
        assert_eq!(cache.incr("k", Duration::from_secs(60)).await.unwrap(), 1);
        assert_eq!(cache.incr("k", Duration::from_secs(60)).await.unwrap(), 2);
        cache.set("f", "1", Duration::from_secs(10)).await.unwrap();
        assert_eq!(cache.get("f").await.unwrap().as_deref(), Some("1"));
        clock.advance(chrono::Duration::seconds(61));
        assert_eq!(cache.get("f").await.unwrap(), None);
        assert_eq!(cache.incr("k", Duration::from_secs(60)).await.unwrap(), 1);
        cache.del("k").await.unwrap();
        assert_eq!(cache.get("k").await.unwrap(), None);
    }
}
