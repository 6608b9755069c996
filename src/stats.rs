//! Small pure helpers for the numbers in a summary: percentiles, medians and speedups.

use std::time::Duration;

/// Nearest-rank percentile of `sorted` (ascending); `p` in 0..=100. `None` when empty.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Median (mean of the middle two for an even count). `None` when empty.
pub fn median(values: &[Duration]) -> Option<Duration> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2),
    }
}

/// Mean and sample standard deviation (0 for fewer than two values). `None` when empty.
pub fn mean_stddev(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = match n {
        1 => 0.0,
        _ => values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64,
    };
    Some((mean, var.sqrt()))
}

/// How many times faster `run` was than `baseline`; `None` when `run` took no measurable time.
pub fn speedup(baseline: Duration, run: Duration) -> Option<f64> {
    if run.is_zero() {
        return None;
    }
    Some(baseline.as_secs_f64() / run.as_secs_f64())
}

/// Whole microseconds, rounded half up: the one rounding step every printed figure goes through,
/// so a row and the summary computed from the same page never disagree in the last digit.
pub fn micros(d: Duration) -> u64 {
    u64::try_from((d.as_nanos() + 500) / 1000).unwrap_or(u64::MAX)
}

/// Milliseconds as a float with microsecond resolution, for serialized `*_ms` fields.
pub fn ms(d: Duration) -> f64 {
    micros(d) as f64 / 1e3
}

/// Milliseconds rounded to the microsecond, as every `*_ms` field is.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// `85 µs`, `312.4 ms`, `2.31 s`: from the rounded microseconds, in integer arithmetic, so the
/// same duration always prints the same text.
pub fn human(d: Duration) -> String {
    let us = micros(d);
    let tenths_of_ms = (us + 50) / 100;
    if us < 1000 {
        format!("{us} µs")
    } else if tenths_of_ms < 10_000 {
        format!("{}.{} ms", tenths_of_ms / 10, tenths_of_ms % 10)
    } else {
        let hundredths = (us + 5_000) / 10_000;
        format!("{}.{:02} s", hundredths / 100, hundredths % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_list(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentiles_nearest_rank() {
        let v = ms_list(&[10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
        assert_eq!(percentile(&v, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&v, 90.0), Some(Duration::from_millis(90)));
        assert_eq!(percentile(&v, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&v, 0.0), Some(Duration::from_millis(10)));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
    }

    #[test]
    fn medians() {
        assert_eq!(
            median(&ms_list(&[30, 10, 20])),
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            median(&ms_list(&[40, 10, 20, 30])),
            Some(Duration::from_millis(25))
        );
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn mean_and_sample_stddev() {
        let (m, s) = mean_stddev(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert!((m - 5.0).abs() < 1e-12);
        assert!((s - 2.138_089_935).abs() < 1e-6);
        assert_eq!(mean_stddev(&[3.0]), Some((3.0, 0.0)));
        assert_eq!(mean_stddev(&[]), None);
    }

    #[test]
    fn speedup_guards_zero() {
        let s = speedup(Duration::from_millis(600), Duration::from_millis(100)).unwrap();
        assert!((s - 6.0).abs() < 1e-9);
        assert_eq!(speedup(Duration::from_secs(1), Duration::ZERO), None);
    }

    #[test]
    fn ms_rounds_to_microseconds() {
        assert_eq!(ms(Duration::from_nanos(1_234_567)), 1.235);
        assert_eq!(ms(Duration::from_nanos(6_266_500)), 6.267);
        assert_eq!(micros(Duration::from_nanos(6_266_499)), 6266);
    }

    #[test]
    fn human_durations_round_once() {
        assert_eq!(human(Duration::from_micros(312_400)), "312.4 ms");
        assert_eq!(human(Duration::from_micros(312_450)), "312.5 ms");
        assert_eq!(human(Duration::from_millis(2310)), "2.31 s");
        assert_eq!(human(Duration::from_micros(85)), "85 µs");
        assert_eq!(human(Duration::from_nanos(999_600)), "1.0 ms");
        assert_eq!(human(Duration::from_micros(999_960)), "1.00 s");
        assert_eq!(human(Duration::ZERO), "0 µs");
    }
}
