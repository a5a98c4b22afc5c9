//! Secret resolution for the executor. Values are never logged or put in error messages.

use std::path::{Component, Path, PathBuf};

use crate::model::{LiteralSecret, SecretRef, SecretString, Workspace};

/// Largest secret file read (bytes).
const MAX_SECRET_FILE: u64 = 1024 * 1024;

/// Why a secret could not be resolved here. Messages name the source, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// A Key Vault reference: the caller fetches it with its ARM credential.
    #[error("secret is in Key Vault ({0}); it must be fetched with an Azure credential")]
    NeedsKeyVault(String),
    /// `{ env: NAME }` and the variable is not set (or not UTF-8).
    #[error("environment variable {0} is not set (or is not valid UTF-8)")]
    EnvMissing(String),
    /// `{ file: path }` could not be read.
    #[error("cannot read secret file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error (no contents).
        reason: String,
    },
    /// `{ file: path }` or a key file resolves (symlinks followed) outside the repository.
    #[error(
        "secret file {path} is outside the repository ({root}); it was not read (keep secret files inside the repository, or pass --allow-outside-repo)"
    )]
    OutsideRepo {
        /// The file as referenced.
        path: PathBuf,
        /// The repository root (the folder of amlctl.yaml).
        root: PathBuf,
    },
    /// A literal secret (from a saved plan, which never stores values) could not be read again
    /// from its manifest.
    #[error("literal secret `{key}` at {location} cannot be read again: {reason}")]
    Literal {
        /// Where it was written.
        location: String,
        /// Dotted manifest key.
        key: String,
        /// What went wrong (never the value).
        reason: String,
    },
}

/// Checks that `path` stays inside `root` once every symlink is resolved, without opening it.
/// A path that does not exist yet is resolved as far as it exists, the rest lexically; a
/// dangling symlink on the way counts as outside (its target cannot be checked).
/// Returns the resolved path, or why not as a phrase (`resolves to a place outside the repository`).
pub fn confine(root: &Path, path: &Path) -> Result<PathBuf, String> {
    let absolute = |p: &Path| -> Result<PathBuf, String> {
        if p.is_absolute() {
            Ok(p.to_path_buf())
        } else {
            let cwd = std::env::current_dir()
                .map_err(|e| format!("cannot read the current folder: {}", e.kind()))?;
            Ok(cwd.join(p))
        }
    };
    let root = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    let root_c = std::fs::canonicalize(absolute(root)?)
        .map_err(|e| format!("cannot resolve the repository folder: {}", e.kind()))?;
    let full = absolute(path)?;
    let parts: Vec<Component> = full.components().collect();
    for i in (0..=parts.len()).rev() {
        let prefix: PathBuf = parts[..i].iter().collect();
        if prefix.as_os_str().is_empty() {
            continue;
        }
        match std::fs::canonicalize(&prefix) {
            Ok(mut resolved) => {
                for c in &parts[i..] {
                    match c {
                        Component::ParentDir => {
                            resolved.pop();
                        }
                        Component::Normal(n) => resolved.push(n),
                        _ => {}
                    }
                }
                return if resolved.starts_with(&root_c) {
                    Ok(resolved)
                } else {
                    Err("resolves to a place outside the repository".into())
                };
            }
            Err(_) if std::fs::symlink_metadata(&prefix).is_ok() => {
                return Err("goes through a symlink whose target does not exist".into());
            }
            Err(_) => {}
        }
    }
    Err("cannot be resolved".into())
}

/// [`resolve_secret`], but a `{ file: … }` reference must stay inside `root` (see [`confine`]),
/// checked before the file is opened. `root: None` reads any file (`--allow-outside-repo`).
pub fn resolve_secret_in(r: &SecretRef, root: Option<&Path>) -> Result<SecretString, SecretError> {
    if let (SecretRef::File(path), Some(root)) = (r, root)
        && confine(root, path).is_err()
    {
        return Err(SecretError::OutsideRepo {
            path: path.clone(),
            root: root.to_path_buf(),
        });
    }
    resolve_secret(r)
}

/// Resolves env, file and literal references. File contents have one trailing newline trimmed,
/// except PEM/OpenSSH key files (containing `-----BEGIN `), which are returned verbatim (key
/// parsers need the final newline; azure-ai-ml sends `ssh_private_key_file` contents verbatim).
/// Key Vault references give [`SecretError::NeedsKeyVault`].
pub fn resolve_secret(r: &SecretRef) -> Result<SecretString, SecretError> {
    match r {
        SecretRef::Env(name) => std::env::var(name)
            .map(SecretString::new)
            .map_err(|_| SecretError::EnvMissing(name.clone())),
        SecretRef::File(path) => {
            let err = |reason: String| SecretError::File {
                path: path.clone(),
                reason,
            };
            let meta = std::fs::metadata(path).map_err(|e| err(e.kind().to_string()))?;
            if meta.len() > MAX_SECRET_FILE {
                return Err(err(format!("larger than {MAX_SECRET_FILE} bytes")));
            }
            let bytes = std::fs::read(path).map_err(|e| err(e.kind().to_string()))?;
            let mut s = String::from_utf8(bytes).map_err(|_| err("not valid UTF-8".into()))?;
            if !s.contains("-----BEGIN ") {
                if s.ends_with("\r\n") {
                    s.truncate(s.len() - 2);
                } else if s.ends_with('\n') {
                    s.truncate(s.len() - 1);
                }
            }
            Ok(SecretString::new(s))
        }
        SecretRef::KeyVault(url) => Err(SecretError::NeedsKeyVault(url.clone())),
        // A plan file stores where a literal was written, never its value: read it again there.
        SecretRef::Literal(l) if l.value.expose().is_empty() => reread_literal(l),
        SecretRef::Literal(l) => Ok(l.value.clone()),
    }
}

/// Loads the manifest a literal secret was written in and returns the literal at the same key
/// and position; a moved or removed literal is an error (the plan is stale).
fn reread_literal(l: &LiteralSecret) -> Result<SecretString, SecretError> {
    let err = |reason: &str| SecretError::Literal {
        location: l.location.to_string(),
        key: l.key.clone(),
        reason: reason.to_string(),
    };
    // The workspace only shapes subnet ids, which a secret never depends on.
    let ws = Workspace {
        alias: "default".into(),
        subscription_id: "00000000-0000-0000-0000-000000000000".into(),
        resource_group: "rg".into(),
        workspace: "ws".into(),
        location: None,
        prune: false,
    };
    let (targets, _) = crate::load_files(
        std::slice::from_ref(&l.location.file),
        &ws,
        &crate::LoadOptions::default(),
    )
    .map_err(|_| err("the manifest no longer loads (run from the folder the plan was made in, or plan again)"))?;
    targets
        .iter()
        .find_map(|t| match t.secrets.get(&l.key) {
            Some(SecretRef::Literal(found)) if found.location == l.location => {
                Some(found.value.clone())
            }
            _ => None,
        })
        .ok_or_else(|| err("it is no longer at that place in the manifest; run plan again"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confined_to_the_repository() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("s")).unwrap();
        std::fs::write(repo.join("s/tok"), "x").unwrap();
        std::fs::write(dir.path().join("outside"), "x").unwrap();
        assert!(confine(&repo, &repo.join("s/tok")).is_ok());
        assert!(confine(&repo, &repo.join("s/not-yet")).is_ok());
        assert!(confine(&repo, &repo.join("s/../../outside")).is_err());
        assert!(confine(&repo, Path::new("/etc/shadow")).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("outside"), repo.join("s/link")).unwrap();
            assert!(confine(&repo, &repo.join("s/link")).is_err());
            std::os::unix::fs::symlink(dir.path().join("gone"), repo.join("s/dangling")).unwrap();
            assert!(confine(&repo, &repo.join("s/dangling")).is_err());
        }
        let e = resolve_secret_in(&SecretRef::File(repo.join("s/../../outside")), Some(&repo));
        assert!(matches!(e, Err(SecretError::OutsideRepo { .. })));
    }

    #[test]
    fn file_and_env_and_vault() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tok");
        std::fs::write(&p, "s3cret\n").unwrap();
        assert_eq!(
            resolve_secret(&SecretRef::File(p.clone()))
                .unwrap()
                .expose(),
            "s3cret"
        );
        let k = dir.path().join("key");
        std::fs::write(&k, "-----BEGIN KEY-----\nabc\n-----END KEY-----\n").unwrap();
        assert!(
            resolve_secret(&SecretRef::File(k))
                .unwrap()
                .expose()
                .ends_with("-----\n")
        );
        let missing = resolve_secret(&SecretRef::File(dir.path().join("nope"))).unwrap_err();
        assert!(matches!(missing, SecretError::File { .. }));
        let e = resolve_secret(&SecretRef::Env("AMLCTL_TEST_SURELY_UNSET_VAR".into())).unwrap_err();
        assert_eq!(
            e,
            SecretError::EnvMissing("AMLCTL_TEST_SURELY_UNSET_VAR".into())
        );
        let kv = "https://v.vault.azure.net/secrets/x".to_string();
        assert_eq!(
            resolve_secret(&SecretRef::KeyVault(kv.clone())).unwrap_err(),
            SecretError::NeedsKeyVault(kv)
        );
    }
}
