//! Every file of `tests/bad-manifests/` is rejected with a located error containing the
//! `# expect:` text of its first line.

use std::path::Path;

use amlctl_manifest::{LoadOptions, Workspace, load_files};

#[test]
fn every_bad_manifest_is_rejected_with_its_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/bad-manifests");
    let ws = Workspace {
        alias: "x".into(),
        subscription_id: "00000000-0000-0000-0000-000000000000".into(),
        resource_group: "rg-ml".into(),
        workspace: "mlw-dev".into(),
        location: Some("eastus".into()),
        prune: false,
    };
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "yml") {
            continue;
        }
        let raw = std::fs::read(&p).unwrap();
        let head = String::from_utf8_lossy(&raw).into_owned();
        let expect = head
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks `# expect:`", p.display()))
            .to_string();
        let strict = head.lines().nth(1) == Some("# strict: true");
        let errs = load_files(
            std::slice::from_ref(&p),
            &ws,
            &LoadOptions {
                strict,
                ..Default::default()
            },
        )
        .expect_err(&format!("{} was accepted", p.display()));
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert!(
            errs.iter()
                .any(|d| d.is_error() && d.location.is_some() && d.to_string().contains(&expect)),
            "{}: expected {expect:?} in\n{}",
            p.display(),
            text.join("\n")
        );
        if strict {
            assert!(
                load_files(
                    std::slice::from_ref(&p),
                    &ws,
                    &LoadOptions {
                        strict: false,
                        ..Default::default()
                    }
                )
                .is_ok()
            );
        }
        n += 1;
    }
    assert!(n >= 15);
}
