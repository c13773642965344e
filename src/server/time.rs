//! RFC 3339 timestamps as Go's `time.RFC3339` writes and reads them (the
//! content of `_uploads/<id>/startedat`).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::sign::time::{self, civil_from_days, Rfc3339};

/// `t` in UTC as `2006-01-02T15:04:05Z` (whole seconds, like Go's
/// `t.UTC().Format(time.RFC3339)`).
pub fn format_rfc3339(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `t` in UTC as Go's `time.RFC3339Nano` writes it (`2006-01-02T15:04:05.999999999Z`,
/// trailing zeros of the fraction dropped): logrus's `time` field.
pub fn format_rfc3339_nanos(t: SystemTime) -> String {
    let secs = format_rfc3339(t);
    let nanos = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    if nanos == 0 {
        return secs;
    }
    let frac = format!("{nanos:09}");
    format!(
        "{}.{}Z",
        secs.trim_end_matches('Z'),
        frac.trim_end_matches('0')
    )
}

/// `t` as the Common Log Format writes it (`03/Dec/2026:07:22:58 +0000`).
pub fn format_clf(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let s = format_rfc3339(t);
    // 2026-12-03T07:22:58Z
    let month = s[5..7].parse::<usize>().unwrap_or(1).clamp(1, 12);
    format!(
        "{}/{}/{}:{} +0000",
        &s[8..10],
        MONTHS[month - 1],
        &s[0..4],
        &s[11..19]
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` as Go's `time.Parse(time.RFC3339, s)`
/// does (upper-case `T` and `Z`, no leap second; fraction digits past the ninth dropped).
/// `None` if malformed.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    time::parse_rfc3339_system_time(s, Rfc3339::STRICT).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn nanos_and_common_log_format() {
        let t = UNIX_EPOCH + Duration::new(1_796_282_578, 737_553_465);
        assert_eq!(format_rfc3339_nanos(t), "2026-12-03T07:22:58.737553465Z");
        let t = UNIX_EPOCH + Duration::new(1_796_282_578, 500_000_000);
        assert_eq!(format_rfc3339_nanos(t), "2026-12-03T07:22:58.5Z");
        assert_eq!(
            format_rfc3339_nanos(UNIX_EPOCH + Duration::from_secs(1_796_282_578)),
            "2026-12-03T07:22:58Z"
        );
        assert_eq!(format_clf(t), "03/Dec/2026:07:22:58 +0000");
    }

    #[test]
    fn formats_like_go_rfc3339_utc() {
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29T12:34:56Z
        assert_eq!(format_rfc3339(t), "2024-02-29T12:34:56Z");
        assert_eq!(parse_rfc3339("2024-02-29T12:34:56Z"), Some(t));
    }

    #[test]
    fn parses_offsets_and_fractions() {
        let t = parse_rfc3339("2024-02-29T12:34:56Z").unwrap();
        assert_eq!(parse_rfc3339("2024-02-29T14:34:56+02:00"), Some(t));
        assert_eq!(
            parse_rfc3339("2024-02-29T11:34:56.25-01:00"),
            Some(t + Duration::from_millis(250))
        );
        assert_eq!(
            parse_rfc3339("1969-12-31T23:59:59Z"),
            Some(UNIX_EPOCH - Duration::from_secs(1))
        );
        for bad in [
            "",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-02-29 12:34:56Z",
            "2024-02-29T12:34:56",
            "2024-02-29T12:34:56.Z",
            "2024-02-29T24:00:00Z",
            "2024-02-29T12:34:56+0200",
            "2024-02-29t12:34:56z",
            "2016-12-31T23:59:60Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_many_days() {
        for days in (-700_000i64..2_900_000).step_by(997) {
            let t = if days >= 0 {
                UNIX_EPOCH + Duration::from_secs(days as u64 * 86_400 + 3_723)
            } else {
                UNIX_EPOCH - Duration::from_secs((-days) as u64 * 86_400 - 3_723)
            };
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t), "day {days}");
        }
    }
}
