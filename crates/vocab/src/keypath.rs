//! [`KeyPath`]: a dotted key path (`scale_settings.max_instances`,
//! `properties.scaleSettings.maxNodeCount`), parsed, compared and walked in one place.

use serde_json::{Map, Value};

/// A dotted key path into a JSON object: manifest keys (`ssh_settings.admin_username`) and
/// ARM-side property paths (`properties.properties.scaleSettings.maxNodeCount`) alike.
///
/// Parsing splits on every `.` and keeps empty segments, so [`Display`](std::fmt::Display)
/// gives back exactly the string parsed. Prefixes are compared on segment boundaries:
/// `scale_settings` covers `scale_settings.max_instances` but not `scale_settings_x`.
/// Serialised as the dotted string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct KeyPath {
    segments: Vec<String>,
}

impl KeyPath {
    /// Parses a dotted string: one segment per `.`-separated part (`""` is one empty segment).
    pub fn parse(dotted: &str) -> KeyPath {
        KeyPath {
            segments: dotted.split('.').map(str::to_string).collect(),
        }
    }

    /// The path of these segments, in order (a segment may itself contain a `.`, as a tag
    /// name may).
    pub fn from_segments<I, S>(segments: I) -> KeyPath
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        KeyPath {
            segments: segments.into_iter().map(Into::into).collect(),
        }
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The segments as string slices (for APIs that take `&[&str]`).
    pub fn segment_strs(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    /// The number of segments.
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// True when the path has no segment (the root).
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The outermost segment (`scale_settings` of `scale_settings.max_instances`).
    pub fn first(&self) -> Option<&str> {
        self.segments.first().map(String::as_str)
    }

    /// The innermost segment (`max_instances` of `scale_settings.max_instances`).
    pub fn last(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// This path with `segment` appended.
    pub fn child(&self, segment: impl Into<String>) -> KeyPath {
        let mut segments = self.segments.clone();
        segments.push(segment.into());
        KeyPath { segments }
    }

    /// True when `prefix` is this path or an ancestor of it, on segment boundaries
    /// (`scale` is not a prefix of `scale_settings.max_instances`).
    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.segments.starts_with(&prefix.segments)
    }

    /// True when this path is `key` or an ancestor of it: a secret, `ignore_changes` entry or
    /// policy row at this path applies to `key`.
    pub fn covers(&self, key: &KeyPath) -> bool {
        key.starts_with(self)
    }

    /// The rest of this path below `prefix` (`None` unless [`starts_with`](Self::starts_with)).
    pub fn strip_prefix(&self, prefix: &KeyPath) -> Option<KeyPath> {
        self.segments
            .strip_prefix(prefix.segments.as_slice())
            .map(|rest| KeyPath {
                segments: rest.to_vec(),
            })
    }

    /// The value at this path in `map`: objects are descended, anything else ends the walk
    /// (`None`). The empty path has no value.
    pub fn lookup<'a>(&self, map: &'a Map<String, Value>) -> Option<&'a Value> {
        let (first, rest) = self.segments.split_first()?;
        let mut cur = map.get(first)?;
        for seg in rest {
            cur = cur.as_object()?.get(seg)?;
        }
        Some(cur)
    }

    /// The value at this path in `value` (an object; see [`lookup`](Self::lookup)). The empty
    /// path is `value` itself.
    pub fn lookup_in<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        if self.segments.is_empty() {
            return Some(value);
        }
        self.lookup(value.as_object()?)
    }

    /// Sets the value at this path in `map`, creating objects on the way (a non-object on the
    /// way is replaced by an object). The empty path sets nothing.
    pub fn set(&self, map: &mut Map<String, Value>, value: Value) {
        let Some((last, init)) = self.segments.split_last() else {
            return;
        };
        let mut cur = map;
        for seg in init {
            let entry = cur
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            let Value::Object(next) = entry else {
                return;
            };
            cur = next;
        }
        cur.insert(last.clone(), value);
    }

    /// Removes the value at this path from `map` and returns it; `None` (and nothing changed)
    /// when the path does not lead there through objects.
    pub fn remove(&self, map: &mut Map<String, Value>) -> Option<Value> {
        let (last, init) = self.segments.split_last()?;
        let mut cur = map;
        for seg in init {
            let Some(Value::Object(next)) = cur.get_mut(seg) else {
                return None;
            };
            cur = next;
        }
        cur.remove(last)
    }
}

impl std::fmt::Display for KeyPath {
    /// The dotted string (`scale_settings.max_instances`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(seg)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for KeyPath {
    type Err = std::convert::Infallible;

    /// Parses a dotted string ([`KeyPath::parse`]); never fails.
    fn from_str(s: &str) -> Result<KeyPath, Self::Err> {
        Ok(KeyPath::parse(s))
    }
}

impl From<&str> for KeyPath {
    fn from(s: &str) -> KeyPath {
        KeyPath::parse(s)
    }
}

impl serde::Serialize for KeyPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for KeyPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<KeyPath, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(KeyPath::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::KeyPath;
    use serde_json::{Map, Value, json};

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn parses_and_displays_the_dotted_string() {
        for s in [
            "size",
            "scale_settings.max_instances",
            "properties.scaleSettings.maxNodeCount",
            "",
            "a..b",
        ] {
            let k = KeyPath::parse(s);
            assert_eq!(k.to_string(), s);
            assert_eq!(k.segments().len(), s.split('.').count());
        }
        let k = KeyPath::parse("scale_settings.max_instances");
        assert_eq!(k.segments(), ["scale_settings", "max_instances"]);
        assert_eq!(k.segment_strs(), vec!["scale_settings", "max_instances"]);
        assert_eq!(k.first(), Some("scale_settings"));
        assert_eq!(k.last(), Some("max_instances"));
        assert_eq!(KeyPath::from_segments(["tags", "app.version"]).len(), 2);
        assert_eq!(
            KeyPath::parse("a").child("b"),
            KeyPath::parse("a.b"),
            "child appends one segment"
        );
        assert!(KeyPath::default().is_empty());
    }

    #[test]
    fn prefixes_only_on_segment_boundaries() {
        let key = KeyPath::parse("scale_settings.max_instances");
        assert!(KeyPath::parse("scale_settings").covers(&key));
        assert!(key.covers(&key));
        assert!(!KeyPath::parse("scale").covers(&key));
        assert!(!KeyPath::parse("scale_settings.max").covers(&key));
        assert!(!key.covers(&KeyPath::parse("scale_settings")));
        assert!(key.starts_with(&KeyPath::parse("scale_settings")));
        assert_eq!(
            key.strip_prefix(&KeyPath::parse("scale_settings")),
            Some(KeyPath::parse("max_instances"))
        );
        assert_eq!(key.strip_prefix(&KeyPath::parse("scale")), None);
    }

    #[test]
    fn looks_up_sets_and_removes_in_json() {
        let v = json!({
            "properties": {"scaleSettings": {"maxNodeCount": 4}},
            "size": "Standard_NC6",
            "list": [1, 2]
        });
        let mut m = obj(v.clone());
        let k = KeyPath::parse("properties.scaleSettings.maxNodeCount");
        assert_eq!(k.lookup(&m), Some(&json!(4)));
        assert_eq!(k.lookup_in(&v), Some(&json!(4)));
        assert_eq!(KeyPath::default().lookup_in(&v), Some(&v));
        assert_eq!(KeyPath::parse("size.x").lookup(&m), None);
        assert_eq!(KeyPath::parse("list.0").lookup(&m), None);
        assert_eq!(KeyPath::parse("missing.key").lookup(&m), None);
        assert_eq!(KeyPath::default().lookup(&m), None);

        k.set(&mut m, json!(8));
        assert_eq!(k.lookup(&m), Some(&json!(8)));
        KeyPath::parse("size.inner").set(&mut m, json!(true));
        assert_eq!(m["size"], json!({"inner": true}));
        KeyPath::parse("new.deep.key").set(&mut m, json!("x"));
        assert_eq!(m["new"], json!({"deep": {"key": "x"}}));

        let before = m.clone();
        assert_eq!(KeyPath::parse("list.0").remove(&mut m), None);
        assert_eq!(KeyPath::parse("nope.x").remove(&mut m), None);
        assert_eq!(m, before, "a remove that leads nowhere changes nothing");
        assert_eq!(k.remove(&mut m), Some(json!(8)));
        assert_eq!(m["properties"], json!({"scaleSettings": {}}));
        assert_eq!(k.lookup(&m), None);
    }

    #[test]
    fn serialises_as_the_dotted_string() {
        let k = KeyPath::parse("ssh_settings.admin_username");
        let v = serde_json::to_value(&k).unwrap();
        assert_eq!(v, json!("ssh_settings.admin_username"));
        assert_eq!(serde_json::from_value::<KeyPath>(v).unwrap(), k);
        assert!(serde_json::from_value::<KeyPath>(json!(3)).is_err());
        assert_eq!("a.b".parse::<KeyPath>(), Ok(KeyPath::parse("a.b")));
    }
}
