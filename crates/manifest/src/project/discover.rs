//! Finding the repository: the `amlctl.yaml` a path belongs to, and path display helpers.

use std::path::{Component, Path, PathBuf};

use crate::diag::Diagnostic;
use crate::model::SourceLocation;

use super::CONFIG_FILE;

pub(super) fn display_path(p: PathBuf) -> PathBuf {
    p.strip_prefix(".").map(Path::to_path_buf).unwrap_or(p)
}

/// Finds the `amlctl.yaml` that `path` belongs to: the file itself, the one in the folder, or the
/// nearest one above (then `path` is the scope: only manifests below it are loaded).
pub(super) fn locate_config(path: &Path) -> Result<(PathBuf, Option<PathBuf>), Vec<Diagnostic>> {
    let nowhere = |msg: String| {
        vec![Diagnostic::error(
            Some(SourceLocation {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
            }),
            None,
            msg,
        )]
    };
    let meta = std::fs::metadata(path)
        .map_err(|e| nowhere(format!("cannot read {}: {}", path.display(), e.kind())))?;
    if meta.is_file()
        && path
            .file_name()
            .is_some_and(|n| n == CONFIG_FILE || n == "amlctl.yml")
    {
        Ok((path.to_path_buf(), None))
    } else if meta.is_dir() && path.join(CONFIG_FILE).is_file() {
        Ok((path.join(CONFIG_FILE), None))
    } else {
        let start = if meta.is_dir() {
            path.to_path_buf()
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let abs = std::fs::canonicalize(if start.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &start
        })
        .map_err(|e| nowhere(format!("cannot resolve {}: {}", path.display(), e.kind())))?;
        let mut found = None;
        let mut rel_up = PathBuf::new();
        for dir in abs.ancestors() {
            if dir.join(CONFIG_FILE).is_file() {
                found = Some(start.join(&rel_up).join(CONFIG_FILE));
                break;
            }
            rel_up.push("..");
        }
        match found {
            Some(c) => Ok((c, Some(path.to_path_buf()))),
            None => Err(nowhere(format!(
                "no {CONFIG_FILE} in {} or any parent folder",
                path.display()
            ))
            .into_iter()
            .map(|d| {
                d.with_hint(
                    "create amlctl.yaml with `workspaces:` at the root of your manifests repo",
                )
            })
            .collect()),
        }
    }
}

/// Lexically removes `.` components (keeps `..`).
pub(super) fn normalize(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect::<PathBuf>()
}
