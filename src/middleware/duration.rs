//! Go `time.ParseDuration` syntax (`"20m"`, `"1h30m"`, `"1.5h"`, `"300ms"`), as Distribution's
//! configuration accepts it (CloudFront's `duration` and `updatefrequency`, and every duration
//! of the registry configuration): the one Go-duration parser of the crate.

use std::fmt;
use std::time::Duration;

/// Why a string is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    input: String,
    reason: &'static str,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a duration ({}); write it as Go does, e.g. \"20m\", \"1h30m\", \"90s\", \"1.5h\"",
            self.input, self.reason
        )
    }
}

impl std::error::Error for DurationError {}

const NANOS_PER_MICRO: u64 = 1_000;
const NANOS_PER_MILLI: u64 = 1_000_000;
const NANOS_PER_SECOND: u64 = 1_000_000_000;

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        // ASCII u, MICRO SIGN (U+00B5) and GREEK SMALL LETTER MU (U+03BC), as Go accepts.
        "us" | "\u{b5}s" | "\u{3bc}s" => NANOS_PER_MICRO,
        "ms" => NANOS_PER_MILLI,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => 3_600 * NANOS_PER_SECOND,
        _ => return None,
    })
}

/// Go's limit: a `time.Duration` is an `int64` of nanoseconds.
const MAX_NANOS: u64 = i64::MAX as u64;

/// Parses a Go duration string into a [`Duration`].
///
/// Grammar (as `time.ParseDuration`): an optional sign, then one or more `<number><unit>`
/// groups, where a number is decimal with an optional fraction and a unit is one of `ns`, `us`
/// (`µs`), `ms`, `s`, `m`, `h`; `"0"` alone is allowed. Fractions are scaled the way Go does.
///
/// # Errors
/// Malformed input, a missing or unknown unit, more than Go's ~292 years, or a negative value
/// (a [`Duration`] cannot be negative; `"-0s"` is zero).
pub fn parse_go_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError {
        input: input.to_owned(),
        reason,
    };
    let mut s = input;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(err("empty"));
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let first = s.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(err("expected a number"));
        }
        // Integer part.
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let mut whole: u64 = 0;
        for b in s[..int_len].bytes() {
            whole = whole
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .filter(|&v| v <= MAX_NANOS)
                .ok_or_else(|| err("too large"))?;
        }
        s = &s[int_len..];
        // Fraction: digits past u64 precision are dropped, as Go's leadingFraction does.
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut frac_len = 0;
        if let Some(rest) = s.strip_prefix('.') {
            frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for b in rest[..frac_len].bytes() {
                if overflow {
                    continue;
                }
                match frac
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(b - b'0')))
                    .filter(|&v| v <= MAX_NANOS)
                {
                    Some(v) => {
                        frac = v;
                        scale *= 10.0;
                    }
                    None => overflow = true,
                }
            }
            s = &rest[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(err("a number needs at least one digit"));
        }
        let unit_len = s
            .bytes()
            .take_while(|b| !(*b == b'.' || b.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(err("missing unit"));
        }
        let unit = unit_nanos(&s[..unit_len]).ok_or_else(|| err("unknown unit"))?;
        s = &s[unit_len..];
        let mut v = whole
            .checked_mul(unit)
            .filter(|&v| v <= MAX_NANOS)
            .ok_or_else(|| err("too large"))?;
        if frac > 0 {
            // Float scaling, exactly as Go: v += uint64(float64(f) * (float64(unit) / scale)).
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let add = (frac as f64 * (unit as f64 / scale)) as u64;
            v = v
                .checked_add(add)
                .filter(|&v| v <= MAX_NANOS)
                .ok_or_else(|| err("too large"))?;
        }
        total = total
            .checked_add(v)
            .filter(|&v| v <= MAX_NANOS)
            .ok_or_else(|| err("too large"))?;
    }
    if negative && total != 0 {
        return Err(err("negative"));
    }
    Ok(Duration::from_nanos(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Duration {
        parse_go_duration(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn go_examples() {
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("20m"), Duration::from_secs(1200));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("90s"), Duration::from_secs(90));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("+5s"), Duration::from_secs(5));
        assert_eq!(ok("-0s"), Duration::ZERO);
        assert_eq!(ok("300ms"), Duration::from_millis(300));
        assert_eq!(ok("2h45m10.5s"), Duration::from_millis(9_910_500));
        assert_eq!(ok("1us"), Duration::from_micros(1));
        assert_eq!(ok("1\u{b5}s"), Duration::from_micros(1));
        assert_eq!(ok("1\u{3bc}s"), Duration::from_micros(1));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("1.s"), Duration::from_secs(1));
        assert_eq!(ok("12h"), Duration::from_secs(43_200));
        assert_eq!(ok("0.000000001s"), Duration::from_nanos(1));
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("168h"), Duration::from_secs(168 * 3600));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("2us"), Duration::from_micros(2));
        assert_eq!(ok("-0"), Duration::ZERO);
        // Fraction digits past u64 precision are dropped, not an error (Go parity).
        assert_eq!(
            ok("1.00000000000000000000000000001s"),
            Duration::from_secs(1)
        );
        // Go's largest duration.
        assert_eq!(
            ok("9223372036854775807ns"),
            Duration::from_nanos(i64::MAX as u64)
        );
    }

    #[test]
    fn go_errors() {
        for s in [
            "",
            "3000",
            "1",
            "-",
            "+",
            ".",
            ".s",
            "s",
            "1x",
            "1hh",
            "1.2.3s",
            "1h 30m",
            " 1h",
            "-1s",
            "-1h30m",
            "9223372036854775808ns",
            "2562048h",
            "1e3s",
            "10",
            "1..5s",
            "1h-2m",
        ] {
            let e = parse_go_duration(s).expect_err(s);
            assert!(e.to_string().contains("20m"), "{e}");
        }
        assert_eq!(
            parse_go_duration("3000").unwrap_err().reason,
            "missing unit"
        );
        assert_eq!(parse_go_duration("5d").unwrap_err().reason, "unknown unit");
        assert_eq!(parse_go_duration("-5m").unwrap_err().reason, "negative");
    }
}
