//! Shared formatting: escaping of user and service strings (text and Markdown) and the
//! rendered line every entry is drawn from.

use std::borrow::Cow;

/// What a line is, for colour (text) and the diff marker (Markdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tone {
    Add,
    Remove,
    Change,
    Replace,
    Power,
    Wait,
    Note,
    Plain,
}

pub(super) struct Line {
    pub(super) tone: Tone,
    pub(super) indent: usize,
    pub(super) symbol: &'static str,
    pub(super) text: String,
}

pub(super) fn line(
    tone: Tone,
    indent: usize,
    symbol: &'static str,
    text: impl Into<String>,
) -> Line {
    Line {
        tone,
        indent,
        symbol,
        text: text.into(),
    }
}

/// Escapes what could hide, rewrite or recolour output: `\r`, `\n`, `\t` and every other C0 or
/// C1 control character (ANSI escapes start with one), DEL, and the Unicode bidi controls
/// (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) and line separators (U+2028,
/// U+2029). They are shown as `\r`, `\n`, `\t` or `\u{1b}`. Every user or service string the
/// renderers (and `apply`'s progress and report lines) print goes through this function.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

pub(super) fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// A string for Markdown prose (outside code blocks): [`escape`]d, on one line, with `&`, `<`
/// and `>` as entities so it cannot open or close HTML (`</details>`, comments, images).
pub(super) fn md_text(s: &str) -> String {
    html_escape(&escape(&s.replace('\n', " ")))
}

/// A string as a Markdown inline code span whose backtick fence is longer than any backtick run
/// inside it, so the string cannot close it.
pub(super) fn md_code(s: &str) -> String {
    let s = escape(s);
    let fence = "`".repeat(longest_backtick_run(&s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

pub(super) fn longest_backtick_run(s: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

pub(super) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
