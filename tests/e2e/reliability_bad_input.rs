//! Reliability: bad input (issue 8). Every file of `tests/bad-manifests/` and `tests/bad-input/`,
//! plus generated inputs (billion laughs, 10 MB files, invalid UTF-8, NUL bytes, deep nesting),
//! goes through the real `amlctl validate`: exit 1, a located `file:line:col: error` message, and
//! bounded memory (peak RSS of the child, sampled from /proc/<pid>/status VmHWM; the bound is a
//! generous safety net, not a measurement).

use std::path::{Path, PathBuf};

use crate::common::*;

/// Peak RSS bound (a safety net against unbounded expansion, not a benchmark).
const MAX_RSS_KIB: u64 = 512 * 1024;

const CONFIG: &str = "workspaces:\n  dev:\n    subscription_id: 00000000-0000-0000-0000-000000000000\n    resource_group: rg-ml\n    workspace: mlw-dev\n    location: eastus\nmanifests: [\"*.yml\"]\n";

/// One input: files to write into a fresh project, what the message must say and where.
struct Case {
    label: String,
    /// `(file name, bytes)`; `amlctl.yaml` among them replaces the default config.
    files: Vec<(String, Vec<u8>)>,
    /// Substring of the located error.
    expect: String,
    /// The file the error must be located in.
    located_in: String,
    strict: bool,
}

fn expect_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# expect: "))
        .map(str::to_string)
}

fn corpus_dir(rel: &str) -> PathBuf {
    repo_root().join(rel)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    v.sort();
    v
}

fn single(label: &str, name: &str, bytes: Vec<u8>, expect: &str) -> Case {
    Case {
        label: label.to_string(),
        files: vec![(name.to_string(), bytes)],
        expect: expect.to_string(),
        located_in: name.to_string(),
        strict: false,
    }
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for dir in ["tests/bad-manifests", "tests/bad-input/manifests"] {
        for p in files_in(&corpus_dir(dir)) {
            let bytes = std::fs::read(&p).expect("read");
            let name = p.file_name().expect("name").to_string_lossy().to_string();
            let expect =
                expect_line(&bytes).unwrap_or_else(|| panic!("{} lacks `# expect:`", p.display()));
            let strict = String::from_utf8_lossy(&bytes).lines().nth(1) == Some("# strict: true");
            out.push(Case {
                label: format!("{dir}/{name}"),
                files: vec![(name.clone(), bytes)],
                expect,
                located_in: name,
                strict,
            });
        }
    }
    // Duplicate names across files.
    let dup = corpus_dir("tests/bad-input/duplicate-across-files");
    let files: Vec<(String, Vec<u8>)> = files_in(&dup)
        .into_iter()
        .map(|p| {
            (
                p.file_name().expect("name").to_string_lossy().to_string(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect();
    out.push(Case {
        label: "tests/bad-input/duplicate-across-files".into(),
        expect: "is declared twice in workspace".into(),
        located_in: "b.yml".into(),
        files,
        strict: false,
    });
    // A bad amlctl.yaml.
    let cfg = std::fs::read(corpus_dir("tests/bad-input/config/amlctl.yaml")).expect("read");
    out.push(Case {
        label: "tests/bad-input/config/amlctl.yaml".into(),
        expect: expect_line(&cfg).expect("expect line"),
        files: vec![("amlctl.yaml".into(), cfg)],
        located_in: "amlctl.yaml".into(),
        strict: false,
    });

    // Generated inputs.
    let mut laughs = String::new();
    laughs.push_str("l0: &l0 \"lol lol lol lol lol lol lol lol\"\n");
    for i in 1..=15 {
        let prev = format!("*l{}", i - 1);
        laughs.push_str(&format!("l{i}: &l{i} [{}]\n", vec![prev; 10].join(", ")));
    }
    laughs.push_str("name: cpu-cluster\ntype: amlcompute\ntags: { lol: *l15 }\n");
    out.push(single(
        "generated: billion laughs, 15 levels × 10",
        "laughs.yml",
        laughs.into_bytes(),
        "invalid YAML",
    ));

    let mut merge_bomb = String::from("m0: &m0 { a: 1, b: 2 }\n");
    for i in 1..=20 {
        merge_bomb.push_str(&format!(
            "m{i}: &m{i} {{ <<: [*m{p}, *m{p}], k{i}: [*m{p}, *m{p}, *m{p}, *m{p}] }}\n",
            p = i - 1
        ));
    }
    merge_bomb.push_str("name: cpu-cluster\ntype: amlcompute\ntags: *m20\n");
    out.push(single(
        "generated: merge-key bomb, 20 levels",
        "merge-bomb.yml",
        merge_bomb.into_bytes(),
        "merge-bomb.yml:6:16: error: invalid YAML: budget breached",
    ));

    // 10 MB (10,000,000 bytes, under the loader's 10 MiB limit): padded with comments, the error on
    // its last line.
    let mut big = String::from("name: cpu-cluster\ntype: amlcompute\nsize: Standard_DS3_v2\n");
    let pad = "# padding padding padding padding padding padding padding padding padding\n";
    while big.len() + pad.len() < 10_000_000 - 40 {
        big.push_str(pad);
    }
    let last_line = big.lines().count() + 1;
    big.push_str("max_instances: many\n");
    out.push(single(
        "generated: 10 MB of comments, error on the last line",
        "big-comments.yml",
        big.into_bytes(),
        &format!("big-comments.yml:{last_line}:16: error: `max_instances` must be an integer"),
    ));

    // 10 MB: one huge scalar, then an unknown key.
    let mut long = String::from("name: cpu-cluster\ntype: amlcompute\ndescription: \"");
    long.push_str(&"x".repeat(9_999_900));
    long.push_str("\"\nmax_instancs: 2\n");
    out.push(single(
        "generated: 10 MB scalar, then an unknown key",
        "big-scalar.yml",
        long.into_bytes(),
        "big-scalar.yml:4:1: error: unknown key `max_instancs`",
    ));

    // Over the limit: 11 MB is refused up front, located at 1:1.
    let mut huge = String::from("name: cpu-cluster\ntype: amlcompute\n");
    while huge.len() < 11_000_000 {
        huge.push_str(pad);
    }
    out.push(single(
        "generated: 11 MB manifest (over the 10 MiB limit)",
        "huge.yml",
        huge.into_bytes(),
        "huge.yml:1:1: error: file is",
    ));

    // 10 MB amlctl.yaml.
    let mut cfg = CONFIG.to_string();
    while cfg.len() + pad.len() < 10_000_000 - 20 {
        cfg.push_str(pad);
    }
    cfg.push_str("colour: red\n");
    out.push(Case {
        label: "generated: 10 MB amlctl.yaml, unknown key at the end".into(),
        files: vec![("amlctl.yaml".into(), cfg.into_bytes())],
        expect: "unknown key `colour`".into(),
        located_in: "amlctl.yaml".into(),
        strict: false,
    });

    // Invalid UTF-8 after valid lines.
    let mut bad_utf8 =
        b"name: cpu-cluster\ntype: amlcompute\nsize: Standard_DS3_v2\ndescription: caf".to_vec();
    bad_utf8.extend_from_slice(&[0xC3, 0x28, 0xFF, 0xFE]);
    bad_utf8.extend_from_slice(b"\n");
    out.push(single(
        "generated: invalid UTF-8 on line 4",
        "bad-utf8.yml",
        bad_utf8,
        "not valid UTF-8",
    ));

    out.push(single(
        "generated: NUL bytes",
        "nul.yml",
        b"name: cpu-cluster\ntype: amlcompute\nsize: \0\0\0\n".to_vec(),
        "invalid YAML",
    ));

    out.push(single(
        "generated: tab-indented block",
        "tab-indent.yml",
        b"name: cpu-cluster\ntype: amlcompute\nssh_settings:\n\tadmin_username: azureuser\n"
            .to_vec(),
        "invalid YAML",
    ));

    out.push(single(
        "generated: 100,000 nested brackets",
        "deep.yml",
        "[".repeat(100_000).into_bytes(),
        "invalid YAML",
    ));

    out.push(single(
        "generated: 100,000 nested mappings (5 MB, under the size limit)",
        "deep-map.yml",
        {
            // Indentation cycles through 0..100 so the file stays under the 10 MiB limit and
            // reaches the parser's depth guard rather than the size check.
            let mut s = String::new();
            for i in 0..100_000 {
                s.push_str(&format!("{}k:\n", " ".repeat(i % 100)));
            }
            s.into_bytes()
        },
        "error: invalid YAML: budget breached: Depth",
    ));
    out
}

/// Validates one case in a fresh project; returns the peak RSS in KiB.
fn check(case: &Case) -> Result<u64, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    if !case.files.iter().any(|(n, _)| n == "amlctl.yaml") {
        std::fs::write(root.join("amlctl.yaml"), CONFIG).expect("config");
    }
    for (name, bytes) in &case.files {
        std::fs::write(root.join(name), bytes).expect("write");
    }
    let mut c = std::process::Command::new(amlctl());
    c.arg("validate")
        .arg(root)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null());
    if case.strict {
        c.arg("--strict");
    }
    let (out, peak) = output_with_peak_rss(&mut c);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    let short: String = text.chars().take(2000).collect();
    if out.status.code() != Some(1) {
        return Err(format!(
            "{}: exit {:?} (expected 1)\n{short}",
            case.label,
            out.status.code()
        ));
    }
    if text.contains("panicked") {
        return Err(format!("{}: panic\n{short}", case.label));
    }
    // A located error in the right file: `…/<file>:<line>:<col>: error`.
    let located = text.lines().any(|l| {
        l.find(&format!("{}:", case.located_in)).is_some_and(|i| {
            let rest = &l[i + case.located_in.len() + 1..];
            let mut parts = rest.splitn(3, ':');
            let line = parts.next().unwrap_or("");
            let col = parts.next().unwrap_or("");
            let tail = parts.next().unwrap_or("");
            !line.is_empty()
                && line.chars().all(|c| c.is_ascii_digit())
                && !col.is_empty()
                && col.chars().all(|c| c.is_ascii_digit())
                && tail.trim_start().starts_with("error")
        })
    });
    if !located {
        return Err(format!(
            "{}: no `{}:LINE:COL: error` line\n{short}",
            case.label, case.located_in
        ));
    }
    if !text.contains(&case.expect) {
        return Err(format!(
            "{}: expected {:?} in\n{short}",
            case.label, case.expect
        ));
    }
    if peak >= MAX_RSS_KIB {
        return Err(format!(
            "{}: peak RSS {} MiB exceeds the {} MiB safety net",
            case.label,
            peak / 1024,
            MAX_RSS_KIB / 1024
        ));
    }
    Ok(peak)
}

#[test]
fn every_bad_input_exits_1_with_a_located_message_in_bounded_memory() {
    let cases = cases();
    let mut failures = Vec::new();
    println!("\n| input | exit | peak RSS (MiB) |");
    println!("|---|---|---|");
    let mut max_peak = 0;
    for case in &cases {
        match check(case) {
            Ok(peak) => {
                max_peak = max_peak.max(peak);
                println!(
                    "| {} | 1, located | {:.1} |",
                    case.label,
                    peak as f64 / 1024.0
                );
            }
            Err(e) => failures.push(e),
        }
    }
    println!(
        "\n{} inputs, {} passed, highest peak RSS {:.1} MiB",
        cases.len(),
        cases.len() - failures.len(),
        max_peak as f64 / 1024.0
    );
    assert!(cases.len() >= 38, "corpus shrank: {}", cases.len());
    assert!(max_peak > 0, "VmHWM was never read");
    assert!(
        failures.is_empty(),
        "{} input(s) failed:\n{}",
        failures.len(),
        failures.join("\n---\n")
    );
}

/// The duplicate-key error carries a hint about tabs (copied from the tab error) and the YAML
/// library's internal advice ("set DuplicateKeyPolicy in Options"): both mislead a user.
#[test]
fn duplicate_key_message_is_about_the_duplicate_key() {
    let case = single(
        "duplicate key",
        "dup.yml",
        b"name: cpu-cluster\nname: gpu-cluster\ntype: amlcompute\n".to_vec(),
        "duplicate",
    );
    check(&case).expect("rejected and located");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("amlctl.yaml"), CONFIG).expect("config");
    std::fs::write(dir.path().join("dup.yml"), &case.files[0].1).expect("write");
    let out = std::process::Command::new(amlctl())
        .arg("validate")
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("run");
    let text = stderr(&out);
    assert!(!text.contains("tabs"), "{text}");
    assert!(!text.contains("DuplicateKeyPolicy"), "{text}");
}
