//! RFC 3339 timestamps as Go's `time.RFC3339` writes and reads them (the
//! content of `_uploads/<id>/startedat`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sign::time::{civil_from_days, days_from_civil, days_in_month};

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

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (Go's `time.Parse(time.RFC3339, s)`;
/// the fraction is accepted and dropped). `None` if malformed.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 59
    {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" => 0,
        _ => {
            let ob = rest.as_bytes();
            if ob.len() != 6 || ob[3] != b':' || !matches!(ob[0], b'+' | b'-') {
                return None;
            }
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            let o = h * 3600 + m * 60;
            if ob[0] == b'-' {
                -o
            } else {
                o
            }
        }
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some(if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(parse_rfc3339("2024-02-29T11:34:56.999-01:00"), Some(t));
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
