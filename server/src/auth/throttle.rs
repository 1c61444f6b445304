//! Sign-in throttling: failed attempts counted per account and per address. After too many,
//! further attempts are refused until the window passes without a new failure.

use std::net::IpAddr;
use std::time::Duration;

use moka::sync::Cache;

pub const MAX_FAILURES_PER_ACCOUNT: u32 = 5;
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
pub struct LoginThrottle {
    accounts: Cache<String, u32>,
    addresses: Cache<IpAddr, u32>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            accounts: window_cache(),
            addresses: window_cache(),
        }
    }
}

impl LoginThrottle {
    /// Whether another attempt for this account from this address may be tried now.
    pub fn allows(&self, email: &str, address: Option<IpAddr>) -> bool {
        let account_ok =
            self.accounts.get(&normalize(email)).unwrap_or(0) < MAX_FAILURES_PER_ACCOUNT;
        let address_ok = address
            .map(|ip| self.addresses.get(&ip).unwrap_or(0) < MAX_FAILURES_PER_ADDRESS)
            .unwrap_or(true);
        account_ok && address_ok
    }

    pub fn record_failure(&self, email: &str, address: Option<IpAddr>) {
        let key = normalize(email);
        let count = self.accounts.get(&key).unwrap_or(0);
        self.accounts.insert(key, count + 1);
        if let Some(ip) = address {
            let count = self.addresses.get(&ip).unwrap_or(0);
            self.addresses.insert(ip, count + 1);
        }
    }

    pub fn record_success(&self, email: &str) {
        self.accounts.invalidate(&normalize(email));
    }
}

fn window_cache<K: std::hash::Hash + Eq + Send + Sync + 'static>() -> Cache<K, u32> {
    Cache::builder()
        .max_capacity(100_000)
        .time_to_live(WINDOW)
        .build()
}

fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_an_account_after_repeated_failures() {
        let throttle = LoginThrottle::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..MAX_FAILURES_PER_ACCOUNT {
            assert!(throttle.allows("a@example.com", Some(ip)));
            throttle.record_failure("A@example.com", Some(ip));
        }
        assert!(!throttle.allows("a@example.com", Some(ip)));
        // Another account from the same address is not locked yet.
        assert!(throttle.allows("b@example.com", Some(ip)));
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
}
