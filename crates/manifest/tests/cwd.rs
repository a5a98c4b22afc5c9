//! `load_project(".")` from inside the repo (its own test binary: it changes the current directory).

use std::path::Path;

use amlctl_manifest::{LoadOptions, load_project};

#[test]
fn relative_paths_from_the_current_directory() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("amlctl.yaml"),
        "workspaces:\n  dev: {subscription_id: 00000000-0000-0000-0000-000000000001, resource_group: g, workspace: w}\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.path().join("sub")).unwrap();
    std::fs::write(
        d.path().join("sub/a.yml"),
        "name: abc\ntype: amlcompute\nbogus: 1\n",
    )
    .unwrap();
    std::fs::write(d.path().join("b.yml"), "name: abd\ntype: amlcompute\n").unwrap();
    std::env::set_current_dir(d.path()).unwrap();
    let errs = load_project(Path::new("."), &LoadOptions::default()).unwrap_err();
    assert_eq!(
        errs[0].to_string().lines().next().unwrap(),
        "sub/a.yml:3:1: error: unknown key `bogus`"
    );
    // From a subfolder: amlctl.yaml is found upward and only that folder is loaded.
    std::env::set_current_dir(d.path().join("sub")).unwrap();
    let errs = load_project(Path::new("."), &LoadOptions::default()).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].to_string().starts_with("../sub/a.yml:3:1")
            || errs[0].to_string().starts_with("sub/a.yml:3:1"),
        "{}",
        errs[0]
    );
    std::fs::write(d.path().join("sub/a.yml"), "name: abc\ntype: amlcompute\n").unwrap();
    let p = load_project(Path::new("."), &LoadOptions::default()).unwrap();
    assert_eq!(p.targets.len(), 1);
    assert_eq!(p.targets[0].name, "abc");
    assert_eq!(p.config.path, Path::new("../amlctl.yaml"));
}
