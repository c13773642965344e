//! Signing timestamps: ISO-8601 basic (`YYYYMMDDTHHMMSSZ`), the SigV4 date stamp
//! (`YYYYMMDD`) and RFC 1123 (`Sun, 30 Aug 2015 12:36:00 GMT`, SigV2 `Date`).
//!
//! Pure conversions from a given instant; nothing here reads a clock. The civil-date
//! arithmetic ([`days_from_civil`], [`civil_from_days`], [`days_in_month`]) is Howard
//! Hinnant's, on signed day counts, and is the one copy the other layers use too.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::SignError;

/// 9999-12-31T23:59:59Z: the last instant with a four-digit year.
const MAX_UNIX: u64 = 253_402_300_799;
const SECS_PER_DAY: u64 = 86_400;
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A signing instant with whole-second precision, between 1970-01-01T00:00:00Z and
/// 9999-12-31T23:59:59Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmzTime {
    unix: u64,
}

/// The broken-down UTC calendar fields of an [`AmzTime`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
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
    pub fn from_unix(secs: u64) -> Result<Self, SignError> {
        if secs > MAX_UNIX {
            return Err(SignError::TimeOutOfRange);
        }
        Ok(Self { unix: secs })
    }

    /// Converts a `SystemTime`, dropping sub-second precision.
    ///
    /// # Errors
    /// [`SignError::TimeOutOfRange`] before 1970 or after year 9999.
    pub fn from_system_time(time: SystemTime) -> Result<Self, SignError> {
        let secs = time
            .duration_since(UNIX_EPOCH)
            .map_err(|_| SignError::TimeOutOfRange)?
            .as_secs();
        Self::from_unix(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix(self) -> u64 {
        self.unix
    }

    /// The same instant as a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.unix)
    }

    /// The UTC calendar fields.
    pub fn civil(self) -> Civil {
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
    pub fn iso8601_basic(self) -> String {
        let c = self.civil();
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }

    /// `YYYYMMDD`, the date of the SigV4 credential scope.
    pub fn date_stamp(self) -> String {
        let c = self.civil();
        format!("{:04}{:02}{:02}", c.year, c.month, c.day)
    }

    /// RFC 1123 / IMF-fixdate, e.g. `Sun, 30 Aug 2015 12:36:00 GMT` (the SigV2 `Date`).
    pub fn rfc1123(self) -> String {
        let c = self.civil();
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            WEEKDAYS[c.weekday as usize],
            c.day,
            MONTHS[(c.month - 1) as usize],
            c.year,
            c.hour,
            c.minute,
            c.second
        )
    }

    /// Parses ISO-8601 UTC in basic (`20150830T123600Z`) or extended
    /// (`2015-08-30T12:36:00Z`) form.
    ///
    /// # Errors
    /// [`SignError::InvalidTimestamp`] for any other shape or an impossible date.
    pub fn parse_iso8601(s: &str) -> Result<Self, SignError> {
        let b = s.as_bytes();
        let digits: Vec<u8> = match b.len() {
            16 if b[8] == b'T' && b[15] == b'Z' => [&b[..8], &b[9..15]].concat(),
            20 if b[4] == b'-'
                && b[7] == b'-'
                && b[10] == b'T'
                && b[13] == b':'
                && b[16] == b':'
                && b[19] == b'Z' =>
            {
                [
                    &b[..4],
                    &b[5..7],
                    &b[8..10],
                    &b[11..13],
                    &b[14..16],
                    &b[17..19],
                ]
                .concat()
            }
            _ => return Err(SignError::InvalidTimestamp),
        };
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(SignError::InvalidTimestamp);
        }
        let num = |r: std::ops::Range<usize>| {
            digits[r]
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
        };
        let (year, month, day) = (num(0..4), num(4..6), num(6..8));
        let (hour, minute, second) = (num(8..10), num(10..12), num(12..14));
        if year < 1970
            || !(1..=12).contains(&month)
            || day < 1
            || i64::from(day) > days_in_month(i64::from(year), i64::from(month))
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(SignError::InvalidTimestamp);
        }
        // Non-negative: the year is at least 1970.
        let days =
            days_from_civil(i64::from(year), i64::from(month), i64::from(day)).unsigned_abs();
        Self::from_unix(
            days * SECS_PER_DAY
                + u64::from(hour) * 3600
                + u64::from(minute) * 60
                + u64::from(second),
        )
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

    #[test]
    fn formats_the_suite_timestamp() {
        let t = AmzTime::parse_iso8601("2015-08-30T12:36:00Z").unwrap();
        assert_eq!(t.unix(), 1_440_938_160);
        assert_eq!(t.iso8601_basic(), "20150830T123600Z");
        assert_eq!(t.date_stamp(), "20150830");
        assert_eq!(t.rfc1123(), "Sun, 30 Aug 2015 12:36:00 GMT");
        assert_eq!(AmzTime::parse_iso8601("20150830T123600Z").unwrap(), t);
    }

    #[test]
    fn epoch_leap_days_and_limits() {
        let epoch = AmzTime::from_unix(0).unwrap();
        assert_eq!(epoch.iso8601_basic(), "19700101T000000Z");
        assert_eq!(epoch.rfc1123(), "Thu, 01 Jan 1970 00:00:00 GMT");
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
    fn rfc1123_agrees_with_httpdate() {
        for secs in [
            0u64,
            951_782_399,
            1_175_024_202,
            1_440_938_160,
            4_102_444_800,
        ] {
            let t = AmzTime::from_unix(secs).unwrap();
            assert_eq!(t.rfc1123(), httpdate::fmt_http_date(t.to_system_time()));
        }
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
