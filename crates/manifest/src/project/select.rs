//! Manifest discovery: walking the repository and selecting files by `manifests:` folders and globs.

use std::path::{Component, Path};

use crate::diag::Diagnostic;
use crate::model::SourceLocation;

use super::discover::display_path;
use super::{CONFIG_FILE, Config};

/// `./a/b/` → `a/b`; `.` → ``.
pub(super) fn norm_rel(s: &str) -> String {
    let p = Path::new(s);
    let parts: Vec<String> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// Glob match on `/`-separated paths: `**` spans folders, `*` and `?` stay within one.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let s: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    fn segs(p: &[&str], s: &[&str]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((&"**", rest)) => (0..=s.len()).any(|i| segs(rest, &s[i..])),
            Some((first, rest)) => {
                !s.is_empty() && seg(first.as_bytes(), s[0].as_bytes()) && segs(rest, &s[1..])
            }
        }
    }
    fn seg(p: &[u8], s: &[u8]) -> bool {
        // Iterative wildcard match with backtracking to the last '*'.
        let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
        while si < s.len() {
            if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
                pi += 1;
                si += 1;
            } else if pi < p.len() && p[pi] == b'*' {
                star = Some(pi);
                mark = si;
                pi += 1;
            } else if let Some(st) = star {
                pi = st + 1;
                mark += 1;
                si = mark;
            } else {
                return false;
            }
        }
        while pi < p.len() && p[pi] == b'*' {
            pi += 1;
        }
        pi == p.len()
    }
    segs(&p, &s)
}

/// Every `.yml`/`.yaml` file below `root` (relative, `/`-separated, sorted), skipping hidden
/// folders, `target`, `node_modules`, symlinked folders and `amlctl.yaml` itself; and, second,
/// every other (non-hidden) symlink met on the way (symlinked folders, which are not walked).
pub(super) fn walk(root: &Path) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut links = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            let r = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if ft.is_dir() {
                if !name.starts_with('.')
                    && name != "target"
                    && name != "node_modules"
                    && depth < 32
                {
                    stack.push((e.path(), r, depth + 1));
                }
            } else if (ft.is_file() || ft.is_symlink())
                && (name.ends_with(".yml") || name.ends_with(".yaml"))
                && name != CONFIG_FILE
                && name != "amlctl.yml"
            {
                out.push(r);
            } else if ft.is_symlink() && !name.starts_with('.') {
                links.push(r);
            }
        }
    }
    out.sort();
    links.sort();
    (out, links)
}

pub(super) fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Manifest files selected by `config.manifests` (relative paths).
pub(super) fn select(config: &Config, diags: &mut Vec<Diagnostic>) -> Vec<String> {
    let (all, links) = walk(&config.root);
    refuse_outside_links(config, &all, &links, diags);
    let mut chosen = Vec::new();
    for entry in &config.manifests {
        let before = chosen.len();
        for f in &all {
            let hit = if has_glob(entry) {
                glob_match(entry, f)
            } else {
                let e = norm_rel(entry);
                e.is_empty() || f == &e || f.starts_with(&format!("{e}/"))
            };
            if hit && !chosen.contains(f) {
                chosen.push(f.clone());
            }
        }
        if chosen.len() == before
            && !all
                .iter()
                .any(|f| chosen.contains(f) && glob_or_prefix(entry, f))
        {
            diags.push(Diagnostic::warning(
                Some(SourceLocation {
                    file: config.path.clone(),
                    line: 1,
                    column: 1,
                }),
                Some("manifests".into()),
                format!("`manifests` entry '{entry}' matches no .yml/.yaml file"),
            ));
        }
    }
    chosen.sort();
    chosen
}

/// A manifest file, or a folder on the `manifests` path, that is a symlink resolving outside the
/// repository is an error naming the link; the target is never opened.
pub(super) fn refuse_outside_links(
    config: &Config,
    files: &[String],
    links: &[String],
    diags: &mut Vec<Diagnostic>,
) {
    let on_path = |rel: &str| {
        config.manifests.iter().any(|entry| {
            let e = norm_rel(entry);
            glob_or_prefix(entry, rel)
                || e == rel
                || e.starts_with(&format!("{rel}/"))
                || (has_glob(entry) && glob_match(entry, &format!("{rel}/x.yml")))
        })
    };
    let candidates = files
        .iter()
        .filter(|f| {
            std::fs::symlink_metadata(config.root.join(f)).is_ok_and(|m| m.file_type().is_symlink())
        })
        .chain(links.iter().filter(|l| on_path(l)));
    for rel in candidates {
        let link = display_path(config.root.join(rel));
        if let Err(reason) = crate::secret::confine(&config.root, &link) {
            diags.push(
                Diagnostic::error(
                    Some(SourceLocation {
                        file: link.clone(),
                        line: 1,
                        column: 1,
                    }),
                    None,
                    format!(
                        "{} is a symlink that {reason}; it was not read",
                        link.display()
                    ),
                )
                .with_hint(
                    "manifests must live inside the repository (the folder of amlctl.yaml): replace the link with the file",
                ),
            );
        }
    }
}

pub(super) fn glob_or_prefix(entry: &str, f: &str) -> bool {
    if has_glob(entry) {
        glob_match(entry, f)
    } else {
        let e = norm_rel(entry);
        e.is_empty() || f == e || f.starts_with(&format!("{e}/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.yml", "a.yml"));
        assert!(!glob_match("*.yml", "d/a.yml"));
        assert!(glob_match("**/*.yml", "d/e/a.yml"));
        assert!(glob_match("**/*.yml", "a.yml"));
        assert!(glob_match("d/**", "d/e/a.yml"));
        assert!(glob_match("d/?.yaml", "d/a.yaml"));
        assert!(!glob_match("d/?.yaml", "d/ab.yaml"));
        assert!(glob_match("./prod/*", "prod/x.yml"));
    }

    #[test]
    fn norm() {
        assert_eq!(norm_rel("./a/b/"), "a/b");
        assert_eq!(norm_rel("."), "");
    }
}
