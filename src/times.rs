//! Page times of a run, for its percentiles, in memory that does not grow with the run.
//!
//! Up to [`EXACT_UP_TO`] answered pages every time is kept (4 bytes each) and percentiles are
//! exact nearest-rank values. Beyond that the times move into a log-linear histogram: exact to the
//! microsecond below 1.024 ms, and within 1/1024 (0.1%) above, in about 94 KB whatever the count.
//! The largest time is always exact.

use std::time::Duration;

use crate::stats;

/// Answered pages whose times are kept one by one.
pub const EXACT_UP_TO: usize = 65_536;

/// Buckets per doubling of the value (and the number of one-microsecond buckets at the bottom).
const SUB_BITS: u32 = 10;
const SUB: u64 = 1 << SUB_BITS;

#[derive(Debug, Clone, Default)]
pub struct PageTimes {
    exact: Vec<u32>,
    sorted: bool,
    histogram: Option<Histogram>,
    max_us: u32,
}

impl PageTimes {
    /// Adds one page time, in whole microseconds (as rounded by `stats::micros`).
    pub fn add(&mut self, us: u32) {
        self.max_us = self.max_us.max(us);
        match &mut self.histogram {
            Some(h) => h.add(us),
            None if self.exact.len() < EXACT_UP_TO => {
                self.exact.push(us);
                self.sorted = false;
            }
            None => {
                let mut h = Histogram::default();
                for &t in &self.exact {
                    h.add(t);
                }
                h.add(us);
                self.exact = Vec::new();
                self.histogram = Some(h);
            }
        }
    }

    /// Pages counted.
    pub fn count(&self) -> u64 {
        match &self.histogram {
            Some(h) => h.total,
            None => self.exact.len() as u64,
        }
    }

    /// Sorts the kept times; call once the run is over, before asking for percentiles.
    pub fn finish(&mut self) {
        if !self.sorted {
            self.exact.sort_unstable();
            self.sorted = true;
        }
    }

    /// Nearest-rank percentile `p` (0..=100); `None` when no page was counted.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let us = match &self.histogram {
            _ if p >= 100.0 => (self.count() > 0).then_some(self.max_us),
            Some(h) => h.percentile(p).map(|us| us.min(self.max_us)),
            None => {
                debug_assert!(self.sorted || self.exact.len() < 2, "finish() first");
                stats::percentile(&self.exact, p)
            }
        }?;
        Some(Duration::from_micros(us.into()))
    }
}

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

/// The bucket of a value: the value itself below `SUB`, then `SUB` buckets per doubling.
fn bucket(us: u32) -> usize {
    let v = u64::from(us);
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // 2^e <= v < 2^(e+1), e >= SUB_BITS
    let shift = e - SUB_BITS;
    let within = (v - (1 << e)) >> shift;
    (SUB + u64::from(e - SUB_BITS) * SUB + within) as usize
}

/// The middle of a bucket's range, as the value it stands for.
fn value(bucket: usize) -> u32 {
    let b = bucket as u64;
    if b < SUB {
        return b as u32;
    }
    let e = (b - SUB) / SUB + u64::from(SUB_BITS);
    let within = (b - SUB) % SUB;
    let shift = e - u64::from(SUB_BITS);
    let low = (1u64 << e) + (within << shift);
    let mid = low + ((1u64 << shift) - 1) / 2;
    u32::try_from(mid).unwrap_or(u32::MAX)
}

impl Histogram {
    fn add(&mut self, us: u32) {
        let b = bucket(us);
        if b >= self.counts.len() {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] += 1;
        self.total += 1;
    }

    fn percentile(&self, p: f64) -> Option<u32> {
        if self.total == 0 {
            return None;
        }
        let rank = ((p / 100.0) * self.total as f64)
            .ceil()
            .clamp(1.0, self.total as f64) as u64;
        let mut seen = 0;
        for (b, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(value(b));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_exact_below_1024_us_and_within_a_thousandth_above() {
        for us in [0u32, 1, 999, 1023] {
            assert_eq!(value(bucket(us)), us);
        }
        for us in [
            1024u32,
            1500,
            20_000,
            99_999,
            1_234_567,
            60_000_000,
            u32::MAX,
        ] {
            let v = value(bucket(us));
            let err = (f64::from(v) - f64::from(us)).abs() / f64::from(us);
            assert!(err <= 1.0 / 1024.0, "{us} -> {v}");
        }
        // Buckets are contiguous and increasing.
        assert_eq!(bucket(1023) + 1, bucket(1024));
        assert!(bucket(u32::MAX) < 23_552);
    }

    #[test]
    fn exact_until_the_limit_then_close_with_an_exact_maximum() {
        let mut t = PageTimes::default();
        for us in [30, 10, 20] {
            t.add(us);
        }
        t.finish();
        assert_eq!(t.percentile(50.0), Some(Duration::from_micros(20)));
        assert_eq!(t.percentile(100.0), Some(Duration::from_micros(30)));

        let mut big = PageTimes::default();
        let n = EXACT_UP_TO as u32 * 3;
        for i in 0..n {
            big.add(100_000 + (i % 1000) * 37);
        }
        big.finish();
        assert_eq!(big.count(), u64::from(n));
        assert!(big.exact.is_empty(), "moved into the histogram");
        let p50 = big.percentile(50.0).unwrap().as_micros() as f64;
        let exact_p50 = 100_000.0 + 499.0 * 37.0;
        assert!(
            (p50 - exact_p50).abs() / exact_p50 <= 1.0 / 1024.0,
            "{p50} vs {exact_p50}"
        );
        assert_eq!(
            big.percentile(100.0),
            Some(Duration::from_micros(100_000 + 999 * 37))
        );
        assert_eq!(PageTimes::default().percentile(50.0), None);
    }
}
