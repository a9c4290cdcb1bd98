//! UTC timestamps in SigV4's `YYYYMMDDTHHMMSSZ` form.
//!
//! Civil-date arithmetic is Howard Hinnant's days-from-civil algorithm; a date crate would be a
//! dependency for forty lines, and both the server and the CLI link this crate.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: i64 = 86_400;
const NANOS_PER_SEC: i128 = 1_000_000_000;

/// A whole-second UTC instant, as carried by `X-Amz-Date` (`20150830T123600Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmzDate {
    /// Seconds since the Unix epoch; negative before 1970.
    secs: i64,
}

impl AmzDate {
    /// The instant `t`, truncated to the whole second (as every SDK does when it stamps a request).
    pub fn from_system_time(t: SystemTime) -> Self {
        Self {
            secs: floor_secs(unix_nanos(t)),
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.secs
    }

    /// Parses the ISO 8601 basic format SigV4 uses, exactly `YYYYMMDDTHHMMSSZ`.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[4..6])?;
        let day = digits(&b[6..8])?;
        let hour = digits(&b[9..11])?;
        let minute = digits(&b[11..13])?;
        let second = digits(&b[13..15])?;
        Self::from_fields(year, month, day, hour, minute, second)
    }

    /// Parses an HTTP `Date` value: the ISO basic form, or RFC 7231's IMF-fixdate
    /// (`Sun, 30 Aug 2015 12:36:00 GMT`). AWS accepts `Date` in place of `X-Amz-Date`.
    pub fn parse_http_date(s: &str) -> Option<Self> {
        if let Some(d) = Self::parse(s) {
            return Some(d);
        }
        let rest = s.split_once(", ")?.1;
        let mut parts = rest.split(' ');
        let day = digits(parts.next()?.as_bytes())?;
        let month = month_number(parts.next()?)?;
        let year = digits(parts.next()?.as_bytes())?;
        let clock = parts.next()?;
        if parts.next()? != "GMT" || parts.next().is_some() {
            return None;
        }
        let mut hms = clock.split(':');
        let hour = digits(hms.next()?.as_bytes())?;
        let minute = digits(hms.next()?.as_bytes())?;
        let second = digits(hms.next()?.as_bytes())?;
        if hms.next().is_some() {
            return None;
        }
        Self::from_fields(year, month, day, hour, minute, second)
    }

    fn from_fields(year: i64, month: i64, day: i64, hour: i64, min: i64, sec: i64) -> Option<Self> {
        let valid = (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && min < 60
            && sec < 60;
        valid.then(|| Self {
            secs: days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + min * 60 + sec,
        })
    }

    /// The `YYYYMMDD` date stamp used in the credential scope.
    pub fn date_stamp(self) -> String {
        let (y, m, d) = civil_from_days(self.secs.div_euclid(SECS_PER_DAY));
        format!("{y:04}{m:02}{d:02}")
    }

    /// This instant in nanoseconds since the epoch, for comparisons against a `SystemTime`.
    pub(crate) fn unix_nanos(self) -> i128 {
        i128::from(self.secs) * NANOS_PER_SEC
    }
}

impl fmt::Display for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.secs.div_euclid(SECS_PER_DAY));
        let tod = self.secs.rem_euclid(SECS_PER_DAY);
        write!(
            f,
            "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
            tod / 3600,
            tod / 60 % 60,
            tod % 60
        )
    }
}

/// Nanoseconds since the Unix epoch, negative before it; saturates far outside any real clock.
pub(crate) fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => i128::try_from(e.duration().as_nanos()).map_or(i128::MIN, |n| -n),
    }
}

pub(crate) fn duration_nanos(d: Duration) -> i128 {
    i128::try_from(d.as_nanos()).unwrap_or(i128::MAX)
}

/// Whole seconds at or before `nanos`, clamped to the `i64` range.
pub(crate) fn floor_secs(nanos: i128) -> i64 {
    let secs = nanos.div_euclid(NANOS_PER_SEC);
    i64::try_from(secs).unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX })
}

/// The whole-second instant at or before `nanos`.
pub(crate) fn amz_date_from_nanos(nanos: i128) -> AmzDate {
    AmzDate {
        secs: floor_secs(nanos),
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

fn month_number(name: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let index = MONTHS.iter().position(|m| *m == name)?;
    i64::try_from(index).ok().map(|i| i + 1)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12; // March = 0, so the leap day ends the year
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_formats_the_suite_date() {
        let d = AmzDate::parse("20150830T123600Z").expect("valid date");
        assert_eq!(d.unix_seconds(), 1_440_938_160);
        assert_eq!(d.to_string(), "20150830T123600Z");
        assert_eq!(d.date_stamp(), "20150830");
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "20150830T123660Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
        ] {
            assert_eq!(AmzDate::parse(bad), None, "{bad}");
        }
        assert!(AmzDate::parse("20160229T000000Z").is_some());
        assert!(AmzDate::parse("21000229T000000Z").is_none());
    }

    #[test]
    fn parses_imf_fixdate() {
        let d = AmzDate::parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT").expect("valid");
        assert_eq!(d.to_string(), "20150830T123600Z");
        assert_eq!(
            AmzDate::parse_http_date("Sun, 30 Aug 2015 12:36:00 UTC"),
            None
        );
        assert_eq!(
            AmzDate::parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT"),
            None
        );
    }

    #[test]
    fn truncates_system_time_to_the_second() {
        let t = UNIX_EPOCH + Duration::from_millis(1_440_938_160_999);
        assert_eq!(AmzDate::from_system_time(t).to_string(), "20150830T123600Z");
        let before = UNIX_EPOCH - Duration::from_millis(500);
        assert_eq!(
            AmzDate::from_system_time(before).to_string(),
            "19691231T235959Z"
        );
    }

    proptest! {
        #[test]
        fn format_then_parse_roundtrips(secs in -62_135_596_800i64..253_402_300_799) {
            let d = AmzDate { secs };
            prop_assert_eq!(AmzDate::parse(&d.to_string()), Some(d));
        }

        #[test]
        fn parse_accepts_only_canonical_text(s in "[0-9TZ:, A-Za-z]{0,20}") {
            if let Some(d) = AmzDate::parse(&s) {
                prop_assert_eq!(d.to_string(), s.clone());
            }
            if let Some(d) = AmzDate::parse_http_date(&s) {
                prop_assert_eq!(AmzDate::parse(&d.to_string()), Some(d));
            }
        }
    }
}
