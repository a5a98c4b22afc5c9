//! Build script: records the Git commit the binary is built from, for `amlctl --version`.
//!
//! `AMLCTL_BUILD_COMMIT` (when set) wins; otherwise `git rev-parse --short HEAD`, but only when this
//! crate's own files are tracked by that repository (a crate unpacked inside some unrelated
//! repository must not borrow its commit). Anything missing gives "unknown": never a failed build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=AMLCTL_BUILD_COMMIT");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let from_env = std::env::var("AMLCTL_BUILD_COMMIT")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()));
    let commit = from_env.or_else(|| {
        git(&dir, &["ls-files", "--error-unmatch", "Cargo.toml"])?;
        // Rebuild when HEAD moves: HEAD itself, the branch it points to, and packed refs.
        if let Some(git_dir) = git(&dir, &["rev-parse", "--absolute-git-dir"]) {
            println!("cargo:rerun-if-changed={git_dir}/HEAD");
        }
        if let Some(common) = git(&dir, &["rev-parse", "--git-common-dir"]) {
            let common = dir.join(common);
            if let Some(branch) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
                println!("cargo:rerun-if-changed={}", common.join(branch).display());
            }
            println!(
                "cargo:rerun-if-changed={}",
                common.join("packed-refs").display()
            );
        }
        git(&dir, &["rev-parse", "--short=12", "HEAD"])
    });
    let commit = commit.unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=AMLCTL_COMMIT={commit}");
}
