//! The sandbox keeps no secret value in the user's repository, and keeps itself out of git:
//! after the README's sandbox apply (secrets from the environment), `.amlctl/sandbox.json`
//! holds only digest markers, and `.amlctl/.gitignore` ignores the folder.

use std::process::Command;

use crate::common::*;

/// The README's values for the two secrets the example reads from the environment.
const README_SECRETS: &[(&str, &str)] = &[
    ("DSVM_ADMIN_PASSWORD", "example-password"),
    ("DATABRICKS_TOKEN", "dapi-example"),
];

#[test]
fn sandbox_state_holds_no_secret_and_is_git_ignored() {
    let project = Project::example();
    let r = project.root.to_string_lossy().to_string();
    let mut c = Command::new(amlctl());
    c.args(["apply", &r, "--sandbox", "--auto-approve"])
        .env("NO_COLOR", "1")
        .env_remove("AMLCTL_ARM_ENDPOINT")
        .env_remove("GITHUB_STEP_SUMMARY");
    // The test example reads a few more secrets than the README's; the README's values win.
    for (k, v) in SECRET_ENV.iter().chain(README_SECRETS) {
        c.env(k, v);
    }
    let out = c.output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );

    let state = std::fs::read_to_string(project.root.join(".amlctl/sandbox.json"))
        .expect("sandbox state file");
    for (name, value) in README_SECRETS {
        assert!(
            !state.contains(value),
            "{name}'s value is stored in plain text in .amlctl/sandbox.json"
        );
        // Not vacuous: the sandbox did receive the secret (its digest is stored).
        assert!(
            state.contains(&amlctl_emulator::secret_marker(value)),
            "the sandbox holds no digest of {name}"
        );
    }
    for (name, value) in SECRET_ENV {
        assert!(
            !state.contains(value),
            "{name}'s value is stored in plain text in .amlctl/sandbox.json"
        );
    }

    let ignore = std::fs::read_to_string(project.root.join(".amlctl/.gitignore"))
        .expect(".amlctl/.gitignore is written");
    assert_eq!(ignore.trim(), "*");
}
