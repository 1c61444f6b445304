//! Sign-in throttling, counted without races and never locking an account for good.
//!
//! Failures are counted in fixed windows (a window starts at its first failure and is not
//! lengthened by later ones), each count updated atomically:
//! - per address and account: [`MAX_FAILURES_PER_PAIR`], so one guesser gets few tries;
//! - per address: [`MAX_FAILURES_PER_ADDRESS`], across accounts (password spraying);
//! - per account from every address: [`MAX_FAILURES_PER_ACCOUNT`] (distributed guessing),
//!   except from an address this account signed in from before: so a flood from elsewhere
//!   can slow guessing without locking the owner out.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use moka::sync::Cache;

pub const MAX_FAILURES_PER_PAIR: u32 = 5;
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
pub const MAX_FAILURES_PER_ACCOUNT: u32 = 50;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long an address that signed in to an account is trusted for it.
const KNOWN_ADDRESS: Duration = Duration::from_secs(30 * 24 * 3600);
/// Longer e-mails are cut for the key: a caller cannot make keys of any size.
const MAX_KEY_LENGTH: usize = 320;

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

#[derive(Clone)]
pub struct LoginThrottle {
    window: Duration,
    pairs: Cache<(String, Option<IpAddr>), Window>,
    addresses: Cache<IpAddr, Window>,
    accounts: Cache<String, Window>,
    known: Cache<(String, IpAddr), ()>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle::with_window(WINDOW)
    }
}

impl LoginThrottle {
    pub fn with_window(window: Duration) -> LoginThrottle {
        fn counter<K: std::hash::Hash + Eq + Send + Sync + 'static>(
            window: Duration,
        ) -> Cache<K, Window> {
            Cache::builder()
                .max_capacity(100_000)
                .time_to_live(window)
                .build()
        }
        LoginThrottle {
            window,
            pairs: counter(window),
            addresses: counter(window),
            accounts: counter(window),
            known: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(KNOWN_ADDRESS)
                .build(),
        }
    }

    fn failures<K>(&self, cache: &Cache<K, Window>, key: &K) -> u32
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
    {
        cache
            .get(key)
            .filter(|w| w.start.elapsed() < self.window)
            .map_or(0, |w| w.failures)
    }

    fn count<K>(&self, cache: &Cache<K, Window>, key: K)
    where
        K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    {
        let window = self.window;
        cache
            .entry(key)
            .and_upsert_with(|current| match current.map(|entry| entry.into_value()) {
                Some(w) if w.start.elapsed() < window => Window {
                    start: w.start,
                    failures: w.failures.saturating_add(1),
                },
                _ => Window {
                    start: Instant::now(),
                    failures: 1,
                },
            });
    }

    /// Whether another attempt for this account from this address may be tried now.
    pub fn allows(&self, email: &str, address: Option<IpAddr>) -> bool {
        let account = normalize(email);
        if self.failures(&self.pairs, &(account.clone(), address)) >= MAX_FAILURES_PER_PAIR {
            return false;
        }
        if let Some(ip) = address {
            if self.failures(&self.addresses, &ip) >= MAX_FAILURES_PER_ADDRESS {
                return false;
            }
        }
        let known = address.is_some_and(|ip| self.known.contains_key(&(account.clone(), ip)));
        known || self.failures(&self.accounts, &account) < MAX_FAILURES_PER_ACCOUNT
    }

    pub fn record_failure(&self, email: &str, address: Option<IpAddr>) {
        let account = normalize(email);
        self.count(&self.pairs, (account.clone(), address));
        if let Some(ip) = address {
            self.count(&self.addresses, ip);
        }
        self.count(&self.accounts, account);
    }

    /// A good password: this address's failures for the account are forgiven and it is
    /// trusted for the account from now on.
    pub fn record_success(&self, email: &str, address: Option<IpAddr>) {
        let account = normalize(email);
        self.pairs.invalidate(&(account.clone(), address));
        if let Some(ip) = address {
            self.known.insert((account, ip), ());
        }
    }
}

fn normalize(email: &str) -> String {
    let mut key = email.trim().to_lowercase();
    if key.len() > MAX_KEY_LENGTH {
        let mut cut = MAX_KEY_LENGTH;
        while !key.is_char_boundary(cut) {
            cut -= 1;
        }
        key.truncate(cut);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_an_account_from_one_address_after_repeated_failures() {
        let throttle = LoginThrottle::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..MAX_FAILURES_PER_PAIR {
            assert!(throttle.allows("a@example.com", Some(ip)));
            throttle.record_failure("A@example.com", Some(ip));
        }
        assert!(!throttle.allows("a@example.com", Some(ip)));
        // Another account from the same address is not locked yet, nor this account from
        // another address.
        assert!(throttle.allows("b@example.com", Some(ip)));
        assert!(throttle.allows("a@example.com", Some("127.0.0.2".parse().unwrap())));
    }

    #[test]
    fn locks_an_address_after_failures_across_accounts() {
        let throttle = LoginThrottle::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for n in 0..MAX_FAILURES_PER_ADDRESS {
            throttle.record_failure(&format!("user{n}@example.com"), Some(ip));
        }
        assert!(!throttle.allows("fresh@example.com", Some(ip)));
        assert!(throttle.allows("fresh@example.com", Some("10.0.0.2".parse().unwrap())));
    }

    #[test]
    fn concurrent_failures_are_all_counted() {
        let throttle = LoginThrottle::default();
        let ip: IpAddr = "10.1.0.1".parse().unwrap();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..25 {
                        throttle.record_failure("raced@example.com", Some(ip));
                    }
                });
            }
        });
        // 200 failures raced in: every one counted (a read-then-write loses most).
        assert_eq!(
            throttle.failures(&throttle.accounts, &"raced@example.com".to_owned()),
            200
        );
        assert_eq!(throttle.failures(&throttle.addresses, &ip), 200);
    }

    #[test]
    fn a_flood_from_elsewhere_never_locks_the_owner_out() {
        let throttle = LoginThrottle::default();
        let home: IpAddr = "192.0.2.10".parse().unwrap();
        throttle.record_success("admin@example.com", Some(home));
        for n in 0..(MAX_FAILURES_PER_ACCOUNT * 2) {
            let attacker = IpAddr::from([198, 51, 100, (n % 250) as u8]);
            throttle.record_failure("admin@example.com", Some(attacker));
        }
        // New addresses are refused for this account now...
        assert!(!throttle.allows("admin@example.com", Some("203.0.113.1".parse().unwrap())));
        // ...but the owner's own address still gets in.
        assert!(throttle.allows("admin@example.com", Some(home)));
    }

    #[test]
    fn the_window_is_not_lengthened_by_more_failures() {
        let throttle = LoginThrottle::with_window(Duration::from_millis(300));
        let ip: IpAddr = "10.2.0.1".parse().unwrap();
        for _ in 0..MAX_FAILURES_PER_PAIR {
            throttle.record_failure("w@example.com", Some(ip));
        }
        assert!(!throttle.allows("w@example.com", Some(ip)));
        // Failures keep coming while locked; the lock still ends when the window does.
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(100));
            throttle.record_failure("w@example.com", Some(ip));
        }
        std::thread::sleep(Duration::from_millis(150));
        assert!(throttle.allows("w@example.com", Some(ip)));
    }
}
