//! The one home of value spelling conversions between manifest YAML and ARM: ISO-8601 durations
//! (`PT2M` ↔ seconds), snake_case ↔ PascalCase/camelCase enum words, and enum normalisation.
//! Both the ARM mapping ([`crate::mapping`]) and validation ([`crate::validate`]) use it; it uses
//! nothing else in the crate.

/// Seconds → ISO-8601 as Python `isodate.duration_isoformat` writes it (`PT2M`, `PT1M40S`, `PT1H`).
pub fn seconds_to_iso(secs: i64) -> String {
    if secs <= 0 {
        return "PT0S".into();
    }
    let (d, rem) = (secs / 86_400, secs % 86_400);
    let (h, rem) = (rem / 3600, rem % 3600);
    let (m, s) = (rem / 60, rem % 60);
    let mut out = String::from("P");
    if d > 0 {
        out.push_str(&format!("{d}D"));
    }
    if h > 0 || m > 0 || s > 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if s > 0 {
            out.push_str(&format!("{s}S"));
        }
    }
    out
}

/// Parses an ISO-8601 duration (`PT2M`, `PT120S`, `P1DT1H`, `PT1.5M`) into whole seconds.
/// Years and months (ambiguous lengths) are refused. Never panics.
pub fn parse_iso_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let rest = s.strip_prefix('P').or_else(|| s.strip_prefix('p'))?;
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut in_time = false;
    let mut num = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c {
            'T' | 't' => {
                if in_time || !num.is_empty() {
                    return None;
                }
                in_time = true;
            }
            '0'..='9' | '.' | ',' => num.push(if c == ',' { '.' } else { c }),
            _ => {
                let v: f64 = num.parse().ok()?;
                num.clear();
                let unit = match (in_time, c.to_ascii_uppercase()) {
                    (false, 'W') => 604_800.0,
                    (false, 'D') => 86_400.0,
                    (true, 'H') => 3600.0,
                    (true, 'M') => 60.0,
                    (true, 'S') => 1.0,
                    _ => return None,
                };
                total += v * unit;
                any = true;
            }
        }
    }
    if !num.is_empty() || !any || !total.is_finite() || total > 1e15 {
        return None;
    }
    Some(total.round() as i64)
}

/// `system_assigned,user_assigned` → `SystemAssigned,UserAssigned`.
pub(crate) fn snake_to_pascal(s: &str) -> String {
    s.split(',')
        .map(|part| {
            part.split('_')
                .map(|w| {
                    let mut c = w.chars();
                    match c.next() {
                        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                        None => String::new(),
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `SystemAssigned, UserAssigned` → `system_assigned,user_assigned` (spaces dropped, lower case).
pub(crate) fn pascal_to_snake(s: &str) -> String {
    camel_to_snake(&s.replace(' ', "")).to_lowercase()
}

/// `SystemAssigned` → `system_assigned` (azure-ai-ml `camel_to_snake`).
pub(crate) fn camel_to_snake(s: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit()) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

/// An enum value as written, normalised for lookup: lower case, spaces dropped; `camel`:
/// CamelCase is first split into snake_case words (`SystemAssigned` → `system_assigned`).
pub(crate) fn norm_enum(s: &str, camel: bool) -> String {
    let s = if camel {
        camel_to_snake(s)
    } else {
        s.to_string()
    };
    s.to_lowercase().replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        assert_eq!(seconds_to_iso(120), "PT2M");
        assert_eq!(seconds_to_iso(100), "PT1M40S");
        assert_eq!(seconds_to_iso(3600), "PT1H");
        assert_eq!(seconds_to_iso(90_061), "P1DT1H1M1S");
        assert_eq!(parse_iso_duration("PT2M"), Some(120));
        assert_eq!(parse_iso_duration("PT120S"), Some(120));
        assert_eq!(parse_iso_duration("PT1H"), Some(3600));
        assert_eq!(parse_iso_duration("P1DT1H1M1S"), Some(90_061));
        assert_eq!(parse_iso_duration("PT1.5M"), Some(90));
        assert_eq!(parse_iso_duration("PT1800S"), Some(1800));
        for bad in [
            "",
            "P",
            "PT",
            "2M",
            "P1Y",
            "PT1X",
            "PTM",
            "P1H",
            "PT1M2",
            "PT99999999999999999999H",
        ] {
            assert_eq!(parse_iso_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn pascal() {
        assert_eq!(
            snake_to_pascal("system_assigned,user_assigned"),
            "SystemAssigned,UserAssigned"
        );
        assert_eq!(snake_to_pascal("low_priority"), "LowPriority");
        assert_eq!(
            pascal_to_snake("SystemAssigned, UserAssigned"),
            "system_assigned,user_assigned"
        );
        assert_eq!(pascal_to_snake("LowPriority"), "low_priority");
    }

    #[test]
    fn camel() {
        assert_eq!(camel_to_snake("SystemAssigned"), "system_assigned");
        assert_eq!(
            camel_to_snake("SystemAssigned,UserAssigned"),
            "system_assigned,user_assigned"
        );
        assert_eq!(camel_to_snake("low_priority"), "low_priority");
    }
}

/// Tests written for mutants `.ci/mutants.sh` found surviving (see docs/testing.md).
#[cfg(test)]
mod mutation_kills {
    use super::camel_to_snake;

    #[test]
    fn an_upper_case_letter_after_a_digit_starts_a_word() {
        assert_eq!(camel_to_snake("Gen2Cluster"), "gen2_cluster");
        // Only a lower-case letter or a digit *before* it starts a word, never what follows.
        assert_eq!(camel_to_snake("ABc"), "abc");
        assert_eq!(camel_to_snake("EndsUpperA"), "ends_upper_a");
    }
}
