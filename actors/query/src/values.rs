//! Scalar values: reading them from the text of a term, and their canonical spelling.

use std::net::IpAddr;

use crate::ast::{full_prefix, IpFilter, Value};
use crate::time;

/// Duration units, largest first, in nanoseconds.
pub(crate) const DURATION_UNITS: &[(&str, i64)] = &[
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// Size units, largest first, in bytes (1024-based: `1kb` is 1024 bytes).
pub(crate) const SIZE_UNITS: &[(&str, u64)] =
    &[("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("b", 1)];

/// Why a number with a unit did not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Not digits, an optional fraction and a unit.
    Malformed,
    /// A duration without its unit.
    MissingUnit,
    UnknownUnit,
    TooLarge,
}

pub(crate) fn parse_integer(text: &str) -> Option<i64> {
    text.parse().ok()
}

/// `5xx` → 5 (any case); the first digit of a status class.
pub(crate) fn parse_status_class(text: &str) -> Option<u8> {
    match text.as_bytes() {
        [digit @ b'1'..=b'9', x1, x2]
            if x1.eq_ignore_ascii_case(&b'x') && x2.eq_ignore_ascii_case(&b'x') =>
        {
            Some(digit - b'0')
        }
        _ => None,
    }
}

pub(crate) fn parse_duration(text: &str) -> Result<i64, NumberError> {
    let number = split_number(text, true)?;
    if number.unit.is_empty() {
        return Err(NumberError::MissingUnit);
    }
    let unit = DURATION_UNITS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(number.unit))
        .map(|(_, nanos)| i128::from(*nanos))
        .ok_or(NumberError::UnknownUnit)?;
    let value = number.scaled(unit)?;
    i64::try_from(value).map_err(|_| NumberError::TooLarge)
}

pub(crate) fn parse_size(text: &str) -> Result<u64, NumberError> {
    let number = split_number(text, false)?;
    let unit = if number.unit.is_empty() {
        1
    } else {
        SIZE_UNITS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(number.unit))
            .map(|(_, bytes)| i128::from(*bytes))
            .ok_or(NumberError::UnknownUnit)?
    };
    let value = number.scaled(unit)?;
    u64::try_from(value).map_err(|_| NumberError::TooLarge)
}

/// RFC 3339 or a date (see `time`), or epoch milliseconds.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    if let Some(millis) = parse_integer(text) {
        return millis.checked_mul(1_000_000);
    }
    time::parse_rfc3339(text)
}

/// A date alone (`2024-05-01`): the day it names, as `[midnight, next midnight)` UTC.
pub(crate) fn parse_day(text: &str) -> Option<(i64, i64)> {
    if text.len() != 10 {
        return None;
    }
    let start = time::parse_rfc3339(text)?;
    Some((start, start.checked_add(86_400 * 1_000_000_000)?))
}

pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `10.0.0.1`, `10.0.0.0/8`, `10.0.0.1:443`, `10.0.0.0/8:443`, `::1`, `fe80::/10`, `[::1]:443`,
/// `[fe80::/10]:443`.
pub(crate) fn parse_ip(text: &str) -> Option<IpFilter> {
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            _ => Some(parse_port(after.strip_prefix(':')?)?),
        };
        let mut filter = parse_net(inside)?;
        if filter.addr.is_ipv4() {
            return None;
        }
        filter.port = port;
        return Some(filter);
    }
    if let Some(filter) = parse_net(text) {
        return Some(filter);
    }
    // IPv4 with a port: the last colon splits it (an IPv6 address without brackets has no port).
    let (net, port) = text.rsplit_once(':')?;
    let mut filter = parse_net(net)?;
    if !filter.addr.is_ipv4() {
        return None;
    }
    filter.port = Some(parse_port(port)?);
    Some(filter)
}

fn parse_net(text: &str) -> Option<IpFilter> {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let prefix = match prefix {
        None => full_prefix(addr),
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) && digits.len() <= 3 => {
            digits.parse().ok().filter(|p| *p <= full_prefix(addr))?
        }
        Some(_) => return None,
    };
    Some(IpFilter {
        addr,
        prefix,
        port: None,
    })
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The canonical spelling of a scalar value (not of patterns and ranges).
pub(crate) fn format_scalar(value: &Value) -> String {
    match value {
        Value::Integer(n) => n.to_string(),
        Value::Duration(nanos) => format_duration(*nanos),
        Value::Size(bytes) => format_size(*bytes),
        Value::Ip(filter) => filter.to_string(),
        Value::Time(nanos) => time::format_rfc3339(*nanos),
        Value::Bool(b) => b.to_string(),
        Value::StatusClass(class) => format!("{class}xx"),
        Value::Text(pattern) | Value::Keyword(pattern) => pattern.pieces().join("*"),
        Value::Range(_) => String::new(),
    }
}

/// In the largest unit that divides it exactly: `1500ms`, `2s`, `90s`, `0s`.
pub(crate) fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let (unit, size) = DURATION_UNITS
        .iter()
        .find(|(_, size)| nanos % size == 0)
        .copied()
        .unwrap_or(("ns", 1));
    format!("{}{unit}", nanos / size)
}

/// In the largest unit that divides it exactly: `10kb`, `1536b`, `0b`.
pub(crate) fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0b".to_owned();
    }
    let (unit, size) = SIZE_UNITS
        .iter()
        .find(|(_, size)| bytes.checked_rem(*size) == Some(0))
        .copied()
        .unwrap_or(("b", 1));
    format!("{}{unit}", bytes / size)
}

/// A number as typed: sign, whole digits, fraction digits, unit letters.
struct Number<'a> {
    negative: bool,
    whole: &'a str,
    fraction: &'a str,
    unit: &'a str,
}

impl Number<'_> {
    /// The value times `unit`, the fraction rounded toward zero.
    fn scaled(&self, unit: i128) -> Result<i128, NumberError> {
        // 30 digits fit an i128 after scaling by the largest unit; more is too large anyway.
        let whole = self.whole.trim_start_matches('0');
        if whole.len() > 24 {
            return Err(NumberError::TooLarge);
        }
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| NumberError::Malformed)?
        };
        let fraction = &self.fraction[..self.fraction.len().min(18)];
        let mut value = whole.checked_mul(unit).ok_or(NumberError::TooLarge)?;
        if !fraction.is_empty() {
            let digits: i128 = fraction.parse().map_err(|_| NumberError::Malformed)?;
            let scale = 10i128.pow(fraction.len() as u32);
            value = value
                .checked_add(digits * unit / scale)
                .ok_or(NumberError::TooLarge)?;
        }
        Ok(if self.negative { -value } else { value })
    }
}

fn split_number(text: &str, signed: bool) -> Result<Number<'_>, NumberError> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) if signed => (true, rest),
        _ => (false, text),
    };
    let whole_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let whole = &rest[..whole_end];
    let mut rest = &rest[whole_end..];
    let mut fraction = "";
    if let Some(after) = rest.strip_prefix('.') {
        let end = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        fraction = &after[..end];
        rest = &after[end..];
        if fraction.is_empty() {
            return Err(NumberError::Malformed);
        }
    }
    if whole.is_empty() || !rest.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(NumberError::Malformed);
    }
    Ok(Number {
        negative,
        whole,
        fraction,
        unit: rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(1_000_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("250MS"), Ok(250_000_000));
        assert_eq!(parse_duration("2m"), Ok(120_000_000_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000_000_000));
        assert_eq!(parse_duration("7us"), Ok(7_000));
        assert_eq!(parse_duration("-3ns"), Ok(-3));
        assert_eq!(parse_duration("500"), Err(NumberError::MissingUnit));
        assert_eq!(parse_duration("5d"), Err(NumberError::UnknownUnit));
        assert_eq!(parse_duration("s"), Err(NumberError::Malformed));
        assert_eq!(parse_duration("1.s"), Err(NumberError::Malformed));
        assert_eq!(parse_duration("99999999999h"), Err(NumberError::TooLarge));
        assert_eq!(
            parse_duration(&"9".repeat(40)),
            Err(NumberError::MissingUnit)
        );
        assert_eq!(
            parse_duration(&format!("{}s", "9".repeat(40))),
            Err(NumberError::TooLarge)
        );
        assert_eq!(format_duration(1_500_000_000), "1500ms");
        assert_eq!(format_duration(-120_000_000_000), "-2m");
        assert_eq!(format_duration(i64::MIN), "-9223372036854775808ns");
        assert_eq!(parse_duration(&format_duration(i64::MIN)), Ok(i64::MIN));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10kb"), Ok(10_240));
        assert_eq!(parse_size("1.5MB"), Ok(1_572_864));
        assert_eq!(parse_size("1gb"), Ok(1 << 30));
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("12b"), Ok(12));
        assert_eq!(parse_size("-1kb"), Err(NumberError::Malformed));
        assert_eq!(parse_size("1tb"), Err(NumberError::UnknownUnit));
        assert_eq!(parse_size("99999999999gb"), Err(NumberError::TooLarge));
        assert_eq!(format_size(10_240), "10kb");
        assert_eq!(format_size(1536), "1536b");
        assert_eq!(parse_size(&format_size(u64::MAX)), Ok(u64::MAX));
    }

    #[test]
    fn ips() {
        let filter = parse_ip("10.0.0.0/8:443").expect("cidr with port");
        assert_eq!((filter.prefix, filter.port), (8, Some(443)));
        assert_eq!(filter.to_string(), "10.0.0.0/8:443");
        assert_eq!(
            parse_ip("[::1]:80").map(|f| f.to_string()).as_deref(),
            Some("[::1]:80")
        );
        assert_eq!(parse_ip("fe80::/10").map(|f| f.prefix), Some(10));
        assert_eq!(parse_ip("::1").map(|f| f.port), Some(None));
        for bad in [
            "10.0.0",
            "10.0.0.1/33",
            "[10.0.0.1]:1",
            "::1:80:x",
            "1.2.3.4:99999",
            "[::1]80",
        ] {
            assert_eq!(parse_ip(bad), None, "{bad}");
        }
        let mapped: IpAddr = "::ffff:1.2.3.4".parse().expect("v6");
        let printed = IpFilter::addr(mapped).to_string();
        assert_eq!(parse_ip(&printed).map(|f| f.addr), Some(mapped));
    }

    #[test]
    fn times_and_classes() {
        assert_eq!(parse_time("1714557600000"), Some(1_714_557_600_000_000_000));
        assert_eq!(
            parse_time("2024-05-01T10:00:00Z"),
            Some(1_714_557_600_000_000_000)
        );
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_status_class("5XX"), Some(5));
        assert_eq!(parse_status_class("0xx"), None);
        assert_eq!(parse_bool("TRUE"), Some(true));
    }
}
