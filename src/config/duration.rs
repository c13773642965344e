//! Go duration strings (`"10s"`, `"168h"`, `"1h30m"`, `"300ms"`), as
//! `time.ParseDuration` reads them.

use std::time::Duration;

/// Parses a Go duration. Negative durations are refused (no setting of the
/// registry accepts one). `None` if malformed.
pub(crate) fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let number = &rest[..num_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(i, _)| i);
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * nanos_per_unit;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return None;
    }
    Some(Duration::from_nanos(total.round() as u64))
}

/// Renders a duration as Go's `time.Duration.String` does (`"168h0m0s"`, `"10s"`,
/// `"1.5s"`, `"300ms"`, `"3.971683ms"`, `"250µs"`, `"12ns"`): for messages and for the
/// `http.response.duration` log field registry:2 writes.
pub(crate) fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        let fraction = |value: u128, per_unit: u128, unit: &str| {
            let whole = value / per_unit;
            let rest = value % per_unit;
            if rest == 0 {
                format!("{whole}{unit}")
            } else {
                let width = per_unit.ilog10() as usize;
                let digits = format!("{rest:0width$}");
                format!("{whole}.{}{unit}", digits.trim_end_matches('0'))
            }
        };
        return if nanos < 1_000 {
            format!("{nanos}ns")
        } else if nanos < 1_000_000 {
            fraction(nanos, 1_000, "µs")
        } else {
            fraction(nanos, 1_000_000, "ms")
        };
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let frac = d.subsec_nanos();
    let sec = if frac == 0 {
        format!("{s}s")
    } else {
        let f = format!("{:09}", frac);
        format!("{s}.{}s", f.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{sec}")
    } else if m > 0 {
        format!("{m}m{sec}")
    } else {
        sec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_go_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_go_duration("168h"),
            Some(Duration::from_secs(168 * 3600))
        );
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("2us"), Some(Duration::from_micros(2)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        for bad in ["", "10", "s", "1x", "-1s", "1..5s", "1h-2m"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(
            format_go_duration(Duration::from_secs(168 * 3600)),
            "168h0m0s"
        );
        assert_eq!(format_go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(
            format_go_duration(Duration::from_nanos(3_971_683)),
            "3.971683ms"
        );
        assert_eq!(format_go_duration(Duration::from_nanos(250_000)), "250µs");
        assert_eq!(format_go_duration(Duration::from_nanos(1_500)), "1.5µs");
        assert_eq!(format_go_duration(Duration::from_nanos(12)), "12ns");
        assert_eq!(format_go_duration(Duration::from_secs(90)), "1m30s");
    }
}
