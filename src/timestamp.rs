//! Calendar time without a time-zone database: the UTC dates Codex writes
//! (`last_refresh`) and the ones we show. Pure arithmetic, no I/O besides the clock.

/// Seconds since the Unix epoch, now.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Calendar date and time (UTC) of a unix time: (year, month, day, hour, minute, second).
pub(crate) fn civil(ts: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Now as Codex writes `last_refresh`: `2026-11-27T10:00:00.123456Z`.
pub(crate) fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (y, mo, d, h, mi, s) = civil(now.as_secs() as i64);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}Z",
        now.subsec_micros()
    )
}

/// `2026-11-27 10:00 UTC` for a unix time.
pub(crate) fn utc(ts: i64) -> String {
    let (y, m, d, h, mi, _) = civil(ts);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02} UTC")
}

/// Days since the Unix epoch of a calendar date (the inverse of [`civil`]'s date).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The time of an RFC 3339 timestamp as Codex writes `last_refresh`
/// (`2026-11-27T10:00:00.123456Z`, or an offset instead of `Z`), in microseconds since
/// the epoch; `None` for anything else.
pub(crate) fn parse_rfc3339_micros(s: &str) -> Option<i64> {
    let num = |r: &str| -> Option<i64> {
        (!r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
            .then(|| r.parse().ok())
            .flatten()
    };
    let (date, rest) = s.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-');
    let (y, mo, da) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        (c, sign * (num(oh)? * 3600 + num(om)? * 60))
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((hms, frac)) => (hms, frac),
        None => (clock, ""),
    };
    let mut t = hms.splitn(3, ':');
    let (h, mi, se) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let micros = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().take(6).collect();
        num(&digits)? * 10_i64.pow(6 - digits.len() as u32)
    };
    let secs = days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + se - offset;
    Some(secs * 1_000_000 + micros)
}

/// A duration as people write one: `90s`, `30m`, `12h`, `3d`, `2w` (one number and a
/// unit; `None` for anything else).
pub(crate) fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(secs).map(std::time::Duration::from_secs)
}

/// "3d 4h", "5h 10m", "42s": a duration, roughly, for people.
pub(crate) fn human(secs: i64) -> String {
    let (sign, s) = if secs < 0 { ("-", -secs) } else { ("", secs) };
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sign}{s}s"),
        (0, 0, m) => format!("{sign}{m}m"),
        (0, h, m) => format!("{sign}{h}h {m}m"),
        (d, h, _) => format!("{sign}{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_durations() {
        assert_eq!(parse_rfc3339_micros("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_micros("2030-03-17T17:46:40.5Z"),
            Some(1_900_000_000_500_000)
        );
        assert_eq!(
            parse_rfc3339_micros("2030-03-17T19:46:40.000001+02:00"),
            Some(1_900_000_000_000_001)
        );
        assert_eq!(
            parse_rfc3339_micros("2000-02-29T00:00:00Z"),
            Some(951_782_400_000_000)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-27T10:00:00",
        ] {
            assert_eq!(parse_rfc3339_micros(bad), None, "{bad}");
        }
        assert_eq!(
            parse_duration("3d"),
            Some(std::time::Duration::from_secs(259_200))
        );
        assert_eq!(
            parse_duration("90s"),
            Some(std::time::Duration::from_secs(90))
        );
        for bad in ["", "3", "d", "3 days", "-1h", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(human(3 * 86_400 + 4 * 3600 + 7), "3d 4h");
        assert_eq!(human(42), "42s");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_900_000_000), "2030-03-17 17:46 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert!(now_rfc3339().ends_with('Z'));
    }
}
