//! Go duration strings (`"10s"`, `"168h"`, `"1h30m"`, `"300ms"`) as `time.Duration.String`
//! writes them; they are read by [`crate::middleware::duration::parse_go_duration`].

use std::time::Duration;

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
