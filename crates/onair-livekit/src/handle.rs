use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Owns one native handle id and drops it exactly once.
#[derive(Debug)]
pub(crate) struct FfiHandle(u64);

impl FfiHandle {
    pub(crate) fn new(id: u64) -> Self {
        if id != 0 {
            LIVE.fetch_add(1, Ordering::SeqCst);
        }
        Self(id)
    }

    pub(crate) fn id(&self) -> u64 {
        self.0
    }
}

impl Drop for FfiHandle {
    fn drop(&mut self) {
        if self.0 != 0 {
            crate::engine::drop_native_handle(self.0);
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

pub(crate) fn live_count() -> usize {
    LIVE.load(Ordering::SeqCst)
}
