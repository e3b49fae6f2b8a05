//! A byte budget shared by every observation buffer in the process: request bodies kept for
//! parsing, parsed request content held until the span ends, and non-streamed response
//! bodies accumulated for parsing.
//!
//! Each in-flight call reserves what it keeps; the reservation is returned when the call's
//! observation ends. Past the budget the instrumentation observes less (the response or the
//! request is not parsed), records [`FaultKind::ObservationBudget`](crate::FaultKind) and
//! marks the span (`openllmetry.request.truncated` / `openllmetry.response.truncated`); the
//! call itself is never slowed, failed or changed. The gateway reserves its request-body
//! copies from the same budget ([`global`]).

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Default capacity of the [`global`] observation budget: 64 MiB, shared by all calls in
/// flight. With it, 12 concurrent requests with 30 MiB prompts keep the gateway under
/// 256 MiB RSS (`crates/openllmetry-gateway/tests/observation_budget.rs`).
pub const DEFAULT_OBSERVATION_BUDGET_BYTES: usize = 64 * 1024 * 1024;

/// A byte budget. Lock-free; reservations return their bytes when dropped.
pub struct ObservationBudget {
    capacity: AtomicUsize,
    used: AtomicUsize,
}

impl fmt::Debug for ObservationBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservationBudget")
            .field("capacity", &self.capacity())
            .field("used", &self.used())
            .finish()
    }
}

impl ObservationBudget {
    /// A budget of `capacity` bytes.
    pub fn new(capacity: usize) -> Arc<ObservationBudget> {
        Arc::new(ObservationBudget {
            capacity: AtomicUsize::new(capacity),
            used: AtomicUsize::new(0),
        })
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Changes the capacity (reservations already made are kept).
    pub fn set_capacity(&self, bytes: usize) {
        self.capacity.store(bytes, Ordering::Relaxed);
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn take(&self, bytes: usize) -> bool {
        let cap = self.capacity();
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |u| {
                u.checked_add(bytes).filter(|n| *n <= cap)
            })
            .is_ok()
    }

    fn give(&self, bytes: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(bytes))
            });
    }

    /// Reserves `bytes`, or `None` if that would exceed the capacity.
    pub fn try_reserve(self: &Arc<Self>, bytes: usize) -> Option<Reservation> {
        self.take(bytes).then(|| Reservation {
            budget: self.clone(),
            bytes,
        })
    }

    /// An empty reservation, to [`Reservation::grow`] later.
    pub fn empty(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: self.clone(),
            bytes: 0,
        }
    }
}

/// Bytes taken from an [`ObservationBudget`]; returned when dropped.
pub struct Reservation {
    budget: Arc<ObservationBudget>,
    bytes: usize,
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Reservation {
    /// Reserves `bytes` more; `false` (and nothing reserved) if the budget cannot hold them.
    pub fn grow(&mut self, bytes: usize) -> bool {
        if self.budget.take(bytes) {
            self.bytes += bytes;
            true
        } else {
            false
        }
    }

    /// Returns up to `bytes` of the reservation to the budget now (e.g. to hand them to the
    /// instrumentation, which reserves a parsed request's size itself).
    pub fn release(&mut self, bytes: usize) {
        let n = bytes.min(self.bytes);
        self.bytes -= n;
        self.budget.give(n);
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give(self.bytes);
    }
}

/// The process-wide budget (capacity [`DEFAULT_OBSERVATION_BUDGET_BYTES`] unless changed with
/// [`ObservationBudget::set_capacity`]). Every [`Instrumentation`](crate::Instrumentation)
/// uses it unless built with another one.
pub fn global() -> &'static Arc<ObservationBudget> {
    static GLOBAL: OnceLock<Arc<ObservationBudget>> = OnceLock::new();
    GLOBAL.get_or_init(|| ObservationBudget::new(DEFAULT_OBSERVATION_BUDGET_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_bounded_and_returned() {
        let b = ObservationBudget::new(100);
        let r1 = b.try_reserve(60).expect("fits");
        assert!(b.try_reserve(50).is_none());
        let mut r2 = b.empty();
        assert!(r2.grow(40));
        assert!(!r2.grow(1));
        assert_eq!(b.used(), 100);
        drop(r1);
        assert_eq!(b.used(), 40);
        assert!(r2.grow(60));
        r2.release(30);
        assert_eq!((r2.bytes(), b.used()), (70, 70));
        drop(r2);
        assert_eq!(b.used(), 0);
    }
}
