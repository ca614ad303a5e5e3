//! Locking a std lock also after a panic elsewhere.
//!
//! goippy's std mutexes and read-write locks guard small maps and counters,
//! held for a statement or two and never across an `.await`; every
//! structure they guard is valid between any two statements. A task that
//! panicked while holding one leaves nothing half-done, so the poison is
//! ignored instead of turning one task's panic into every task's.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `mutex`, poisoned or not.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-locks `rwlock`, poisoned or not.
pub(crate) fn read_lock<T>(rwlock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    rwlock.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-locks `rwlock`, poisoned or not.
pub(crate) fn write_lock<T>(rwlock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    rwlock.write().unwrap_or_else(PoisonError::into_inner)
}
