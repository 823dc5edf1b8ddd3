//! Transfer speeds over a sliding window of a few seconds, sampled by the scheduler tick.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(5);
const MIN_GAP: Duration = Duration::from_millis(500);

#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    samples: VecDeque<(Instant, u64, u64)>,
}

impl RateWindow {
    /// Records cumulative downloaded (have) and uploaded bytes at `now`.
    pub fn sample(&mut self, now: Instant, down: u64, up: u64) {
        if let Some(&(t, d, u)) = self.samples.back() {
            // A counter that went backwards (recheck, new engine handle) starts over.
            if down < d || up < u {
                self.samples.clear();
            } else if now.duration_since(t) < MIN_GAP {
                return;
            }
        }
        self.samples.push_back((now, down, up));
        while self
            .samples
            .front()
            .is_some_and(|(t, _, _)| now.duration_since(*t) > WINDOW)
        {
            self.samples.pop_front();
        }
    }

    pub fn clear(&mut self) {
        self.samples.clear();
    }

    /// (download, upload) bytes per second; zero until two samples exist.
    pub fn speeds(&self) -> (u64, u64) {
        let (Some(first), Some(last)) = (self.samples.front(), self.samples.back()) else {
            return (0, 0);
        };
        let secs = last.0.duration_since(first.0).as_secs_f64();
        if secs <= 0.0 {
            return (0, 0);
        }
        (
            ((last.1 - first.1) as f64 / secs) as u64,
            ((last.2 - first.2) as f64 / secs) as u64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooths_over_the_window_and_resets_on_rewind() {
        let t0 = Instant::now();
        let mut w = RateWindow::default();
        assert_eq!(w.speeds(), (0, 0));
        w.sample(t0, 0, 0);
        w.sample(t0 + Duration::from_secs(1), 1000, 10);
        w.sample(t0 + Duration::from_millis(1100), 5000, 10); // too close: ignored
        w.sample(t0 + Duration::from_secs(2), 2000, 30);
        assert_eq!(w.speeds(), (1000, 15));
        w.sample(t0 + Duration::from_secs(9), 2000, 30); // idle: old samples age out
        assert_eq!(w.speeds(), (0, 0));
        w.sample(t0 + Duration::from_secs(10), 10, 0); // recheck rewound the counters
        assert_eq!(w.speeds(), (0, 0));
    }
}
