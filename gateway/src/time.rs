//! RFC 3339 times to and from epoch nanoseconds (UTC), without a calendar library.

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const SECONDS_PER_DAY: i128 = 86_400;

/// Parses `2024-05-01`, `2024-05-01T10:00:00Z`, `2024-05-01T10:00:00.25+02:00` into epoch
/// nanoseconds. `None` when malformed or outside `i64` nanoseconds.
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
    let mut seconds = days_from_civil(year, month, day) * SECONDS_PER_DAY;
    let mut nanos: i128 = 0;
    if bytes.len() > 10 {
        if !matches!(bytes[10], b'T' | b't' | b' ') {
            return None;
        }
        let hour = digits(bytes, 11, 2)?;
        expect(bytes, 13, b':')?;
        let minute = digits(bytes, 14, 2)?;
        expect(bytes, 16, b':')?;
        let second = digits(bytes, 17, 2)?;
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let mut at = 19;
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            let fraction = &text[start..at];
            if fraction.is_empty() {
                return None;
            }
            let kept = &fraction[..fraction.len().min(9)];
            nanos = kept.parse::<i128>().ok()? * 10_i128.pow(9 - kept.len() as u32);
        }
        seconds += hour * 3600 + minute * 60 + second;
        match bytes.get(at) {
            Some(b'Z' | b'z') if at + 1 == bytes.len() => {}
            Some(sign @ (b'+' | b'-')) if at + 6 == bytes.len() => {
                let oh = digits(bytes, at + 1, 2)?;
                expect(bytes, at + 3, b':')?;
                let om = digits(bytes, at + 4, 2)?;
                if oh > 23 || om > 59 {
                    return None;
                }
                let offset = oh * 3600 + om * 60;
                seconds += if *sign == b'+' { -offset } else { offset };
            }
            _ => return None,
        }
    }
    i64::try_from(seconds * NANOS_PER_SECOND + nanos).ok()
}

/// `2024-05-01T10:00:00.250Z` (milliseconds, UTC).
pub fn format_rfc3339_millis(nanos: i64) -> String {
    let nanos = i128::from(nanos);
    let seconds = nanos.div_euclid(NANOS_PER_SECOND);
    let millis = nanos.rem_euclid(NANOS_PER_SECOND) / 1_000_000;
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

fn digits(bytes: &[u8], at: usize, len: usize) -> Option<i128> {
    let slice = bytes.get(at..at + len)?;
    slice.iter().try_fold(0_i128, |acc, byte| {
        byte.is_ascii_digit()
            .then(|| acc * 10 + i128::from(byte - b'0'))
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

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
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
}
