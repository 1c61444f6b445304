//! The server's background loops (job worker, maintenance, flushers) run supervised: a loop
//! that panics is logged, counted, and started again after a backoff, and `/readyz` shows
//! how often each had to be.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

#[derive(Default)]
pub struct Supervisor {
    tasks: Mutex<BTreeMap<&'static str, TaskHealth>>,
}

#[derive(Default, Clone)]
struct TaskHealth {
    restarts: u32,
    last_failure: Option<(DateTime<Utc>, String)>,
}

impl Supervisor {
    fn started(&self, name: &'static str) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.entry(name).or_default();
        }
    }

    fn failed(&self, name: &'static str, message: String) -> u32 {
        match self.tasks.lock() {
            Ok(mut tasks) => {
                let task = tasks.entry(name).or_default();
                task.restarts += 1;
                task.last_failure = Some((Utc::now(), message));
                task.restarts
            }
            Err(_) => 1,
        }
    }

    /// Each loop with its restarts and last failure, for `/readyz`.
    pub fn report(&self) -> Value {
        let Ok(tasks) = self.tasks.lock() else {
            return Value::Null;
        };
        tasks
            .iter()
            .map(|(name, health)| {
                let mut entry = json!({ "restarts": health.restarts });
                if let Some((at, message)) = &health.last_failure {
                    entry["lastFailure"] = json!({ "at": at, "message": message });
                }
                ((*name).to_owned(), entry)
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// The wait before restarting a loop that failed `restarts` times: 1 s, 2 s, 4 s, … 60 s.
fn backoff(restarts: u32) -> Duration {
    Duration::from_secs(1u64 << restarts.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// Aborts the task it names when dropped: stopping the supervisor stops its loop.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Run `make()` as a background loop named `name`, started again whenever it panics; its
/// restarts are counted in `tasks`.
pub fn supervise<F, Fut>(
    tasks: std::sync::Arc<Supervisor>,
    name: &'static str,
    make: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        tasks.started(name);
        loop {
            let run = tokio::spawn(make());
            let _guard = AbortOnDrop(run.abort_handle());
            match run.await {
                Ok(()) => return,
                Err(err) if err.is_panic() => {
                    let panic = err.into_panic();
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown".into());
                    let restarts = tasks.failed(name, message.clone());
                    let wait = backoff(restarts);
                    tracing::error!(
                        task = name,
                        panic = message,
                        restarts,
                        "a background task panicked; restarting it in {wait:?}"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(_) => return,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loop that panics is started again (after its backoff) and its restarts are told;
    /// one that ends normally is not restarted.
    #[tokio::test]
    async fn a_panicking_loop_is_restarted_and_reported() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let tasks = std::sync::Arc::new(Supervisor::default());
        let runs = std::sync::Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let handle = supervise(tasks.clone(), "flaky", move || {
            let runs = counted.clone();
            async move {
                let run = runs.fetch_add(1, Ordering::SeqCst);
                if run < 2 {
                    panic!("run {run} fails");
                }
            }
        });
        handle.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let report = tasks.report();
        assert_eq!(report["flaky"]["restarts"], 2);
        assert_eq!(report["flaky"]["lastFailure"]["message"], "run 1 fails");
    }

    #[test]
    fn restarts_back_off_and_are_bounded() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(100), Duration::from_secs(60));
    }
}
