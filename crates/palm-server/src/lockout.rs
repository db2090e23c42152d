//! Lockout after repeated failures: a client that gets `max_failures` wrong answers within
//! `window` is refused (429, Retry-After) until the window ends. Used where a secret is guessed
//! without any credential (device pairing codes, by IP address), and for palms a till or gate
//! keeps failing to match (by credential: NIST SP 800-63B's limit on failed biometric attempts).
//! The counting is here; the middleware that applies it to palms is in `app.rs`, the answer a
//! locked-out client gets in `error.rs`.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Clients remembered at most; past this, expired entries are dropped first.
const MAX_CLIENTS: usize = 100_000;

pub struct Lockout<K = IpAddr> {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<K, (u32, Instant)>>,
}

impl<K: Hash + Eq + Clone> Lockout<K> {
    pub fn new(max_failures: u32, window: Duration) -> Lockout<K> {
        Lockout {
            max_failures: max_failures.max(1),
            window,
            failures: Mutex::default(),
        }
    }

    /// Whole seconds until `client` may try again, while it is locked out.
    pub fn locked(&self, client: &K) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let &(count, since) = failures.get(client)?;
        let left = self.window.checked_sub(since.elapsed())?;
        (count >= self.max_failures).then(|| left.as_secs().max(1))
    }

    pub fn failed(&self, client: K) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_CLIENTS {
            failures.retain(|_, (_, since)| since.elapsed() < self.window);
        }
        let entry = failures.entry(client).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, client: &K) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_failures_and_forgets_after_the_window() {
        let lockout: Lockout = Lockout::new(3, Duration::from_millis(200));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..2 {
            lockout.failed(a);
        }
        assert_eq!(lockout.locked(&a), None);
        lockout.failed(a);
        assert!(lockout.locked(&a).is_some());
        assert_eq!(
            lockout.locked(&b),
            None,
            "one client's failures lock only that client"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(lockout.locked(&a), None);
        lockout.failed(b);
        lockout.succeeded(&b);
        assert_eq!(lockout.locked(&b), None);
    }
}
