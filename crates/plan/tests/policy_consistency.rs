//! The field policy lives in one place (`amlctl_plan::policy_for`); the manifest reference's
//! policy column (`amlctl_manifest::fields`) is documentation and must say the same thing.

use amlctl_manifest::ComputeType;
use amlctl_manifest::fields::fields_of;
use amlctl_plan::{Policy, policy_for};

fn doc_phrase(p: Policy) -> Option<&'static str> {
    match p {
        Policy::InPlacePatch => Some("in place (PATCH)"),
        Policy::InPlacePut => Some("in place (PUT)"),
        Policy::Replace => Some("replace"),
        Policy::WriteOnlySecret => Some("write-only secret (change needs --replace)"),
        Policy::CreateOnly | Policy::Ignored => None,
    }
}

#[test]
fn manifest_reference_policy_column_matches_the_planner_table() {
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for t in ComputeType::ALL {
        for field in fields_of(t) {
            if field.policy.is_empty() {
                continue;
            }
            let planner = policy_for(t, field.name);
            compared += 1;
            if let Some(phrase) = doc_phrase(planner)
                && phrase != field.policy
            {
                mismatches.push(format!(
                    "{}.{}: reference says {:?}, planner says {:?}",
                    t.manifest_name(),
                    field.name,
                    field.policy,
                    planner
                ));
            }
        }
    }
    assert!(
        compared > 50,
        "only {compared} documented policies compared"
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
