//! Knowing when the engine's background tasks are done, so shutdown can wait
//! for them: every tracked task holds a [`TaskToken`], and
//! [`TaskTracker::wait_idle`] returns once none is left.
//!
//! A token is a receiver of a watch channel on which nothing is ever sent:
//! the channel already counts its receivers and tells the sender when the
//! last one is gone.

use tokio::sync::watch;

/// Held by a running task; dropping it marks the task finished.
pub(crate) type TaskToken = watch::Receiver<()>;

#[derive(Debug)]
pub(crate) struct TaskTracker(watch::Sender<()>);

impl Default for TaskTracker {
    fn default() -> Self {
        TaskTracker(watch::Sender::new(()))
    }
}

impl TaskTracker {
    pub(crate) fn token(&self) -> TaskToken {
        self.0.subscribe()
    }

    pub(crate) fn running(&self) -> usize {
        self.0.receiver_count()
    }

    /// Returns once no token is held.
    pub(crate) async fn wait_idle(&self) {
        self.0.closed().await;
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
