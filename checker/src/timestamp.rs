//! Compact UTC timestamps for result folder names (`20261126T101500`).

use std::time::{SystemTime, UNIX_EPOCH};

/// The current UTC time as `yyyymmddThhmmss`.
pub fn now_compact() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    compact(secs)
}

/// `secs` since the Unix epoch as `yyyymmddThhmmss` (UTC).
pub fn compact(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn known_instants() {
        assert_eq!(compact(0), "19700101T000000");
        assert_eq!(compact(951_782_400), "20000229T000000");
        assert_eq!(compact(1_795_686_750), "20261126T095230");
    }
}
