//! Issue #18 "Distribution": what the release workflow, the GitHub Action and the pre-commit hook
//! rely on in the binary itself. (The Action's comment script, the hook and the workflow lints are
//! exercised by tests/action/run.sh and .ci/check-workflows.sh, run from .ci/run.)

use std::process::Command;

use crate::common::*;

/// `amlctl --version` prints the workspace version and the commit it was built from, which the
/// release archives and bug reports rely on.
#[test]
fn version_prints_workspace_version_and_commit() {
    let out = Command::new(amlctl())
        .arg("--version")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let root = repo_root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let version = manifest
        .lines()
        .skip_while(|l| l.trim() != "[workspace.package]")
        .find_map(|l| l.trim().strip_prefix("version = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("workspace version");
    let head = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let commit = head.unwrap_or_else(|| "unknown".to_string());
    assert_eq!(
        text.trim(),
        format!("amlctl {version} (commit {commit})"),
        "--version"
    );
}
