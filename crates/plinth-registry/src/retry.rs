//! Retries with exponential backoff and jitter, honouring `Retry-After` (modelled on ggcr:
//! 1 s initial, factor 3, jitter 0.1, a few attempts).

use std::time::{Duration, SystemTime};

/// How often and how patiently to retry transient failures.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Total attempts, the first one included (at least 1).
    pub max_attempts: u32,
    /// The wait before the first retry.
    pub initial_backoff: Duration,
    /// The multiplier between waits.
    pub factor: u32,
    /// The random fraction added to each wait (0.1 = up to +10 %).
    pub jitter: f64,
    /// The longest wait honoured from a `Retry-After` header.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            factor: 3,
            jitter: 0.1,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (1 = the first retry), unless the server said otherwise.
    pub fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_retry_after);
        }
        let base = self
            .initial_backoff
            .saturating_mul(self.factor.saturating_pow(retry.saturating_sub(1)));
        let jitter = base.mul_f64(self.jitter.clamp(0.0, 1.0) * rand::random::<f64>());
        base + jitter
    }
}

/// Parses `Retry-After`: delay seconds or an HTTP date. Dates in the past give zero.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_by_factor_and_caps_retry_after() {
        let p = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        assert_eq!(p.backoff(1, None), Duration::from_secs(1));
        assert_eq!(p.backoff(2, None), Duration::from_secs(3));
        assert_eq!(p.backoff(3, None), Duration::from_secs(9));
        assert_eq!(
            p.backoff(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
        let j = RetryPolicy::default().backoff(1, None);
        assert!(j >= Duration::from_secs(1) && j <= Duration::from_millis(1100));
    }
}
