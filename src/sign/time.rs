//! Signing timestamps: ISO-8601 basic (`YYYYMMDDTHHMMSSZ`) and the SigV4 date stamp
//! (`YYYYMMDD`). The SigV2 `Date` header is RFC 1123: `httpdate::fmt_http_date`.
//!
//! Pure conversions from a given instant; nothing here reads a clock. The civil-date
//! arithmetic ([`days_from_civil`], [`civil_from_days`], [`days_in_month`]) is Howard
//! Hinnant's, on signed day counts, and the RFC 3339 parser (`parse_rfc3339`, with the
//! leniency each caller needs) is the one copy the other layers use too.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::SignError;

/// 9999-12-31T23:59:59Z: the last instant with a four-digit year.
const MAX_UNIX: u64 = 253_402_300_799;
const SECS_PER_DAY: u64 = 86_400;

/// A signing instant with whole-second precision, between 1970-01-01T00:00:00Z and
/// 9999-12-31T23:59:59Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct AmzTime {
    unix: u64,
}

/// The broken-down UTC calendar fields of an [`AmzTime`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    /// Year, 1970..=9999.
    pub year: u32,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of month, 1..=31.
    pub day: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=59.
    pub second: u32,
    /// Day of week, 0 = Sunday ..= 6 = Saturday.
    pub weekday: u32,
}

impl AmzTime {
    /// The instant `secs` seconds after the Unix epoch.
    ///
    /// # Errors
    /// [`SignError::TimeOutOfRange`] after year 9999.
    pub(crate) fn from_unix(secs: u64) -> Result<Self, SignError> {
        if secs > MAX_UNIX {
            return Err(SignError::TimeOutOfRange);
        }
        Ok(Self { unix: secs })
    }

    /// Converts a `SystemTime`, dropping sub-second precision.
    ///
    /// # Errors
    /// [`SignError::TimeOutOfRange`] before 1970 or after year 9999.
    pub(crate) fn from_system_time(time: SystemTime) -> Result<Self, SignError> {
        let secs = time
            .duration_since(UNIX_EPOCH)
            .map_err(|_| SignError::TimeOutOfRange)?
            .as_secs();
        Self::from_unix(secs)
    }

    /// Seconds since the Unix epoch.
    #[cfg(test)]
    pub(crate) const fn unix(self) -> u64 {
        self.unix
    }

    /// The UTC calendar fields.
    pub(crate) fn civil(self) -> Civil {
        let days = self.unix / SECS_PER_DAY;
        let rem = self.unix % SECS_PER_DAY;
        // `days` is bounded by the year-9999 limit, so it fits an i64.
        let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
        // Casts: every value below is bounded (year <= 9999, < 86_400 or < 7).
        Civil {
            year: year as u32,
            month: month as u32,
            day: day as u32,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
            weekday: ((days + 4) % 7) as u32,
        }
    }

    /// `YYYYMMDDTHHMMSSZ`, the `X-Amz-Date` form.
    pub(crate) fn iso8601_basic(self) -> String {
        let c = self.civil();
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }

    /// `YYYYMMDD`, the date of the SigV4 credential scope.
    pub(crate) fn date_stamp(self) -> String {
        let c = self.civil();
        format!("{:04}{:02}{:02}", c.year, c.month, c.day)
    }

    /// Parses ISO-8601 UTC in basic (`20150830T123600Z`) or extended
    /// (`2015-08-30T12:36:00Z`) form.
    ///
    /// # Errors
    /// [`SignError::InvalidTimestamp`] for any other shape or an impossible date.
    #[cfg(test)]
    pub(crate) fn parse_iso8601(s: &str) -> Result<Self, SignError> {
        let b = s.as_bytes();
        // The basic form is rewritten to the extended one, which RFC 3339 (strict, no
        // fraction, no offset: exactly 20 characters) reads.
        let extended = match b.len() {
            16 if b.is_ascii() && b[8] == b'T' && b[15] == b'Z' => format!(
                "{}-{}-{}T{}:{}:{}Z",
                &s[..4],
                &s[4..6],
                &s[6..8],
                &s[9..11],
                &s[11..13],
                &s[13..15]
            ),
            20 if b[19] == b'Z' => s.to_owned(),
            _ => return Err(SignError::InvalidTimestamp),
        };
        let (secs, _) =
            parse_rfc3339(&extended, Rfc3339::STRICT).map_err(|_| SignError::InvalidTimestamp)?;
        Self::from_unix(u64::try_from(secs).map_err(|_| SignError::InvalidTimestamp)?)
    }
}

impl fmt::Display for AmzTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso8601_basic())
    }
}

impl TryFrom<SystemTime> for AmzTime {
    type Error = SignError;
    fn try_from(value: SystemTime) -> Result<Self, Self::Error> {
        Self::from_system_time(value)
    }
}

/// How lenient [`parse_rfc3339`] is. [`Rfc3339::STRICT`] is Go's `time.RFC3339`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rfc3339 {
    /// Accept `t` and `z` for `T` and `Z`.
    pub lowercase: bool,
    /// Accept a space for the `T` between date and time.
    pub space_separator: bool,
    /// Accept second 60 (a leap second), counted as the next second.
    pub leap_second: bool,
    /// Read a time without `Z` or offset as UTC.
    pub zone_optional: bool,
}

impl Rfc3339 {
    /// Go's `time.Parse(time.RFC3339, s)`: `T`, `Z` or `±hh:mm`, seconds up to 59. (The
    /// registry's times; the library's own callers take the lenient forms.)
    #[cfg(any(test, feature = "server"))]
    pub const STRICT: Self = Self {
        lowercase: false,
        space_separator: false,
        leap_second: false,
        zone_optional: false,
    };
    /// What the AWS SDKs read in credential documents: also `t`/`z`, a space separator and
    /// a leap second.
    pub const SDK: Self = Self {
        lowercase: true,
        space_separator: true,
        leap_second: true,
        zone_optional: false,
    };
    /// What S3 and S3-compatible servers write in XML bodies: also `t`/`z`, a leap second
    /// and no zone at all (read as UTC).
    pub const S3_XML: Self = Self {
        lowercase: true,
        space_separator: false,
        leap_second: true,
        zone_optional: true,
    };
}

/// Parses `YYYY-MM-DD?HH:MM:SS[.fraction][Z|±hh:mm]` (RFC 3339, four-digit years) with the
/// leniency of `opts`: any number of fraction digits (past the ninth dropped), offsets up to
/// 23:59. Returns whole seconds since the Unix epoch (negative before 1970) and nanoseconds,
/// or why the text is not such a time.
pub(crate) fn parse_rfc3339(text: &str, opts: Rfc3339) -> Result<(i64, u32), &'static str> {
    const SHAPE: &str = "expected a time like 2009-10-12T17:50:30.000Z";
    let b = text.as_bytes();
    let mut at = 0usize;
    let digits = |at: &mut usize, count: usize| -> Result<i64, &'static str> {
        let slice = b
            .get(*at..*at + count)
            .ok_or("too short for an RFC 3339 time")?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return Err(SHAPE);
        }
        *at += count;
        Ok(slice
            .iter()
            .fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let expect = |at: &mut usize, allowed: &[u8]| match b.get(*at) {
        Some(c) if allowed.contains(c) => {
            *at += 1;
            Ok(())
        }
        _ => Err(SHAPE),
    };
    let separator: &[u8] = match (opts.lowercase, opts.space_separator) {
        (false, false) => b"T",
        (true, false) => b"Tt",
        (false, true) => b"T ",
        (true, true) => b"Tt ",
    };
    let year = digits(&mut at, 4)?;
    expect(&mut at, b"-")?;
    let month = digits(&mut at, 2)?;
    expect(&mut at, b"-")?;
    let day = digits(&mut at, 2)?;
    expect(&mut at, separator)?;
    let hour = digits(&mut at, 2)?;
    expect(&mut at, b":")?;
    let minute = digits(&mut at, 2)?;
    expect(&mut at, b":")?;
    let second = digits(&mut at, 2)?;

    let mut nanos = 0u32;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let count = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        if count == 0 {
            return Err("a '.' must be followed by fraction digits");
        }
        for i in 0..9 {
            let digit = if i < count { b[at + i] - b'0' } else { 0 };
            nanos = nanos * 10 + u32::from(digit);
        }
        at += count;
    }

    let offset = match b.get(at) {
        None if opts.zone_optional => 0,
        Some(b'Z') => {
            at += 1;
            0
        }
        Some(b'z') if opts.lowercase => {
            at += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            at += 1;
            let hours = digits(&mut at, 2)?;
            expect(&mut at, b":")?;
            let minutes = digits(&mut at, 2)?;
            if hours > 23 || minutes > 59 {
                return Err("the zone offset is out of range");
            }
            let seconds = hours * 3600 + minutes * 60;
            if sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return Err("expected Z or a zone offset after the seconds"),
    };
    if at != b.len() {
        return Err("unexpected text after the time");
    }

    if !(1..=12).contains(&month) {
        return Err("the month is out of range");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("the day does not exist in that month");
    }
    let max_second = if opts.leap_second { 60 } else { 59 };
    if hour > 23 || minute > 59 || second > max_second {
        return Err("the time of day is out of range");
    }
    let days = days_from_civil(year, month, day);
    Ok((
        days * 86_400 + hour * 3600 + minute * 60 + second - offset,
        nanos,
    ))
}

/// [`parse_rfc3339`] as a [`SystemTime`] (times before 1970 included).
pub(crate) fn parse_rfc3339_system_time(
    text: &str,
    opts: Rfc3339,
) -> Result<SystemTime, &'static str> {
    let (secs, nanos) = parse_rfc3339(text, opts)?;
    let whole = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    };
    whole
        .and_then(|t| t.checked_add(Duration::from_nanos(u64::from(nanos))))
        .ok_or("the time is out of range")
}

// Calendar arithmetic (proleptic Gregorian, Howard Hinnant's algorithms), shared by every
// layer that reads or writes dates: the XML codec, credential expiry, the registry server.

/// Whether `year` is a Gregorian leap year.
pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days in `month` (1..=12) of `year`.
pub fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (negative before 1970).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = (month + 9) % 12; // [0, 11], March = 0
    let doy = (153 * mp + 2) / 5 + day - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day count since 1970-01-01 (the
/// inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn time_round_trips(secs in 0u64..=253_402_300_799) {
            let t = AmzTime::from_unix(secs).unwrap();
            prop_assert_eq!(AmzTime::parse_iso8601(&t.iso8601_basic()).unwrap(), t);
            let b = t.iso8601_basic(); // YYYYMMDDTHHMMSSZ
            let extended = format!(
                "{}-{}-{}T{}:{}:{}Z",
                &b[0..4], &b[4..6], &b[6..8], &b[9..11], &b[11..13], &b[13..15]
            );
            prop_assert_eq!(AmzTime::parse_iso8601(&extended).unwrap(), t);
            prop_assert!(t.iso8601_basic().starts_with(&t.date_stamp()));
        }
    }

    #[test]
    fn formats_the_suite_timestamp() {
        let t = AmzTime::parse_iso8601("2015-08-30T12:36:00Z").unwrap();
        assert_eq!(t.unix(), 1_440_938_160);
        assert_eq!(t.iso8601_basic(), "20150830T123600Z");
        assert_eq!(t.date_stamp(), "20150830");
        assert_eq!(AmzTime::parse_iso8601("20150830T123600Z").unwrap(), t);
    }

    #[test]
    fn epoch_leap_days_and_limits() {
        let epoch = AmzTime::from_unix(0).unwrap();
        assert_eq!(epoch.iso8601_basic(), "19700101T000000Z");
        let leap = AmzTime::parse_iso8601("2000-02-29T23:59:59Z").unwrap();
        assert_eq!(leap.iso8601_basic(), "20000229T235959Z");
        assert!(AmzTime::parse_iso8601("2100-02-29T00:00:00Z").is_err());
        assert!(AmzTime::parse_iso8601("1969-12-31T23:59:59Z").is_err());
        assert!(AmzTime::parse_iso8601("2015-13-01T00:00:00Z").is_err());
        assert!(AmzTime::parse_iso8601("2015-08-30 12:36:00Z").is_err());
        assert!(AmzTime::parse_iso8601("2015083OT123600Z").is_err());
        let max = AmzTime::from_unix(MAX_UNIX).unwrap();
        assert_eq!(max.iso8601_basic(), "99991231T235959Z");
        assert!(AmzTime::from_unix(MAX_UNIX + 1).is_err());
        assert!(AmzTime::from_system_time(UNIX_EPOCH - Duration::from_secs(1)).is_err());
    }

    #[test]
    fn rfc3339_leniency_by_option() {
        let parse = |text: &str, opts| parse_rfc3339(text, opts).ok();
        let t = Some((1_714_579_200, 0));
        for opts in [Rfc3339::STRICT, Rfc3339::SDK, Rfc3339::S3_XML] {
            assert_eq!(parse("2024-05-01T16:00:00Z", opts), t);
            assert_eq!(parse("2024-05-01T18:00:00+02:00", opts), t);
            assert_eq!(
                parse("2024-05-01T16:00:00.1234567891Z", opts),
                Some((1_714_579_200, 123_456_789))
            );
            assert_eq!(parse("1969-12-31T23:59:59Z", opts), Some((-1, 0)));
            for bad in [
                "2024-05-01T16:00:00.Z",
                "2024-05-01T16:00:00+0200",
                "2024-05-01T16:00:00+24:00",
                "2024-05-01T16:00:00ZZ",
                "2024-02-30T16:00:00Z",
                "2024-05-01T24:00:00Z",
                "+2024-05-01T16:00:00Z",
                "２024-05-01T16:00:00Z",
            ] {
                assert_eq!(parse(bad, opts), None, "{bad} {opts:?}");
            }
        }
        // Lower case: SDK and S3 XML only.
        assert_eq!(parse("2024-05-01t16:00:00z", Rfc3339::STRICT), None);
        assert_eq!(parse("2024-05-01t16:00:00z", Rfc3339::SDK), t);
        assert_eq!(parse("2024-05-01t16:00:00z", Rfc3339::S3_XML), t);
        // A space separator: SDK only.
        assert_eq!(parse("2024-05-01 16:00:00Z", Rfc3339::STRICT), None);
        assert_eq!(parse("2024-05-01 16:00:00Z", Rfc3339::SDK), t);
        assert_eq!(parse("2024-05-01 16:00:00Z", Rfc3339::S3_XML), None);
        // A leap second: SDK and S3 XML only.
        let leap = "2016-12-31T23:59:60Z";
        assert_eq!(parse(leap, Rfc3339::STRICT), None);
        assert_eq!(parse(leap, Rfc3339::SDK), Some((1_483_228_800, 0)));
        assert_eq!(parse(leap, Rfc3339::S3_XML), Some((1_483_228_800, 0)));
        // No zone: S3 XML only.
        assert_eq!(parse("2024-05-01T16:00:00", Rfc3339::STRICT), None);
        assert_eq!(parse("2024-05-01T16:00:00", Rfc3339::SDK), None);
        assert_eq!(parse("2024-05-01T16:00:00", Rfc3339::S3_XML), t);
    }

    #[test]
    fn civil_round_trips_day_by_day_across_four_centuries() {
        let mut days = 0i64;
        while days < 146_097 * 2 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            days += 1;
        }
    }
}
