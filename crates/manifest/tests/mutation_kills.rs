//! Tests written for mutants that `.ci/mutants.sh` (cargo-mutants) found surviving in this
//! crate: each pins a behaviour no other test checked. See docs/testing.md.

use std::path::Path;

use amlctl_manifest::{Diagnostic, LoadOptions, Workspace, load_str};

fn ws() -> Workspace {
    Workspace {
        alias: "dev".into(),
        subscription_id: "00000000-0000-0000-0000-000000000000".into(),
        resource_group: "rg-ml".into(),
        workspace: "mlw-dev".into(),
        location: Some("eastus".into()),
        prune: false,
    }
}

fn diags(text: &str) -> Vec<Diagnostic> {
    match load_str(Path::new("m.yml"), text, &ws(), &LoadOptions::default()) {
        Ok((_, warnings)) => warnings,
        Err(d) => d,
    }
}

/// A diagnostic names the dotted key it is about (`validate --format json` and the plan's
/// errors carry it), so tools can point at the key.
#[test]
fn diagnostics_name_their_dotted_key() {
    let d = diags(
        "name: cpu-cluster\ntype: amlcompute\nsize: Standard_DS3_v2\nssh_settings:\n  admin_username: azureuser\n  admin_pasword: x\n",
    );
    assert!(
        d.iter()
            .any(|d| d.key.as_deref() == Some("ssh_settings.admin_pasword")),
        "{d:?}"
    );
    let d = diags("name: cpu-cluster\ntype: amlcompute\nmax_instances: many\n");
    assert!(
        d.iter().any(|d| d.key.as_deref() == Some("max_instances")),
        "{d:?}"
    );
}

/// An invalid value is quoted in its message, shortened to 60 characters, so the user sees what
/// was written (these keys are never secrets).
#[test]
fn invalid_values_are_quoted_in_the_message() {
    let d = diags("name: cpu-cluster\ntype: amlcompute\ntier: LowPriority\n");
    assert!(
        d.iter()
            .any(|d| d.message == "invalid value 'LowPriority' for `tier`"),
        "{d:?}"
    );
    let long = "x".repeat(100);
    let d = diags(&format!("name: cpu-cluster\ntype: {long}\n"));
    assert!(
        d.iter()
            .any(|d| d.message.contains(&format!("'{}'", "x".repeat(60)))
                && !d.message.contains(&"x".repeat(61))),
        "{d:?}"
    );
}

/// A number or boolean where a string belongs gets the hint to quote it, with the value.
#[test]
fn a_number_for_a_string_key_is_told_to_quote_it() {
    let d = diags("name: cpu-cluster\ntype: amlcompute\nsize: 3\n");
    assert!(
        d.iter()
            .any(|d| d.message.starts_with("`size` must be a string")
                && d.hint.as_deref() == Some("quote it: size: \"3\"")),
        "{d:?}"
    );
}

/// A fractional number for an integer key is "must be an integer"; a whole number too large for
/// an integer is out of range.
#[test]
fn fractional_and_huge_numbers_for_integer_keys() {
    let d = diags("name: cpu-cluster\ntype: amlcompute\nmax_instances: 2.5\n");
    assert!(
        d.iter()
            .any(|d| d.message == "`max_instances` must be an integer, found a number"),
        "{d:?}"
    );
    let d = diags("name: cpu-cluster\ntype: amlcompute\nmax_instances: 1e30\n");
    assert!(
        d.iter().any(|d| d
            .message
            .starts_with("`max_instances` must be between 1 and 10000")),
        "{d:?}"
    );
}
