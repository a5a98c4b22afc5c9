//! End-to-end: issue #20 "The first hour" — what a new user following the README hits first.
//! The real binary against `amlctl emulator serve` on 127.0.0.1 (and, for credentials, nothing).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use crate::common::*;

const CONFIG: &str = "workspaces:
  dev:
    subscription_id: 00000000-0000-0000-0000-000000000000
    resource_group: rg-ml
    workspace: mlw-dev
    location: eastus
    prune: true
default_workspace: dev
manifests: [team-a, team-b]
";

fn cluster(name: &str, prevent_destroy: bool) -> String {
    let mut text = format!(
        "name: {name}\ntype: amlcompute\nsize: Standard_DS3_v2\nmin_instances: 0\nmax_instances: 2\n"
    );
    if prevent_destroy {
        text.push_str("lifecycle:\n  prevent_destroy: true\n");
    }
    text
}

/// A repository with one pruning workspace and manifests in two folders: team-a declares
/// `a-cluster`, team-b declares `b-cluster` (prevent_destroy) and `b-two`.
fn two_team_repo() -> Project {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("team-a")).expect("mkdir");
    std::fs::create_dir_all(root.join("team-b")).expect("mkdir");
    std::fs::write(root.join("amlctl.yaml"), CONFIG).expect("config");
    std::fs::write(
        root.join("team-a/a-cluster.yml"),
        cluster("a-cluster", false),
    )
    .expect("a");
    std::fs::write(
        root.join("team-b/b-cluster.yml"),
        cluster("b-cluster", true),
    )
    .expect("b");
    std::fs::write(root.join("team-b/b-two.yml"), cluster("b-two", false)).expect("b2");
    let fixture = dir.path().join("fixture.yaml");
    std::fs::write(
        &fixture,
        "workspaces:\n  - subscription_id: 00000000-0000-0000-0000-000000000000\n    resource_group: rg-ml\n    name: mlw-dev\n    location: eastus\nresources: []\n",
    )
    .expect("fixture");
    Project { dir, root, fixture }
}

fn names(emu: &EmulatorProcess) -> Vec<String> {
    emu.computes().into_iter().map(|c| c.name).collect()
}

fn both(o: &Output) -> String {
    format!("{}\n{}", stdout(o), stderr(o))
}

#[test]
fn a_subfolder_path_never_prunes_or_reports_what_is_declared_elsewhere() {
    let p = two_team_repo();
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let root = p.root.to_string_lossy().to_string();
    run(&emu.url, &["apply", &root, "--auto-approve"], 0);
    assert_eq!(names(&emu), ["a-cluster", "b-cluster", "b-two"]);

    let team_a = p.path("team-a").to_string_lossy().to_string();
    // Change team-a's cluster so the subfolder plan has something to do.
    std::fs::write(
        p.path("team-a/a-cluster.yml"),
        cluster("a-cluster", false).replace("max_instances: 2", "max_instances: 3"),
    )
    .expect("edit");

    // As PATH.
    let out = run(
        &emu.url,
        &["plan", &team_a, "--detailed-exitcode", "--no-color"],
        2,
    );
    let text = both(&out);
    assert!(
        !text.contains("b-cluster") && !text.contains("b-two"),
        "{text}"
    );
    assert!(!text.contains("Unmanaged"), "{text}");
    assert!(
        text.contains(
            "planning manifests under team-a/ only; run from the repository root to prune"
        ),
        "{text}"
    );

    let out = run(&emu.url, &["apply", &team_a, "--auto-approve"], 0);
    assert!(!both(&out).contains("b-two"), "{}", both(&out));
    assert_eq!(names(&emu), ["a-cluster", "b-cluster", "b-two"]);
    assert_eq!(emu.count("DELETE", "/computes/"), 0);

    // As the current directory (PATH defaults to ".").
    std::fs::write(
        p.path("team-a/a-cluster.yml"),
        cluster("a-cluster", false).replace("max_instances: 2", "max_instances: 4"),
    )
    .expect("edit");
    let out = cmd(&emu.url, &["plan", "--detailed-exitcode"])
        .current_dir(p.path("team-a"))
        .output()
        .expect("run");
    let text = both(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        !text.contains("b-two") && !text.contains("Unmanaged"),
        "{text}"
    );
    let out = cmd(&emu.url, &["apply", "--auto-approve"])
        .current_dir(p.path("team-a"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(names(&emu), ["a-cluster", "b-cluster", "b-two"]);
    assert_eq!(emu.count("DELETE", "/computes/"), 0);

    // Control: from the root, with b-two's manifest gone, prune does delete it (the tests above
    // are not vacuous).
    std::fs::remove_file(p.path("team-b/b-two.yml")).expect("rm");
    run(&emu.url, &["apply", &root, "--auto-approve"], 0);
    assert_eq!(names(&emu), ["a-cluster", "b-cluster"]);
}

#[test]
fn usage_errors_exit_1_never_2() {
    for args in [
        vec!["plan", "--detailed-exitcod"],
        vec!["plan", ".", "--format", "yaml", "--detailed-exitcode"],
        vec!["apply", ".", "--format", "markdown"],
        vec!["frobnicate"],
        vec![],
    ] {
        let out = Command::new(amlctl())
            .args(&args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
    }
    for args in [["--help"], ["--version"]] {
        let out = Command::new(amlctl()).args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
    }
    let out = Command::new(amlctl())
        .args(["apply", "--format", "markdown"])
        .output()
        .expect("run");
    assert!(
        stderr(&out).contains("possible values: text, json"),
        "{}",
        stderr(&out)
    );
}

fn line_of(file: &Path, needle: &str) -> usize {
    std::fs::read_to_string(file)
        .expect("read")
        .lines()
        .position(|l| l.contains(needle))
        .expect("needle")
        + 1
}

#[test]
fn a_missing_secret_is_found_before_the_first_write() {
    let p = Project::example();
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let root = p.root.to_string_lossy().to_string();
    let line = line_of(&p.path("databricks.yml"), "access_token");
    let expected = format!("databricks.yml:{line}: access_token");

    // apply PATH
    let out = cmd(&emu.url, &["apply", &root, "--auto-approve"])
        .env_remove("DATABRICKS_TOKEN")
        .output()
        .expect("run");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&expected), "{err}");
    assert!(err.contains("DATABRICKS_TOKEN"), "{err}");
    assert!(
        !err.contains("/properties/"),
        "an ARM pointer instead of the key: {err}"
    );
    assert_eq!(emu.count("PUT", "/computes/"), 0, "a compute was written");
    assert!(emu.computes().is_empty());

    // apply PLANFILE
    let plan_file = p.dir.path().join("plan.json");
    let pf = plan_file.to_string_lossy().to_string();
    run(&emu.url, &["plan", &root, "--out", &pf], 0);
    // `apply PLANFILE` runs inside the repository (it reads the manifests from there).
    let out = cmd(&emu.url, &["apply", &pf, "--auto-approve"])
        .current_dir(&p.root)
        .env_remove("DATABRICKS_TOKEN")
        .output()
        .expect("run");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&expected), "{err}");
    assert_eq!(emu.count("PUT", "/computes/"), 0, "a compute was written");

    // No value of a set secret leaks into the error.
    for (_, v) in SECRET_ENV {
        assert!(!err.contains(v));
    }
}

#[test]
fn no_credential_is_said_once_with_one_line_per_source_and_the_next_step() {
    // Managed identity: a loopback stand-in that refuses every token request at once.
    let msi = LoopbackServer::start(Arc::new(|_: &str, _: &str, _: &str| {
        (
            400,
            r#"{"error":"invalid_request","error_description":"Identity not found"}"#.to_string(),
        )
    }));
    let p = Project::example();
    let empty_path = tempfile::tempdir().expect("tmp");
    let out = Command::new(amlctl())
        .args(["plan", &p.root.to_string_lossy()])
        .env_clear()
        .env("PATH", empty_path.path())
        .env("HOME", p.dir.path())
        .env("NO_COLOR", "1")
        .env("IDENTITY_ENDPOINT", format!("{}/msi/token", msi.url))
        .env("IDENTITY_HEADER", "h")
        // https, so the client accepts it; it is never contacted because no token can be had.
        .env("AMLCTL_ARM_ENDPOINT", "https://127.0.0.1:9")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.matches("no Azure credential produced a token").count(),
        1,
        "said once: {err}"
    );
    for source in [
        "\n  client secret: ",
        "\n  workload identity: ",
        "\n  managed identity: ",
        "\n  azure cli: ",
        "\n  azure developer cli: ",
    ] {
        assert_eq!(err.matches(source).count(), 1, "{source:?}: {err}");
    }
    assert!(
        err.contains("az login") && err.contains("--auth") && err.contains("--sandbox"),
        "{err}"
    );
    assert!(err.lines().all(|l| l.chars().count() < 300), "{err}");
}

#[test]
fn a_filter_that_matches_nothing_is_an_error_with_a_suggestion() {
    let p = Project::example();
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let root = p.root.to_string_lossy().to_string();
    for (args, suggestion) in [
        (vec!["--target", "cpu-clustr"], "did you mean `cpu-cluster`"),
        (vec!["--workspace", "prd"], "did you mean `prod`"),
        (
            vec!["--replace", "cpu-clustr"],
            "did you mean `cpu-cluster`",
        ),
    ] {
        let mut all = vec!["plan", root.as_str(), "--detailed-exitcode"];
        all.extend(args.iter().copied());
        let out = cmd(&emu.url, &all).output().expect("run");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", both(&out));
        assert!(both(&out).contains(suggestion), "{args:?}: {}", both(&out));
    }
}

#[test]
fn the_small_ones_man_pages_help_texts_and_a_closed_stdout() {
    // `amlctl man | head -1`: stdout closes early; exit quietly.
    let mut child = Command::new(amlctl())
        .arg("man")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));

    // The pages the main page refers to exist.
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(amlctl())
        .args(["man", "--out", &dir.path().to_string_lossy()])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for page in [
        "amlctl.1",
        "amlctl-plan.1",
        "amlctl-apply.1",
        "amlctl-emulator-serve.1",
    ] {
        assert!(dir.path().join(page).is_file(), "{page}");
    }

    // Help texts fit their command.
    let out = Command::new(amlctl())
        .args(["apply", "--help"])
        .output()
        .expect("run");
    let help = stdout(&out);
    assert!(!help.contains("Only plan"), "{help}");
    assert!(!help.contains("markdown"), "{help}");
}
