//! The bounds every request is held to, checked before any store is touched.

use crate::ServiceError;
use std::sync::Mutex;
use std::time::Instant;

/// The longest key, in characters.
pub const MAX_KEY_CHARS: usize = 256;
/// What a key is, as the OpenAPI document says it (JSON Schema's `pattern`); [`key`] checks the
/// same.
pub const KEY_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,256}$";
/// What an account name is, as the OpenAPI document says it; [`account`] checks the same.
pub const ACCOUNT_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";
/// The longest account name, in bytes.
pub const MAX_ACCOUNT_BYTES: usize = 64;
/// The largest REST body, in bytes (gRPC messages share it).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The largest amount one transfer or opening balance may carry: sums of many stay far from
/// `i64::MAX`, so no balance can overflow.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// A key: 1 to [`MAX_KEY_CHARS`] characters, no control characters.
pub fn key(key: &str) -> Result<&str, ServiceError> {
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_KEY_CHARS {
        return Err(ServiceError::Invalid(format!(
            "a key has 1 to {MAX_KEY_CHARS} characters; this one has {chars}"
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(ServiceError::Invalid(
            "a key may not contain control characters".into(),
        ));
    }
    Ok(key)
}

/// An account name: 1 to [`MAX_ACCOUNT_BYTES`] of `A-Z a-z 0-9 _ -`.
pub fn account(name: &str) -> Result<&str, ServiceError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_ACCOUNT_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(name)
    } else {
        Err(ServiceError::Invalid(format!(
            "an account name has 1 to {MAX_ACCOUNT_BYTES} of A-Z a-z 0-9 _ -; got {name:?}"
        )))
    }
}

/// A counter's increment: `-MAX_AMOUNT..=MAX_AMOUNT` (so no sum of them can overflow).
pub fn delta(delta: i64) -> Result<i64, ServiceError> {
    if (-MAX_AMOUNT..=MAX_AMOUNT).contains(&delta) {
        Ok(delta)
    } else {
        Err(ServiceError::Invalid(format!(
            "an increment must be between -{MAX_AMOUNT} and {MAX_AMOUNT}; got {delta}"
        )))
    }
}

/// An amount of `what`: `0..=MAX_AMOUNT`, or `1..=MAX_AMOUNT` when `positive`.
pub fn amount(what: &str, amount: i64, positive: bool) -> Result<i64, ServiceError> {
    let low = i64::from(positive);
    if (low..=MAX_AMOUNT).contains(&amount) {
        Ok(amount)
    } else {
        Err(ServiceError::Invalid(format!(
            "{what} must be between {low} and {MAX_AMOUNT}; got {amount}"
        )))
    }
}

/// The instance's request rate limit (the live setting `rate-limit`, requests per second; 0:
/// none): a token bucket holding up to one second of requests, so a burst after a quiet spell is
/// served and a sustained excess is refused with [`ServiceError::Overloaded`].
#[derive(Debug)]
pub struct RateLimit {
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    per_second: u32,
    tokens: f64,
    refilled: Instant,
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit {
            bucket: Mutex::new(Bucket {
                per_second: 0,
                tokens: 0.0,
                refilled: Instant::now(),
            }),
        }
    }
}

impl RateLimit {
    /// Requests per second allowed from now on (0: no limit); the bucket starts full.
    pub fn set(&self, per_second: u32) {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        *bucket = Bucket {
            per_second,
            tokens: f64::from(per_second),
            refilled: Instant::now(),
        };
    }

    /// The limit now (0: none).
    pub fn per_second(&self) -> u32 {
        self.bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .per_second
    }

    /// Takes one request's token, or refuses it.
    pub fn admit(&self) -> Result<(), ServiceError> {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        if bucket.per_second == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let rate = f64::from(bucket.per_second);
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(ServiceError::Overloaded(format!(
                "over this instance's rate limit of {} requests per second",
                bucket.per_second
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_admits_a_second_of_requests_then_refuses_and_none_when_off() {
        let limit = RateLimit::default();
        assert!(
            (0..1000).all(|_| limit.admit().is_ok()),
            "no limit by default"
        );
        limit.set(5);
        let admitted = (0..20).filter(|_| limit.admit().is_ok()).count();
        assert!(
            (5..=6).contains(&admitted),
            "{admitted} of 20 admitted at 5/s"
        );
        let refused = limit.admit().unwrap_err();
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.to_string().contains('5'), "{refused}");
        limit.set(0);
        assert!(limit.admit().is_ok());
    }

    #[test]
    fn keys_accounts_and_amounts_out_of_bounds_are_refused_with_a_reason() {
        assert!(key("k1").is_ok());
        assert!(key("").unwrap_err().to_string().contains("0"));
        assert!(key(&"x".repeat(MAX_KEY_CHARS + 1)).is_err());
        assert!(
            key(&"é".repeat(MAX_KEY_CHARS)).is_ok(),
            "characters, not bytes"
        );
        assert!(key("a\u{85}b").is_err(), "C1 controls too");
        assert!(key("a\nb").is_err());
        assert!(account("alice_2").is_ok());
        assert!(account("al ice")
            .unwrap_err()
            .to_string()
            .contains("al ice"));
        assert!(account(&"a".repeat(MAX_ACCOUNT_BYTES + 1)).is_err());
        assert_eq!(amount("amount", 5, true).unwrap(), 5);
        assert!(amount("amount", 0, true).is_err());
        assert!(amount("balance", 0, false).is_ok());
        assert!(amount("amount", -1, false).is_err());
        assert!(amount("amount", i64::MAX, true).is_err());
    }
}
