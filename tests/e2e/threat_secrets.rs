//! Issue "Trust nothing a pull request can change" (#19), rows 5, 7 and 8, and the export items of
//! "The first hour", through the real binary against `amlctl emulator serve` on 127.0.0.1:
//! secret files and key files stay inside the repository (validate/plan/apply refuse the rest
//! unless `--allow-outside-repo`), manifest symlinks leaving the repository are refused unread,
//! plans name each secret's source and never its value, and `export` keeps hostile compute names
//! inside `--out`, quoted, skips declared computes and uses `default_workspace`.

use std::path::Path;
use std::process::Output;

use crate::common::*;

const VM_RESOURCE: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/vm77";
const OUTSIDE_SECRET: &str = "Outside-Repo-Secret-5521";
const FILE_SECRET: &str = "Inside-Repo-File-Secret-6612";
const MARKER: &str = "MARKER-OUTSIDE-MANIFEST-7781";

/// A VM manifest `vm-leak` whose `ssh_settings` hold `secret_lines` (YAML, indented by 2).
fn leak_manifest(secret_lines: &str) -> String {
    format!(
        "name: vm-leak\ntype: virtualmachine\nresource_id: {VM_RESOURCE}\nssh_settings:\n  admin_username: azureuser\n{secret_lines}  ssh_port: 22\n"
    )
}

/// The example project with `leak.yml` holding `secret_lines`, a file outside the repository and a
/// symlink `secrets/link` in the repository pointing at it.
fn project_with_leak(secret_lines: &str) -> Project {
    let mut p = Project::example();
    std::fs::write(
        p.dir.path().join("outside-secret.txt"),
        format!("{OUTSIDE_SECRET}\n"),
    )
    .expect("write");
    std::fs::create_dir_all(p.path("secrets")).expect("mkdir");
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        p.dir.path().join("outside-secret.txt"),
        p.path("secrets/link"),
    )
    .expect("symlink");
    std::fs::write(p.path("leak.yml"), leak_manifest(secret_lines)).expect("write");
    p.write_fixture(&[]);
    p
}

/// True when `text` names `file` with a `:LINE:COL` position.
fn located(text: &str, file: &str) -> bool {
    text.match_indices(&format!("{file}:")).any(|(i, m)| {
        let rest = &text[i + m.len()..];
        let mut parts = rest.splitn(3, ':');
        let line = parts.next().unwrap_or("");
        let col = parts.next().unwrap_or("");
        !line.is_empty()
            && line.chars().all(|c| c.is_ascii_digit())
            && !col.is_empty()
            && col.chars().all(|c| c.is_ascii_digit())
    })
}

fn all_text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// `{ file: /etc/shadow }`, `ssh_private_key_file: ../../../etc/passwd` and a symlink out of the
/// repository: validate and plan exit 1 naming leak.yml:LINE:COL; apply sends no PUT.
#[test]
fn secret_files_outside_the_repository_are_refused() {
    let cases = [
        "  admin_password: { file: /etc/shadow }\n",
        "  ssh_private_key_file: ../../../etc/passwd\n",
        "  admin_password: { file: secrets/link }\n",
        "  admin_password: { file: ../outside-secret.txt }\n",
    ];
    for case in cases {
        let p = project_with_leak(case);
        let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
        let root = p.root.to_string_lossy().to_string();
        for args in [vec!["validate", &root], vec!["plan", &root]] {
            let o = run(&emu.url, &args, 1);
            let text = all_text(&o);
            assert!(located(&text, "leak.yml"), "{case}: {args:?}: {text}");
            assert!(text.contains("outside the repository"), "{case}: {text}");
            assert!(
                !text.contains(OUTSIDE_SECRET),
                "{case}: value printed: {text}"
            );
        }
        let o = run(&emu.url, &["apply", &root, "--auto-approve"], 1);
        assert!(!all_text(&o).contains(OUTSIDE_SECRET));
        assert_eq!(
            emu.count("PUT", "/computes/vm-leak"),
            0,
            "{case}: apply sent the compute: {}",
            all_text(&o)
        );
    }
}

/// `--allow-outside-repo` (command line only) lets a file outside the repository through.
#[test]
fn allow_outside_repo_lets_it_through() {
    let p = project_with_leak("  admin_password: { file: ../outside-secret.txt }\n");
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let root = p.root.to_string_lossy().to_string();
    run(&emu.url, &["validate", &root, "--allow-outside-repo"], 0);
    let o = run(&emu.url, &["plan", &root, "--allow-outside-repo"], 0);
    assert!(!all_text(&o).contains(OUTSIDE_SECRET));
    let o = run(
        &emu.url,
        &["apply", &root, "--auto-approve", "--allow-outside-repo"],
        0,
    );
    assert!(!all_text(&o).contains(OUTSIDE_SECRET));
    assert_eq!(emu.count("PUT", "/computes/vm-leak"), 1);
    // Not settable from amlctl.yaml.
    let config = std::fs::read_to_string(p.path("amlctl.yaml")).expect("read");
    std::fs::write(
        p.path("amlctl.yaml"),
        format!("{config}allow_outside_repo: true\n"),
    )
    .expect("write");
    run(&emu.url, &["validate", &root], 1);
}

/// A saved plan made with `--allow-outside-repo` is still refused by `apply PLANFILE` without it.
#[test]
fn apply_of_a_saved_plan_refuses_outside_files_too() {
    let p = project_with_leak("  admin_password: { file: secrets/link }\n");
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let root = p.root.to_string_lossy().to_string();
    let planfile = p.dir.path().join("plan.json");
    let planfile = planfile.to_string_lossy().to_string();
    run(
        &emu.url,
        &["plan", &root, "--allow-outside-repo", "--out", &planfile],
        0,
    );
    // `apply PLANFILE` runs inside the repository (it reads the manifests from there).
    let o = run_in(
        &p.root,
        &emu.url,
        &["apply", &planfile, "--auto-approve"],
        1,
    );
    let text = all_text(&o);
    assert!(text.contains("outside the repository"), "{text}");
    assert!(!text.contains(OUTSIDE_SECRET));
    assert_eq!(emu.count("PUT", "/computes/vm-leak"), 0, "{text}");
}

/// A manifest symlink (and a manifests folder symlink) resolving outside the repository is
/// refused, naming the link; the target's content is never printed.
#[cfg(unix)]
#[test]
fn manifest_symlinks_leaving_the_repository_are_refused() {
    let p = Project::example();
    let outside = p.dir.path().join("outside.yml");
    std::fs::write(
        &outside,
        format!("name: outside-cluster\ntype: amlcompute\nsize: Standard_DS3_v2\ndescription: {MARKER}\n"),
    )
    .expect("write");
    std::os::unix::fs::symlink(&outside, p.path("linked.yml")).expect("symlink");
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let root = p.root.to_string_lossy().to_string();
    for args in [vec!["validate", &root], vec!["plan", &root]] {
        let o = run(&emu.url, &args, 1);
        let text = all_text(&o);
        assert!(text.contains("linked.yml"), "{args:?}: {text}");
        assert!(text.contains("symlink"), "{text}");
        assert!(!text.contains(MARKER), "{args:?}: content echoed: {text}");
    }
    let o = run(&emu.url, &["apply", &root, "--auto-approve"], 1);
    assert!(!all_text(&o).contains(MARKER));
    assert_eq!(emu.count("PUT", "/computes/"), 0);

    // The `prod` folder of `manifests:` replaced by a symlink to a folder outside.
    std::fs::remove_file(p.path("linked.yml")).expect("rm");
    let outside_dir = p.dir.path().join("outside-dir");
    std::fs::create_dir_all(&outside_dir).expect("mkdir");
    std::fs::rename(&outside, outside_dir.join("x.yml")).expect("mv");
    std::fs::remove_dir_all(p.path("prod")).expect("rm prod");
    std::os::unix::fs::symlink(&outside_dir, p.path("prod")).expect("symlink");
    let o = run(&emu.url, &["validate", &root], 1);
    let text = all_text(&o);
    assert!(text.contains("prod"), "{text}");
    assert!(text.contains("symlink"), "{text}");
    assert!(!text.contains(MARKER), "{text}");
}

/// The plan names every secret's source (env name, repository-relative file, vault URL) in text,
/// Markdown and JSON, and never a value.
#[test]
fn plans_name_secret_sources_not_values() {
    let mut p = Project::example();
    std::fs::create_dir_all(p.path("secrets")).expect("mkdir");
    std::fs::write(
        p.path("secrets/vm2-password.txt"),
        format!("{FILE_SECRET}\n"),
    )
    .expect("write");
    std::fs::write(
        p.path("vm2.yml"),
        leak_manifest("  admin_password: { file: secrets/vm2-password.txt }\n")
            .replace("vm-leak", "vm-filesecret"),
    )
    .expect("write");
    std::fs::write(
        p.path("vm3.yml"),
        leak_manifest(
            "  admin_password: { key_vault: https://kv-ml.vault.azure.net/secrets/vm3-pw }\n",
        )
        .replace("vm-leak", "vm-vaultsecret")
        .replace("vm77", "vm78"),
    )
    .expect("write");
    p.write_fixture(&[]);
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let root = p.root.to_string_lossy().to_string();
    let mut values: Vec<&str> = SECRET_ENV.iter().map(|(_, v)| *v).collect();
    values.push(FILE_SECRET);
    for format in ["text", "markdown", "json"] {
        let o = run(&emu.url, &["plan", &root, "--format", format], 0);
        let text = stdout(&o);
        for source in [
            "env DSVM_ADMIN_PASSWORD",
            "env DATABRICKS_TOKEN",
            "file secrets/vm2-password.txt",
            "key_vault https://kv-ml.vault.azure.net/secrets/vm3-pw",
        ] {
            assert!(text.contains(source), "{format}: no {source:?}:\n{text}");
        }
        for v in &values {
            assert!(!all_text(&o).contains(v), "{format}: value printed");
        }
        if format == "json" {
            let plan: serde_json::Value = serde_json::from_str(&text).expect("json");
            let sources: Vec<String> = plan["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
                .filter(|c| c["sensitive"] == true)
                .map(|c| {
                    assert_eq!(c["after"], "<redacted>");
                    c["source"].as_str().unwrap_or("").to_string()
                })
                .collect();
            assert!(
                !sources.is_empty() && sources.iter().all(|s| !s.is_empty()),
                "{sources:?}"
            );
        }
    }
}

/// Hostile compute names served by ARM (seeded through the emulator's state file).
const HOSTILE: &[&str] = &[
    "../../escaped-x",
    "a/b",
    "back\\slash",
    "nul\0name",
    "line\ninjected: true",
    "cr\r# injected",
    "tab\tname",
];

/// Every file below `dir` (recursively), relative.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(dir)
                        .expect("below")
                        .to_string_lossy()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

/// `import NAME PATH` takes the positional PATH like every other command (`--path` still works).
#[test]
fn import_takes_a_positional_path() {
    let (p, emu) = applied_example(&[]);
    let root = p.root.to_string_lossy().to_string();
    let o = run(&emu.url, &["import", "cpu-cluster", &root], 0);
    assert!(all_text(&o).contains("already managed"), "{}", all_text(&o));
    run(&emu.url, &["import", "cpu-cluster", "--path", &root], 0);
    let help = run(&emu.url, &["import", "--help"], 0);
    assert!(stdout(&help).contains("pending"), "{}", stdout(&help));
}

/// Export with hostile names stays inside --out, writes YAML that parses back to the same name
/// with an intact header, skips the computes the repository declares, and needs no --workspace
/// (default_workspace); `--path` still works as an alias of PATH.
#[test]
fn export_keeps_hostile_names_inside_out_and_skips_declared() {
    let (p, mut emu) = applied_example(&[]);
    // SIGTERM: a graceful stop writes the whole state into the state file (after a SIGKILL the
    // latest writes are in its journal).
    let st = std::process::Command::new("kill")
        .args(["-TERM", &emu.pid().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(st.success());
    wait_with_timeout(&mut emu.child, std::time::Duration::from_secs(30));
    let text = std::fs::read_to_string(&emu.state).expect("state");
    let mut state: serde_json::Value = serde_json::from_str(&text).expect("state json");
    let computes = state["computes"].as_array_mut().expect("computes");
    let template = computes
        .iter()
        .find(|c| c["name"] == "cpu-cluster")
        .cloned()
        .expect("cpu-cluster");
    for name in HOSTILE.iter().chain(["undeclared-ok"].iter()) {
        let mut c = template.clone();
        c["name"] = serde_json::json!(name);
        c["resource"]["name"] = serde_json::json!(name);
        if let Some(id) = c["resource"]["id"].as_str() {
            let id = id.replace("/computes/cpu-cluster", &format!("/computes/{name}"));
            c["resource"]["id"] = serde_json::json!(id);
        }
        computes.push(c);
    }
    std::fs::write(&emu.state, state.to_string()).expect("write state");
    let emu = EmulatorProcess::restart_from_state(&emu.state, &emu.flags);

    let out = p.dir.path().join("out").join("export");
    let out_s = out.to_string_lossy().to_string();
    let root = p.root.to_string_lossy().to_string();
    let before_outside = files_below(p.dir.path());
    let o = run(&emu.url, &["export", &root, "--out", &out_s], 0);
    let err = stderr(&o);
    assert!(stdout(&o).contains("workspace dev"), "{}", stdout(&o));
    // Declared computes are skipped and listed.
    assert!(err.contains("already declares"), "{err}");
    assert!(err.contains("cpu-cluster"), "{err}");
    let written = files_below(&out);
    assert!(
        !written.iter().any(|f| f == "cpu-cluster.yaml"),
        "{written:?}"
    );
    assert!(
        written.iter().any(|f| f == "undeclared-ok.yaml"),
        "{written:?}"
    );
    assert_eq!(written.len(), HOSTILE.len() + 1, "{written:?}");
    // Nothing appeared outside --out.
    let after_outside: Vec<String> = files_below(p.dir.path())
        .into_iter()
        .filter(|f| !f.starts_with("out/"))
        .collect();
    let new: Vec<&String> = after_outside
        .iter()
        .filter(|f| !before_outside.contains(f))
        .collect();
    assert!(new.is_empty(), "files outside --out: {new:?}");
    for f in &written {
        assert!(
            !f.contains('/') && !f.contains('\\') && !f.starts_with('.'),
            "{f:?}"
        );
        let text = std::fs::read_to_string(out.join(f)).expect("read");
        let doc: serde_json::Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{f}: not YAML: {e}\n{text}"));
        let name = doc["name"].as_str().expect("name");
        assert!(
            HOSTILE.contains(&name) || name == "undeclared-ok",
            "{f}: name {name:?}"
        );
        assert!(doc.get("injected").is_none(), "{f}: injected key\n{text}");
        // The header is the schema line and one "Exported by" line: no line was added.
        let comments: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
        assert_eq!(comments.len(), 2, "{f}: header gained a line:\n{text}");
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(
            !body.iter().any(|l| l.starts_with("injected")),
            "{f}:\n{text}"
        );
    }
    // `--path` is still accepted; with --force it overwrites.
    run(
        &emu.url,
        &[
            "export",
            "--path",
            &root,
            "--workspace",
            "dev",
            "--out",
            &out_s,
            "--force",
        ],
        0,
    );
    // --include-declared exports the declared ones too.
    let o = run(
        &emu.url,
        &[
            "export",
            &root,
            "--out",
            &out_s,
            "--force",
            "--include-declared",
        ],
        0,
    );
    assert!(
        files_below(&out).iter().any(|f| f == "cpu-cluster.yaml"),
        "{}",
        stderr(&o)
    );
}
