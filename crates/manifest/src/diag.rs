//! Diagnostics: located errors and warnings, and the "did you mean" helper.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::SourceLocation;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The input is invalid; nothing is planned or rendered.
    Error,
    /// The input is valid but questionable (literal secret, legacy type, ignored key).
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding. Display: `file:line:col: error: message` (plus `\n  = hint: …` when there is a
/// hint). Messages never contain secret values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where, when known.
    pub location: Option<SourceLocation>,
    /// Dotted manifest key path the finding is about (`ssh_settings.admin_password`).
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A new error.
    pub fn error(location: Option<SourceLocation>, key: Option<String>, message: String) -> Self {
        Diagnostic {
            severity: Severity::Error,
            location,
            key,
            message,
            hint: None,
        }
    }

    /// A new warning.
    pub fn warning(location: Option<SourceLocation>, key: Option<String>, message: String) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            location,
            key,
            message,
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        write!(f, "{}: {}", self.severity, self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  = hint: {h}")?;
        }
        Ok(())
    }
}

/// Edit distance with swaps of neighbours (characters, case-insensitive).
pub fn edit_distance(a: &str, b: &str) -> usize {
    // Optimal string alignment: insertions, deletions, substitutions and swaps of two neighbours
    // (`prdo` → `prod`) each cost 1.
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut two_back: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            let mut best = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && *ca == b[j - 1] && a[i - 1] == *cb {
                best = best.min(two_back[j - 1] + 1);
            }
            cur[j + 1] = best;
        }
        std::mem::swap(&mut two_back, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate to `word`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let norm = |s: &str| s.to_lowercase().replace(['-', '_'], "");
    let w = norm(word);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = if norm(c) == w {
            0
        } else {
            edit_distance(word, c)
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    let limit = (word.chars().count() / 3).clamp(1, 4);
    (d <= limit).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn swapped_letters_are_one_typo() {
        assert_eq!(edit_distance("prdo", "prod"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(did_you_mean("prdo", ["prod", "dev"]), Some("prod"));
    }

    #[test]
    fn display_format() {
        let d = Diagnostic::error(
            Some(SourceLocation {
                file: PathBuf::from("a.yml"),
                line: 3,
                column: 5,
            }),
            Some("size".into()),
            "bad".into(),
        )
        .with_hint("fix it");
        assert_eq!(d.to_string(), "a.yml:3:5: error: bad\n  = hint: fix it");
    }

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            did_you_mean("max_instance", ["min_instances", "max_instances"]),
            Some("max_instances")
        );
        assert_eq!(did_you_mean("identity-type", ["identity", "size"]), None);
        assert_eq!(did_you_mean("zzzzzz", ["size", "tier"]), None);
        assert_eq!(did_you_mean("Tier", ["size", "tier"]), Some("tier"));
    }
}
