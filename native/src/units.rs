//! Sizes and durations as people type them: `64KiB`, `8M`, `500ms`, `30s`.

use std::time::Duration;

/// Parses a byte count: a plain number, or one with a `K`, `M`, `G` or `T`
/// suffix (powers of 1024; `KiB`, `KB` and `k` are all accepted).
///
/// A count too large for this machine saturates at `usize::MAX`, so that
/// the option's own bound ([`bytes_within`]) refuses it by saying what the
/// largest allowed value is.
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!("{text:?} is negative: a size counts bytes"));
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let digits = digits.replace('_', "");
    if digits.is_empty() {
        return Err(format!(
            "{text:?} is not a size: expected a number such as 65536 or 64KiB"
        ));
    }
    // Only digits are left, so the parse fails only on overflow.
    let number: usize = digits.parse().unwrap_or(usize::MAX);
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit {other:?}: use K, M, G or T (powers of 1024)"
            ))
        }
    };
    Ok(number.saturating_mul(scale))
}

/// Parses a byte count that must lie within `min..=max`; the error says
/// which bound it passed.
pub fn bytes_within(text: &str, min: usize, max: usize) -> Result<usize, String> {
    let bytes = parse_bytes(text)?;
    if bytes < min {
        return Err(format!("must be at least {}", format_bytes(min)));
    }
    if bytes > max {
        return Err(format!("must be at most {}", format_bytes(max)));
    }
    Ok(bytes)
}

/// Parses a plain count (`100000`, `100_000`) that must lie within
/// `min..=max`; a count too large to hold is reported as over `max`.
pub fn count_within(text: &str, min: usize, max: usize) -> Result<usize, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!("{text:?} is negative"));
    }
    let digits = text.replace('_', "");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} is not a count: expected a whole number such as 100000"
        ));
    }
    let count: usize = digits.parse().unwrap_or(usize::MAX);
    if count < min {
        return Err(format!("must be at least {min}"));
    }
    if count > max {
        return Err(format!("must be at most {max}"));
    }
    Ok(count)
}

/// A byte count as people read it: `64KiB` when it is a whole number of
/// KiB, MiB, GiB or TiB, else bytes.
pub fn format_bytes(bytes: usize) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        let scale = 1usize << shift;
        if bytes >= scale && bytes % scale == 0 {
            return format!("{}{unit}", bytes / scale);
        }
    }
    format!("{bytes} bytes")
}

/// Parses a duration: a number with `ms`, `s`, `m` or `h` (a bare number
/// is seconds; `1.5s` and `1e3ms` work too). `inf` and anything longer
/// than `Duration` can hold give `Duration::MAX`, "practically never";
/// `nan` and negative durations are refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text
        .trim_start_matches(['+', '-'])
        .eq_ignore_ascii_case("nan")
    {
        return Err(format!("{text:?} is not a number"));
    }
    if let Some(magnitude) = text.strip_prefix('-') {
        return match parse_duration(magnitude) {
            Ok(zero) if zero.is_zero() => Ok(zero),
            _ => Err(format!(
                "{text:?} is negative; a duration must be zero or more"
            )),
        };
    }
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Ok(Duration::MAX);
    }
    // The unit is the letters at the end; an `e` inside is an exponent.
    let split = unsigned
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .len();
    let (number, unit) = unsigned.split_at(split);
    let number: f64 =
        number.trim().replace('_', "").parse().map_err(|_| {
            format!("{text:?} is not a duration: expected e.g. 500ms, 30s, 5m or inf")
        })?;
    if number < 0.0 {
        return Err(format!(
            "{text:?} is negative; a duration must be zero or more"
        ));
    }
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?}: use ms, s, m or h"
            ))
        }
    };
    // What is left is finite or +inf and not negative: only too large fails.
    Ok(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

/// A timeout at least this long (about 292 billion years) could only fire
/// after the hub's clock, a `Duration` since start, had run out: it never
/// fires, so it is off. Keeping such values out also keeps `start + timeout`
/// far from overflowing anywhere.
pub const NEVER_FIRES: Duration = Duration::from_secs(u64::MAX / 2);

/// Parses an optional duration, for a timeout that may be off: `off`,
/// `none`, `never`, zero, `inf` and anything from [`NEVER_FIRES`] up (a
/// timeout that never fires) turn it off.
pub fn parse_optional_duration(text: &str) -> Result<Option<Duration>, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "off" | "none" | "never" => Ok(None),
        _ => parse_duration(text).map(|d| (!d.is_zero() && d < NEVER_FIRES).then_some(d)),
    }
}

/// Parses a duration that must be longer than zero.
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err("must be longer than zero".into()),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("65536"), Ok(65536));
        assert_eq!(parse_bytes("64KiB"), Ok(65536));
        assert_eq!(parse_bytes("8M"), Ok(8 << 20));
        assert_eq!(parse_bytes("1_000"), Ok(1000));
        assert!(parse_bytes("lots").unwrap_err().contains("not a size"));
        assert!(parse_bytes("3 parsecs").unwrap_err().contains("unit"));
    }

    #[test]
    fn huge_sizes_saturate_and_bounds_say_which_was_passed() {
        assert_eq!(parse_bytes("1180591620717411303424"), Ok(usize::MAX));
        assert_eq!(parse_bytes("99999999999G"), Ok(usize::MAX));
        assert_eq!(parse_bytes("2T"), Ok(2 << 40));
        assert!(parse_bytes("-1").unwrap_err().contains("negative"));
        assert!(parse_bytes("").unwrap_err().contains("not a size"));
        assert!(parse_bytes("1e3").unwrap_err().contains("unit"));
        assert_eq!(bytes_within("4KiB", 4096, 1 << 40), Ok(4096));
        assert_eq!(
            bytes_within("0", 4096, 1 << 40),
            Err("must be at least 4KiB".into())
        );
        assert_eq!(
            bytes_within("1180591620717411303424", 4096, 1 << 40),
            Err("must be at most 1TiB".into())
        );
        assert_eq!(format_bytes(1000), "1000 bytes");
        assert_eq!(format_bytes(64 << 10), "64KiB");
        assert_eq!(format_bytes(3 << 30), "3GiB");
    }

    #[test]
    fn counts() {
        assert_eq!(
            count_within("100_000", 1, 10),
            Err("must be at most 10".into())
        );
        assert_eq!(count_within("7", 1, 10), Ok(7));
        assert_eq!(count_within("0", 1, 10), Err("must be at least 1".into()));
        assert_eq!(
            count_within("99999999999999999999999", 1, 10),
            Err("must be at most 10".into())
        );
        assert!(count_within("-1", 1, 10).unwrap_err().contains("negative"));
        assert!(count_within("many", 1, 10)
            .unwrap_err()
            .contains("not a count"));
        assert!(count_within("1e3", 1, 10_000)
            .unwrap_err()
            .contains("not a count"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_optional_duration("off"), Ok(None));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 fortnights").unwrap_err().contains("unit"));
    }

    #[test]
    fn extreme_durations_saturate_or_are_refused() {
        let huge = Duration::from_secs(10_000_000_000_000_000_000);
        assert_eq!(parse_duration("10000000000000000000s"), Ok(huge));
        for never in [
            "inf",
            "INF",
            "+inf",
            "infinity",
            "1e400s",
            "1e19h",
            "18446744073709551616",
        ] {
            assert_eq!(parse_duration(never), Ok(Duration::MAX), "{never}");
        }
        assert_eq!(parse_duration("1e3ms"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("2.5e-1s"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("-0"), Ok(Duration::ZERO));
        for nan in ["nan", "NaN", "-nan", "+nan"] {
            assert!(
                parse_duration(nan).unwrap_err().contains("not a number"),
                "{nan}"
            );
        }
        for negative in ["-5s", "-inf", "-1e400s", "+-1", "--1s", "-lots"] {
            let err = parse_duration(negative).unwrap_err();
            assert!(err.contains("negative"), "{negative}: {err}");
        }
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5e").unwrap_err().contains("unit"));
    }

    #[test]
    fn optional_durations() {
        for off in [
            "off", "none", "never", "Never", "0", "0s", "0ms", "inf", "1e400s",
        ] {
            assert_eq!(parse_optional_duration(off), Ok(None), "{off}");
        }
        assert_eq!(parse_optional_duration("10000000000000000000s"), Ok(None));
        assert_eq!(parse_optional_duration("18446744073709549568s"), Ok(None));
        assert_eq!(
            parse_optional_duration("1000000000000000000s"),
            Ok(Some(Duration::from_secs(1_000_000_000_000_000_000)))
        );
        assert!(parse_optional_duration("nan").is_err());
        assert!(parse_optional_duration("-5s").is_err());
        assert_eq!(positive_duration("inf"), Ok(Duration::MAX));
        assert_eq!(
            positive_duration("0ms"),
            Err("must be longer than zero".into())
        );
        assert!(positive_duration("off").is_err());
    }
}
