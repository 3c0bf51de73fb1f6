//! The bounds every request is held to, checked before any store is touched.

use crate::ServiceError;

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

#[cfg(test)]
mod tests {
    use super::*;

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
