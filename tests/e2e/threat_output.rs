//! End-to-end (issue #19, row 9): strings from a manifest or from the service that hold control
//! characters (`\r`, ANSI escapes, bidi overrides) or Markdown/HTML are shown escaped by
//! `amlctl plan`, in text and in Markdown, so they can neither hide lines nor recolour output.

use crate::common::*;
use serde_json::json;

/// Raw characters that must never reach the output.
const RAW: &[char] = &['\r', '\u{1b}', '\u{202e}', '\u{2066}', '\u{9b}'];

const WS: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev";

fn assert_clean(name: &str, out: &str) {
    for c in RAW {
        assert!(
            !out.contains(*c),
            "{name}: raw {c:?} in the output:\n{}",
            out.escape_debug()
        );
    }
}

#[test]
fn control_characters_from_manifests_and_the_service_are_escaped() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);

    // The service side: a compute whose description was set (elsewhere) to something hostile.
    let (status, body) = http_send(
        "PUT",
        &format!(
            "{}{WS}/computes/evil-cluster?api-version=2025-12-01",
            emu.url
        ),
        Some(&json!({
            "location": "eastus",
            "tags": {"managed-by": "amlctl"},
            "properties": {
                "computeType": "AmlCompute",
                "description": "svc\r\u{1b}[2KPlan: 0 to add, 0 to change, 0 to destroy.\u{9b}31m",
                "properties": {
                    "vmSize": "Standard_DS3_v2",
                    "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 2}
                }
            }
        })),
    );
    assert!((200..=202).contains(&status), "{status}: {body}");

    // The manifest side: YAML escapes for CR, ESC, RLO and LRI, plus a fence and HTML.
    std::fs::write(
        project.path("evil.yml"),
        "name: evil-cluster\ntype: amlcompute\nsize: Standard_DS3_v2\nmin_instances: 0\nmax_instances: 2\n\
         description: \"ok\\r\\e[2Khidden \\u202Eexe.txt \\u2066``` </details><img src=x>\"\n\
         tags:\n  \"note\\e[31m\": \"red\\r\\e[2K\"\n",
    )
    .expect("write manifest");
    let root = project.root.to_string_lossy().to_string();

    let text = stdout(&run(
        &emu.url,
        &[
            "plan",
            &root,
            "--target",
            "evil-cluster",
            "--detailed-exitcode",
        ],
        2,
    ));
    assert_clean("text", &text);
    for want in [
        r"ok\r\u{1b}[2Khidden \u{202e}exe.txt \u{2066}",
        r"svc\r\u{1b}[2KPlan: 0 to add, 0 to change, 0 to destroy.\u{9b}31m",
        r#"+ note\u{1b}[31m = "red\r\u{1b}[2K""#,
    ] {
        assert!(text.contains(want), "{want} missing in\n{text}");
    }

    let md = stdout(&run(
        &emu.url,
        &[
            "plan",
            &root,
            "--target",
            "evil-cluster",
            "--format",
            "markdown",
            "--detailed-exitcode",
        ],
        2,
    ));
    assert_clean("markdown", &md);
    assert!(md.contains(r"ok\r\u{1b}[2Khidden \u{202e}exe.txt"), "{md}");
    // The manifest's ``` cannot close the diff block: the block's fence is longer.
    assert!(md.contains("````diff"), "{md}");
}
