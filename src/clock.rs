//! Wall-clock time, the one place that reads it (clippy.toml bans `SystemTime::now`
//! elsewhere), so tests can move time forward through a running server.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Unix seconds, possibly shifted by a test.
#[derive(Clone, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        system_now() + self.offset.load(Ordering::Relaxed)
    }

    /// Moves this clock forward (tests: code expiry, `max_age`, key retention).
    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::Relaxed);
    }
}

#[allow(clippy::disallowed_methods)]
fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_is_shared_by_clones() {
        let clock = Clock::system();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(30);
        assert!(copy.now() >= before + 30);
    }
}
