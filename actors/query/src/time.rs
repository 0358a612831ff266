//! RFC 3339 times to and from epoch nanoseconds (UTC), without a calendar library.

use std::fmt::Write as _;

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const SECONDS_PER_DAY: i128 = 86_400;

/// Parses `2024-05-01`, `2024-05-01T10:00:00Z`, `2024-05-01T10:00:00.25+02:00` (a `T` or `t`,
/// `Z`/`z` or a `±HH:MM` offset; a date alone is midnight UTC; seconds may be left out) into epoch
/// nanoseconds. `None` when malformed or outside the range of `i64` nanoseconds (1677 to 2262).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let year = digits(bytes, 0, 4)?;
    expect(bytes, 4, b'-')?;
    let month = digits(bytes, 5, 2)?;
    expect(bytes, 7, b'-')?;
    let day = digits(bytes, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let mut seconds = days * SECONDS_PER_DAY;
    let mut nanos: i128 = 0;
    if bytes.len() > 10 {
        if !matches!(bytes[10], b'T' | b't') {
            return None;
        }
        let hour = digits(bytes, 11, 2)?;
        expect(bytes, 13, b':')?;
        let minute = digits(bytes, 14, 2)?;
        let mut at = 16;
        let mut second = 0;
        if bytes.get(at) == Some(&b':') {
            second = digits(bytes, at + 1, 2)?;
            at += 3;
            if bytes.get(at) == Some(&b'.') {
                at += 1;
                let start = at;
                while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                    at += 1;
                }
                let fraction = &bytes[start..at];
                if fraction.is_empty() || fraction.len() > 9 {
                    return None;
                }
                let mut value: i128 = 0;
                for (index, digit) in fraction.iter().enumerate() {
                    value += i128::from(digit - b'0') * 10i128.pow(8 - index as u32);
                }
                nanos = value;
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        seconds += hour * 3600 + minute * 60 + second;
        let offset = match bytes.get(at) {
            Some(b'Z' | b'z') if bytes.len() == at + 1 => 0,
            Some(&sign @ (b'+' | b'-')) if bytes.len() == at + 6 => {
                let hours = digits(bytes, at + 1, 2)?;
                expect(bytes, at + 3, b':')?;
                let minutes = digits(bytes, at + 4, 2)?;
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let offset = hours * 3600 + minutes * 60;
                if sign == b'+' {
                    offset
                } else {
                    -offset
                }
            }
            _ => return None,
        };
        seconds -= offset;
    }
    i64::try_from(seconds * NANOS_PER_SECOND + nanos).ok()
}

/// `2024-05-01T10:00:00Z`, with as many fraction digits as needed to be exact (none for whole
/// seconds). Every `i64` has a spelling that [`parse_rfc3339`] reads back to the same value.
pub fn format_rfc3339(nanos: i64) -> String {
    let nanos = i128::from(nanos);
    let seconds = nanos.div_euclid(NANOS_PER_SECOND);
    let fraction = nanos.rem_euclid(NANOS_PER_SECOND);
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    );
    if fraction != 0 {
        let digits = format!("{fraction:09}");
        let _ = write!(out, ".{}", digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// `2024-05-01T10:00:00.250Z`: milliseconds, always three digits (HAR, logs).
pub fn format_rfc3339_millis(nanos: i64) -> String {
    let nanos = i128::from(nanos);
    let seconds = nanos.div_euclid(NANOS_PER_SECOND);
    let millis = nanos.rem_euclid(NANOS_PER_SECOND) / 1_000_000;
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

fn digits(bytes: &[u8], at: usize, count: usize) -> Option<i128> {
    let slice = bytes.get(at..at + count)?;
    slice.iter().try_fold(0i128, |value, byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + i128::from(byte - b'0'))
    })
}

fn expect(bytes: &[u8], at: usize, byte: u8) -> Option<()> {
    (bytes.get(at) == Some(&byte)).then_some(())
}

fn is_leap(year: i128) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i128, month: i128) -> i128 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {

    #[test]
    fn millisecond_spelling_and_zones() {
        let nanos = parse_rfc3339("2024-05-01T10:00:00.25+02:00");
        assert_eq!(nanos, Some(1_714_550_400_250_000_000));
        assert_eq!(
            format_rfc3339_millis(1_714_550_400_250_000_000),
            "2024-05-01T08:00:00.250Z"
        );
        assert_eq!(parse_rfc3339("1970-01-01"), Some(0));
        assert_eq!(parse_rfc3339("2024-02-30"), None);
        assert_eq!(parse_rfc3339("2024-05-01T10:00:00"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    use super::*;

    #[test]
    fn known_times() {
        assert_eq!(parse_rfc3339("1970-01-01"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Some(1_000_000_000));
        assert_eq!(
            parse_rfc3339("2024-05-01T12:00:00+02:00"),
            Some(1_714_557_600_000_000_000)
        );
        assert_eq!(
            parse_rfc3339("2024-05-01T10:00Z"),
            parse_rfc3339("2024-05-01T10:00:00Z")
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.5Z"), Some(-500_000_000));
        assert_eq!(format_rfc3339(-500_000_000), "1969-12-31T23:59:59.5Z");
        assert_eq!(
            format_rfc3339(1_714_557_600_000_000_000),
            "2024-05-01T10:00:00Z"
        );
    }

    #[test]
    fn malformed_times() {
        for text in [
            "2024-02-30",
            "2023-02-29",
            "2024-13-01",
            "2024-05-01T24:00:00Z",
            "2024-05-01T10:00:00",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00.1234567890Z",
            "2024-05-01 10:00:00Z",
            "2300-01-01",
            "24-05-01",
            "2024-05-01T10:00:00+0200",
        ] {
            assert_eq!(parse_rfc3339(text), None, "{text}");
        }
        assert_eq!(parse_rfc3339("2024-02-29"), Some(1_709_164_800_000_000_000));
    }

    #[test]
    fn extremes_round_trip() {
        for nanos in [i64::MIN, i64::MAX, 0, -1, 1, 951_782_400_123_000_000] {
            assert_eq!(
                parse_rfc3339(&format_rfc3339(nanos)),
                Some(nanos),
                "{nanos}"
            );
        }
    }
}
