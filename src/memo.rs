//! Short-lived in-process copies of the rows nearly every request reads: tenants, clients and
//! signing keys. A token request then needs no database round trip for them.
//!
//! An entry is served for at most `ttl` (`PLINTO_READ_CACHE_TTL_SECS`) by the injected clock,
//! then read again: a change made by the CLI or another node takes effect within `ttl`. A miss
//! is not remembered, so whatever is created is seen at once. quick_cache bounds the size
//! (S3-FIFO eviction) and shards the locks.

use std::future::Future;
use std::hash::Hash;

use chrono::{DateTime, Duration, Utc};

pub struct Memo<K, V> {
    entries: quick_cache::sync::Cache<K, (V, DateTime<Utc>)>,
    ttl: Duration,
}

impl<K, V> std::fmt::Debug for Memo<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memo(ttl={}s)", self.ttl.num_seconds())
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Memo<K, V> {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity.max(1)),
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The remembered value while it is fresh, else whatever `load` finds (remembered when
    /// found). With a zero `ttl` nothing is remembered.
    pub async fn get_or_load<E, F, Fut>(
        &self,
        key: &K,
        now: DateTime<Utc>,
        load: F,
    ) -> Result<Option<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<V>, E>>,
    {
        if let Some((value, until)) = self.entries.get(key)
            && now < until
        {
            return Ok(Some(value));
        }
        let found = load().await?;
        if let Some(value) = &found
            && self.ttl > Duration::zero()
        {
            self.entries
                .insert(key.clone(), (value.clone(), now + self.ttl));
        }
        Ok(found)
    }

    /// Drop an entry (a change this node made itself).
    pub fn forget(&self, key: &K) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn load(
        calls: &std::cell::Cell<u32>,
        v: Option<u32>,
    ) -> Result<Option<u32>, std::convert::Infallible> {
        calls.set(calls.get() + 1);
        Ok(v)
    }

    #[tokio::test]
    async fn serves_fresh_entries_reloads_stale_ones_and_never_remembers_a_miss() {
        let memo: Memo<&str, u32> = Memo::new(10, Duration::seconds(10));
        let calls = std::cell::Cell::new(0);
        let t0 = Utc::now();
        assert_eq!(
            memo.get_or_load(&"a", t0, || load(&calls, None)).await,
            Ok(None)
        );
        assert_eq!(
            memo.get_or_load(&"a", t0, || load(&calls, Some(1))).await,
            Ok(Some(1))
        );
        assert_eq!(calls.get(), 2, "a miss is read again");
        let later = t0 + Duration::seconds(9);
        assert_eq!(
            memo.get_or_load(&"a", later, || load(&calls, Some(2)))
                .await,
            Ok(Some(1))
        );
        assert_eq!(calls.get(), 2, "fresh: no load");
        let stale = t0 + Duration::seconds(10);
        assert_eq!(
            memo.get_or_load(&"a", stale, || load(&calls, Some(3)))
                .await,
            Ok(Some(3))
        );
        memo.forget(&"a");
        assert_eq!(
            memo.get_or_load(&"a", stale, || load(&calls, Some(4)))
                .await,
            Ok(Some(4))
        );

        let off: Memo<&str, u32> = Memo::new(10, Duration::zero());
        off.get_or_load(&"a", t0, || load(&calls, Some(5)))
            .await
            .ok();
        assert_eq!(
            off.get_or_load(&"a", t0, || load(&calls, Some(6))).await,
            Ok(Some(6))
        );
    }
}
