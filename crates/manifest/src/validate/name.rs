//! The service's compute name rule.

/// The compute name rule of the service: `^[a-zA-Z](?![a-zA-Z0-9-]*-\d+$)[a-zA-Z0-9\-]{2,23}$`.
pub fn check_compute_name(name: &str) -> Result<(), String> {
    let chars: Vec<char> = name.chars().collect();
    if !(3..=24).contains(&chars.len()) {
        return Err(format!(
            "must be 3 to 24 characters long (it has {})",
            chars.len()
        ));
    }
    if !chars[0].is_ascii_alphabetic() {
        return Err("must start with a letter".into());
    }
    if let Some(c) = chars
        .iter()
        .find(|c| !(c.is_ascii_alphanumeric() || **c == '-'))
    {
        return Err(format!(
            "may only contain letters, digits and '-' (found {c:?})"
        ));
    }
    // The negative lookahead: the name must not end in '-' followed only by digits.
    if let Some(pos) = name.rfind('-') {
        let tail = &name[pos + 1..];
        if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) {
            return Err("must not end with '-' followed by digits".into());
        }
    }
    Ok(())
}
