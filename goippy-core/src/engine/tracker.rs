//! Knowing when the engine's background tasks are done, so shutdown can wait
//! for them: every tracked task holds a [`TaskToken`], and
//! [`TaskTracker::wait_idle`] returns once none is left.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

#[derive(Debug, Default)]
struct Inner {
    running: AtomicUsize,
    idle: Notify,
}

#[derive(Debug, Default)]
pub(crate) struct TaskTracker {
    inner: Arc<Inner>,
}

/// Held by a running task; dropping it marks the task finished.
#[derive(Debug)]
pub(crate) struct TaskToken {
    inner: Arc<Inner>,
}

impl TaskTracker {
    pub(crate) fn token(&self) -> TaskToken {
        self.inner.running.fetch_add(1, Ordering::SeqCst);
        TaskToken {
            inner: self.inner.clone(),
        }
    }

    pub(crate) fn running(&self) -> usize {
        self.inner.running.load(Ordering::SeqCst)
    }

    /// Returns once no token is held.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.running() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for TaskToken {
    fn drop(&mut self) {
        if self.inner.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waits_for_every_token() {
        let t = TaskTracker::default();
        t.wait_idle().await;
        let a = t.token();
        let b = t.token();
        assert_eq!(t.running(), 2);
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(a);
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(b);
        });
        t.wait_idle().await;
        assert_eq!(t.running(), 0);
        task.await.unwrap();
    }
}
