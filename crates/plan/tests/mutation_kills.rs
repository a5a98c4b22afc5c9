//! Tests written for mutants that `.ci/mutants.sh` (cargo-mutants) found surviving: each pins a
//! behaviour no other test of this crate checked. See docs/testing.md.

use amlctl_manifest::ComputeType;
use amlctl_plan::{policy_row, policy_table};

/// `policy_table` is the table `policy_row` decides from: every row is found again for each of its
/// types by its own key (so the published table cannot drift from the decisions, or be empty).
#[test]
fn policy_table_is_the_table_policy_row_decides_from() {
    let table = policy_table();
    assert!(table.len() >= 10, "{} rows", table.len());
    for row in table {
        assert!(!row.types.is_empty(), "{} has no type", row.key);
        for t in row.types {
            let found =
                policy_row(*t, row.key).unwrap_or_else(|| panic!("{t:?} {}: no row", row.key));
            assert_eq!(found.key, row.key, "{t:?}");
            assert_eq!(found.policy, row.policy, "{t:?} {}", row.key);
        }
    }
    // A dotted key below a row is decided by it; a key that merely shares a prefix is not.
    let r = policy_row(ComputeType::AmlCompute, "ssh_settings.admin_username").map(|r| r.key);
    assert!(r.is_some_and(|k| "ssh_settings.admin_username".starts_with(k)));
    assert!(policy_row(ComputeType::AmlCompute, "ssh_settingsx").is_none());
}
