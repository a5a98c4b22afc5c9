//! A located YAML tree: every node carries the line and column it was written at.
//!
//! Parsing goes through serde-saphyr (with a strict budget against alias bombs and oversized
//! input) into [`Node`], a small generic tree; validation then walks the tree, so every error
//! can name its `file:line:col`.

use std::fmt;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Spanned, Tagged};

use crate::diag::Diagnostic;
use crate::model::SourceLocation;

/// Stack of the thread that parses one YAML stream.
const PARSE_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Largest manifest or config file accepted (bytes).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// One YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float (never valid in a manifest; kept for the error message).
    Float(f64),
    /// A string scalar.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order; keys are nodes too (usually strings).
    Map(Vec<(Node, Node)>),
}

/// A YAML value and where it was written (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub kind: Kind,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Node {
    /// The location of this node in `file`.
    pub fn loc(&self, file: &Path) -> SourceLocation {
        SourceLocation {
            file: file.to_path_buf(),
            line: self.line.max(1),
            column: self.column.max(1),
        }
    }

    /// The string value, when this is a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A short description of the node's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// Looks up a string key in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Kind::Int(i),
            Err(_) => Kind::Float(v as f64),
        })
    }
    fn visit_i128<E>(self, v: i128) -> Result<Kind, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Kind::Int(i),
            Err(_) => Kind::Float(v as f64),
        })
    }
    fn visit_u128<E>(self, v: u128) -> Result<Kind, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Kind::Int(i),
            Err(_) => Kind::Float(v as f64),
        })
    }
    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Kind, E> {
        Ok(Kind::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Tagged<Kind>>>()? {
            out.push(node_of(item));
        }
        Ok(Kind::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Spanned<Tagged<Kind>>>()? {
            let v = map.next_value::<Spanned<Tagged<Kind>>>()?;
            out.push((node_of(k), node_of(v)));
        }
        Ok(Kind::Map(out))
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

fn node_of(s: Spanned<Tagged<Kind>>) -> Node {
    let node = Node {
        kind: s.value.0,
        line: usize::try_from(s.referenced.line()).unwrap_or(0),
        column: usize::try_from(s.referenced.column()).unwrap_or(0),
    };
    if let Some(tag) = s.value.1
        && !is_string_tag(&tag)
    {
        TAGGED.with(|t| t.borrow_mut().push((node.line, node.column, tag)));
    }
    node
}

thread_local! {
    /// Explicit tags (other than string tags) seen by the current parse: line, column, tag.
    static TAGGED: std::cell::RefCell<Vec<(usize, usize, String)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `!!str` and the non-specific `!` only make a value a string, which every key reads anyway.
fn is_string_tag(tag: &str) -> bool {
    matches!(
        tag,
        "!" | "!!str" | "tag:yaml.org,2002:str" | "!<tag:yaml.org,2002:str>"
    )
}

/// Parser options: default YAML 1.2 scalars, duplicate keys rejected, a tight budget so an alias
/// bomb or a pathological document fails fast with bounded memory.
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = Some(MAX_FILE_BYTES);
    budget.max_events = 200_000;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_recorded_anchor_events = 20_000;
    budget.max_recorded_anchor_bytes = 1024 * 1024;
    budget.max_depth = 48;
    budget.max_documents = 1_000;
    budget.max_nodes = 100_000;
    budget.max_total_scalar_bytes = MAX_FILE_BYTES;
    budget.max_merge_keys = 1_000;
    let mut o = serde_saphyr::Options::default();
    o.budget = Some(budget);
    o.with_snippet = false;
    o.strict_booleans = true;
    o.alias_limits.max_total_replayed_events = 20_000;
    o.alias_limits.max_replay_stack_depth = 16;
    o.alias_limits.max_alias_expansions_per_anchor = 100;
    o
}

/// Turns raw bytes into text, or a located error (size limit, invalid UTF-8, NUL bytes).
pub fn decode(file: &Path, bytes: &[u8]) -> Result<String, Diagnostic> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            Some(SourceLocation {
                file: file.to_path_buf(),
                line: 1,
                column: 1,
            }),
            None,
            format!(
                "file is {} bytes, larger than the {} byte limit for a manifest",
                bytes.len(),
                MAX_FILE_BYTES
            ),
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let (line, column) = line_col(good);
            return Err(Diagnostic::error(
                Some(SourceLocation {
                    file: file.to_path_buf(),
                    line,
                    column,
                }),
                None,
                "file is not valid UTF-8".to_string(),
            )
            .with_hint("save the file as UTF-8"));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Ok(text.to_string())
}

/// 1-based line and column just after `prefix` (columns in characters).
fn line_col(prefix: &[u8]) -> (usize, usize) {
    let s = String::from_utf8_lossy(prefix);
    let line = s.matches('\n').count() + 1;
    let column = s.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Nesting a document may reach and still be parsed on the caller's thread (a few KiB of stack
/// per level: far below the 2 MiB of a runtime worker thread).
const INLINE_MAX_NESTING: usize = 64;

/// An upper bound of how deep `text` can nest: every level needs a line of its own, a `[`/`{`
/// (flow style), or a `-`/`?` (block sequences and complex keys nest on one line: `- - - x`).
fn nesting_bound(text: &str) -> usize {
    text.bytes()
        .filter(|b| matches!(b, b'\n' | b'[' | b'{' | b'-' | b'?'))
        .count()
        + 1
}

/// The parse itself, with the explicit tags it met (see [`TAGGED`]).
type Parsed = (Vec<Node>, Vec<(usize, usize, String)>);

fn parse_tagged(text: &str) -> Result<Parsed, serde_saphyr::Error> {
    TAGGED.with(|t| t.borrow_mut().clear());
    let docs = serde_saphyr::from_multiple_with_options::<Spanned<Tagged<Kind>>>(text, options())
        .map(|docs| docs.into_iter().map(node_of).collect::<Vec<Node>>());
    let tagged = TAGGED.with(|t| std::mem::take(&mut *t.borrow_mut()));
    docs.map(|d| (d, tagged))
}

/// Parses every document of a YAML stream (`---` separated). Empty documents are skipped.
pub fn parse_documents(file: &Path, text: &str) -> Result<Vec<Node>, Diagnostic> {
    // The parser recurses per nesting level (bounded by the budget's `max_depth`). A document
    // that cannot nest deeply (an upper bound from its lines and flow brackets) is parsed on the
    // caller's thread; anything else on a thread of its own with a roomy stack, which keeps it
    // safe whatever thread the caller runs on. Spawning that thread for every small manifest
    // tripled the load time of 2,000 manifests (bench/RESULTS.md, "Where the time goes").
    let parsed = if nesting_bound(text) <= INLINE_MAX_NESTING {
        Ok(parse_tagged(text))
    } else {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("yaml-parse".into())
                .stack_size(PARSE_STACK_BYTES)
                .spawn_scoped(scope, || parse_tagged(text))
                .map(|h| h.join())
        })
        .unwrap_or_else(|_| {
            Err(Box::new("cannot start the parser thread") as Box<dyn std::any::Any + Send>)
        })
    };
    match parsed {
        Ok(Ok((docs, tagged))) => {
            // An explicit tag (`!!binary`, `!!int`, `!custom`) would make the value mean something
            // other than what a reviewer reads; refuse it instead of decoding it silently (#19).
            if let Some((line, column, tag)) = tagged.into_iter().min() {
                let shown: String = tag.chars().take(60).collect();
                return Err(Diagnostic::error(
                    Some(SourceLocation {
                        file: file.to_path_buf(),
                        line: line.max(1),
                        column: column.max(1),
                    }),
                    None,
                    format!("explicit YAML tag `{shown}` is not allowed in amlctl files"),
                )
                .with_hint(
                    "write the plain value without the tag (quote it if it must stay a string)",
                ));
            }
            Ok(docs)
        }
        Ok(Err(e)) => {
            let (line, column) = e
                .location()
                .map(|l| {
                    (
                        usize::try_from(l.line()).unwrap_or(1).max(1),
                        usize::try_from(l.column()).unwrap_or(1).max(1),
                    )
                })
                .unwrap_or((1, 1));
            let mut msg = e.to_string();
            // The location is already in our prefix; drop serde-saphyr's own " at line X column Y".
            if let Some(i) = msg.find(" at line ") {
                msg.truncate(i);
            }
            let lower = msg.to_ascii_lowercase();
            // serde-saphyr names its own option in this message; say what the user should do.
            if let Some(rest) = msg.strip_prefix("duplicate mapping key: ") {
                let key = rest.split(',').next().unwrap_or(rest).trim();
                msg = format!("duplicate key `{key}`: a key may appear only once in a mapping");
            }
            let hint = if lower.contains("budget") {
                Some("the document is too large or uses too many anchors/aliases (YAML bomb guard)")
            } else if lower.starts_with("duplicate mapping key") {
                Some("remove one of the two; the other occurrence is above this line")
            } else if msg.contains('\t')
                || lower.contains("tabs")
                || lower.contains("tab character")
            {
                Some("YAML indentation must use spaces, not tabs")
            } else {
                None
            };
            let d = Diagnostic::error(
                Some(SourceLocation {
                    file: file.to_path_buf(),
                    line,
                    column,
                }),
                None,
                format!("invalid YAML: {}", first_line(&msg)),
            );
            Err(match hint {
                Some(h) => d.with_hint(h),
                None => d,
            })
        }
        Err(_) => Err(Diagnostic::error(
            Some(SourceLocation {
                file: file.to_path_buf(),
                line: 1,
                column: 1,
            }),
            None,
            "invalid YAML: the parser failed on this input".to_string(),
        )),
    }
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("").trim();
    let mut out: String = l.chars().take(200).collect();
    if out.is_empty() {
        out = "syntax error".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<Node>, Diagnostic> {
        parse_documents(Path::new("f.yml"), s)
    }

    #[test]
    fn scalars_are_typed_and_located() {
        let docs = parse("a: 1\nb: true\nc: x y\nd: '2'\ne:\nf: 1.5\n").unwrap();
        let d = &docs[0];
        assert_eq!(d.get("a").unwrap().kind, Kind::Int(1));
        assert_eq!(d.get("b").unwrap().kind, Kind::Bool(true));
        assert_eq!(d.get("c").unwrap().kind, Kind::Str("x y".into()));
        assert_eq!(d.get("d").unwrap().kind, Kind::Str("2".into()));
        assert_eq!(d.get("e").unwrap().kind, Kind::Null);
        assert_eq!(d.get("f").unwrap().kind, Kind::Float(1.5));
        let c = d.get("c").unwrap();
        assert_eq!((c.line, c.column), (3, 4));
    }

    #[test]
    fn several_documents() {
        let docs = parse("a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].get("b").unwrap().line, 3);
    }

    #[test]
    fn nested_locations() {
        let docs = parse("x:\n  y:\n    - z: 1\n").unwrap();
        let z = &docs[0].get("x").unwrap().get("y").unwrap();
        match &z.kind {
            Kind::Seq(items) => {
                let n = items[0].get("z").unwrap();
                assert_eq!((n.line, n.column), (3, 10));
            }
            _ => panic!("not a seq"),
        }
    }

    #[test]
    fn billion_laughs_is_a_located_error() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        let e = parse(&s).unwrap_err();
        assert!(e.location.is_some());
    }

    #[test]
    fn duplicate_keys_and_tabs_are_errors() {
        assert!(parse("a: 1\na: 2\n").is_err());
        let e = parse("a:\n\tb: 1\n").unwrap_err();
        assert!(e.location.is_some());
    }

    #[test]
    fn explicit_tags_are_located_errors() {
        for (text, line, column) in [
            ("name: !!binary aGVsbG8=\n", 1, 16),
            ("a: 1\nname: !!binary |\n  aGVsbG8=\n", 3, 3),
            ("a: !!int '5'\n", 1, 10),
            ("a: !custom x\n", 1, 12),
            ("!!binary bmFtZQ==: x\n", 1, 10),
            ("a: [ !!binary aGk= ]\n", 1, 15),
        ] {
            let e = parse(text).unwrap_err();
            assert!(
                e.message.contains("explicit YAML tag"),
                "{text}: {}",
                e.message
            );
            let l = e.location.unwrap();
            assert_eq!((l.line, l.column), (line, column), "{text}");
        }
        assert!(parse("a: !!str 5\nb: ! x\n").is_ok());
    }

    #[test]
    fn invalid_utf8_is_located() {
        let e = decode(Path::new("f.yml"), b"a: 1\nb: \xff\n").unwrap_err();
        let l = e.location.unwrap();
        assert_eq!((l.line, l.column), (2, 4));
    }
}
