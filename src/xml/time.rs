//! [`Timestamp`]: ISO-8601 times as S3 writes them (`2009-10-12T17:50:30.000Z`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::de::is_xml_space;
use super::error::XmlError;
use crate::sign::time::{civil_from_days, parse_rfc3339, Rfc3339};

/// A time from an S3 body, kept both as sent and as Unix time.
///
/// S3 writes `2009-10-12T17:50:30.000Z`. The parser also accepts what S3-compatible servers
/// and the AWS documentation write: any number of fraction digits or none
/// (`2026-01-01T00:00:00Z`), a lower-case `t` or `z`, a numeric offset (`+02:00`), and no
/// zone at all (the AWS `CopyObject` example writes `2009-10-28T22:32:00`), which is read as
/// UTC. Fraction digits past the ninth are dropped. Surrounding whitespace is ignored. Years
/// are four digits; a leap second (`:60`) is counted as the next second.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// The text exactly as it appeared in the body.
    pub raw: String,
    /// Whole seconds since 1970-01-01T00:00:00Z (negative before 1970).
    pub unix_seconds: i64,
    /// Nanoseconds past `unix_seconds`, below 1,000,000,000.
    pub nanos: u32,
}

impl Timestamp {
    /// Parses an ISO-8601 time as described on [`Timestamp`].
    ///
    /// # Errors
    ///
    /// [`XmlError::InvalidValue`] naming `timestamp` when the text is not such a time or
    /// names an impossible date (month 13, February 30, hour 24, ...).
    pub fn parse(text: &str) -> Result<Self, XmlError> {
        Self::parse_field("timestamp", text)
    }

    /// Like [`Timestamp::parse`], naming `field` in the error.
    pub(crate) fn parse_field(field: &'static str, text: &str) -> Result<Self, XmlError> {
        let (unix_seconds, nanos) = parse_rfc3339(text.trim_matches(is_xml_space), Rfc3339::S3_XML)
            .map_err(|reason| XmlError::invalid(field, text, reason))?;
        Ok(Timestamp {
            raw: text.to_owned(),
            unix_seconds,
            nanos,
        })
    }

    /// Builds the timestamp S3 would write for this instant, with millisecond precision
    /// (`2009-10-12T17:50:30.000Z`); `nanos` is kept exactly, only `raw` is rounded down.
    ///
    /// `nanos` above 999,999,999 is clamped. Years outside 0000..=9999 are written with a
    /// sign or more digits, which [`Timestamp::parse`] does not accept back.
    #[must_use]
    pub fn from_unix(unix_seconds: i64, nanos: u32) -> Self {
        let nanos = nanos.min(999_999_999);
        let days = unix_seconds.div_euclid(86_400);
        let secs_of_day = unix_seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let raw = format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            secs_of_day / 3600,
            secs_of_day / 60 % 60,
            secs_of_day % 60,
            nanos / 1_000_000
        );
        Timestamp {
            raw,
            unix_seconds,
            nanos,
        }
    }

    /// The instant as a [`SystemTime`]; `None` only if the platform cannot represent it.
    #[must_use]
    pub fn to_system_time(&self) -> Option<SystemTime> {
        let whole = if self.unix_seconds >= 0 {
            UNIX_EPOCH.checked_add(Duration::from_secs(self.unix_seconds.unsigned_abs()))?
        } else {
            UNIX_EPOCH.checked_sub(Duration::from_secs(self.unix_seconds.unsigned_abs()))?
        };
        whole.checked_add(Duration::from_nanos(u64::from(self.nanos)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::time::{days_from_civil, days_in_month};

    fn unix(text: &str) -> (i64, u32) {
        let t = Timestamp::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(t.raw, text);
        (t.unix_seconds, t.nanos)
    }

    #[test]
    fn s3_examples() {
        assert_eq!(unix("2009-10-12T17:50:30.000Z"), (1_255_369_830, 0));
        assert_eq!(unix("2010-11-10T20:48:33.000Z"), (1_289_422_113, 0));
        assert_eq!(unix("1970-01-01T00:00:00.000Z"), (0, 0));
        assert_eq!(
            unix("2024-02-29T23:59:59.999Z"),
            (1_709_251_199, 999_000_000)
        );
    }

    #[test]
    fn variants_other_servers_write() {
        assert_eq!(unix("2026-01-01T00:00:00Z"), (1_767_225_600, 0));
        assert_eq!(unix("2009-10-28T22:32:00"), (1_256_769_120, 0));
        assert_eq!(unix("2009-10-28t22:32:00z"), (1_256_769_120, 0));
        assert_eq!(unix("2009-10-29T00:32:00+02:00"), (1_256_769_120, 0));
        assert_eq!(unix("2009-10-28T20:02:00-02:30"), (1_256_769_120, 0));
        assert_eq!(
            unix("2021-05-06T07:08:09.1234567Z"),
            (1_620_284_889, 123_456_700)
        );
        assert_eq!(
            unix("2021-05-06T07:08:09.123456789999Z"),
            (1_620_284_889, 123_456_789)
        );
        assert_eq!(
            unix(" 2021-05-06T07:08:09.5Z\n"),
            (1_620_284_889, 500_000_000)
        );
        assert_eq!(unix("1969-12-31T23:59:59.000Z"), (-1, 0));
        assert_eq!(unix("0000-01-01T00:00:00Z"), (-62_167_219_200, 0));
        assert_eq!(unix("9999-12-31T23:59:59Z"), (253_402_300_799, 0));
        assert_eq!(unix("2016-12-31T23:59:60Z"), (1_483_228_800, 0));
    }

    #[test]
    fn bad_times_are_errors() {
        for text in [
            "",
            "2009-10-12",
            "2009-10-12T17:50",
            "2009-10-12 17:50:30Z",
            "2009-13-12T17:50:30Z",
            "2009-00-12T17:50:30Z",
            "2009-02-29T17:50:30Z",
            "2009-04-31T17:50:30Z",
            "2009-10-00T17:50:30Z",
            "2009-10-12T24:00:00Z",
            "2009-10-12T17:60:30Z",
            "2009-10-12T17:50:61Z",
            "2009-10-12T17:50:30.Z",
            "2009-10-12T17:50:30.000ZZ",
            "2009-10-12T17:50:30+2:00",
            "2009-10-12T17:50:30+24:00",
            "2009-10-12T17:50:30.000Q",
            "+2009-10-12T17:50:30Z",
            "２００９-10-12T17:50:30Z",
            "Mon, 12 Oct 2009 17:50:30 GMT",
        ] {
            let err = Timestamp::parse(text).unwrap_err();
            assert!(
                matches!(
                    err,
                    XmlError::InvalidValue {
                        field: "timestamp",
                        ..
                    }
                ),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn from_unix_round_trips() {
        for (secs, nanos) in [
            (0, 0),
            (1_255_369_830, 0),
            (-1, 999_000_000),
            (1_709_251_199, 999_000_000),
            (-62_167_219_200, 0),
            (253_402_300_799, 123_000_000),
        ] {
            let t = Timestamp::from_unix(secs, nanos);
            let back = Timestamp::parse(&t.raw).unwrap();
            assert_eq!((back.unix_seconds, back.nanos), (secs, nanos), "{}", t.raw);
        }
        assert_eq!(
            Timestamp::from_unix(1_255_369_830, 0).raw,
            "2009-10-12T17:50:30.000Z"
        );
    }

    #[test]
    fn civil_conversion_agrees_everywhere_in_range() {
        let first = days_from_civil(0, 1, 1);
        let last = days_from_civil(9999, 12, 31);
        let mut expected = (0i64, 1i64, 1i64);
        for days in first..=last {
            assert_eq!(civil_from_days(days), expected);
            let (y, m, d) = expected;
            expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn system_time() {
        let t = Timestamp::parse("2009-10-12T17:50:30.250Z").unwrap();
        let st = t.to_system_time().unwrap();
        assert_eq!(
            st.duration_since(UNIX_EPOCH).unwrap(),
            Duration::new(1_255_369_830, 250_000_000)
        );
        let before = Timestamp::parse("1969-12-31T23:59:59.500Z").unwrap();
        let st = before.to_system_time().unwrap();
        assert_eq!(
            UNIX_EPOCH.duration_since(st).unwrap(),
            Duration::from_millis(500)
        );
    }
}
