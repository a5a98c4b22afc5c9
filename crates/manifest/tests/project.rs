//! Project loading: the worked example, workspace resolution and every bad input of issue 2.

use std::path::{Path, PathBuf};

use amlctl_manifest::{ComputeType, Diagnostic, LoadOptions, Severity, load_files, load_project};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests")
}

fn show(d: &[Diagnostic]) -> String {
    d.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn worked_example_loads_without_errors() {
    let p = load_project(&example(), &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{}", show(&d)));
    let mut types: Vec<ComputeType> = p.targets.iter().map(|t| t.compute_type).collect();
    types.sort();
    types.dedup();
    assert_eq!(
        types.len(),
        ComputeType::ALL.len(),
        "one manifest per type: {types:?}"
    );
    assert!(
        p.diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning)
    );
    assert!(p.diagnostics.iter().any(|d| d.message.contains("batch")));
    let ws_of = |n: &str| {
        p.targets
            .iter()
            .find(|t| t.name == n)
            .unwrap()
            .workspace
            .clone()
    };
    assert_eq!(ws_of("arc-k8s"), "prod");
    assert_eq!(ws_of("prod-cluster"), "prod");
    assert_eq!(ws_of("cpu-cluster"), "dev");
    let gpu = p.targets.iter().find(|t| t.name == "gpu-lowpri").unwrap();
    assert_eq!(
        gpu.spec["network_settings"]["subnet"],
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Network/virtualNetworks/vnet-ml/subnets/snet-training"
    );
    assert!(gpu.lifecycle.prevent_destroy);
    let loc = &gpu.key_locations["network_settings.subnet"];
    assert!(
        loc.file.ends_with("gpu-lowpri.yml") && loc.line == 16 && loc.column == 3,
        "{loc}"
    );
    assert_eq!(gpu.key_locations["tier"].line, 6);
    assert!(p.config.workspaces["prod"].prune);
    assert_eq!(p.config.defaults.parallelism, Some(4));
    // Strict mode too: the example has no literal secrets.
    load_project(
        &example(),
        &LoadOptions {
            strict: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|d| panic!("{}", show(&d)));
}

#[test]
fn a_folder_below_the_root_loads_only_its_manifests() {
    let p = load_project(&example().join("prod"), &LoadOptions::default()).unwrap();
    let mut names: Vec<_> = p.targets.iter().map(|t| t.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["aks-inference", "arc-k8s", "prod-cluster"]);
    // The amlctl.yaml file itself works as PATH.
    let p = load_project(&example().join("amlctl.yaml"), &LoadOptions::default()).unwrap();
    assert!(p.targets.len() >= 12);
}

struct Repo(tempfile::TempDir);

impl Repo {
    fn new(config: &str) -> Self {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("amlctl.yaml"), config).unwrap();
        Repo(d)
    }
    fn file(&self, rel: &str, text: &str) -> &Self {
        let p = self.0.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }
    fn load(&self) -> Result<amlctl_manifest::Project, Vec<Diagnostic>> {
        load_project(self.0.path(), &LoadOptions::default())
    }
    fn errors(&self) -> Vec<Diagnostic> {
        self.load()
            .expect_err("expected errors")
            .into_iter()
            .filter(|d| d.is_error())
            .collect()
    }
}

const ONE_WS: &str = "workspaces:\n  dev:\n    subscription_id: 00000000-0000-0000-0000-000000000001\n    resource_group: g\n    workspace: w\n";

#[test]
fn every_error_at_once_located_with_hints() {
    let r = Repo::new(ONE_WS);
    r.file(
        "a.yml",
        "name: cpu-cluster\ntype: amlcompute\nmax_instance: 3\n",
    )
    .file("b.yml", "name: c2x\ntype: amlcompute\ntier: LowPriority\n")
    .file(
        "c.yml",
        "name: c3x\ntype: amlcompute\nmin_instances: 5\nmax_instances: 2\n",
    )
    .file("d.yml", "name: cluster-1\ntype: amlcompute\n")
    .file("e.yml", "name: c5x\ntype: amlcompute\nworkspace: devv\n")
    .file(
        "f.yml",
        "name: c6x\ntype: amlcompute\nsize: 3\nenable_node_public_ip: yes\n",
    )
    .file("g.yml", "name: c7x\ntype: local\n");
    let errs = r.errors();
    let text = show(&errs);
    let has = |file: &str, line: usize, needle: &str| {
        assert!(
            errs.iter().any(|d| d
                .location
                .as_ref()
                .is_some_and(|l| l.file.ends_with(file) && l.line == line)
                && d.to_string().contains(needle)),
            "missing {file}:{line} {needle:?} in\n{text}"
        );
    };
    has("a.yml", 3, "did you mean `max_instances`?");
    has("b.yml", 3, "allowed values: dedicated, low_priority");
    has(
        "c.yml",
        3,
        "min_instances (5) is greater than max_instances (2)",
    );
    has("e.yml", 3, "undefined workspace `devv`");
    has("e.yml", 3, "did you mean `dev`?");
    has("f.yml", 3, "`size` must be a string");
    has("f.yml", 4, "`enable_node_public_ip` must be a boolean");
    has("g.yml", 2, "local is not a compute target");
    for d in &errs {
        let l = d.location.as_ref().unwrap();
        assert!(d.to_string().starts_with(&format!(
            "{}:{}:{}: error: ",
            l.file.display(),
            l.line,
            l.column
        )));
    }
}

#[test]
fn duplicate_names_name_both_files() {
    let r = Repo::new(ONE_WS);
    r.file("one.yml", "name: dup-name\ntype: amlcompute\n")
        .file("sub/two.yml", "name: Dup-Name\ntype: amlcompute\n");
    let errs = r.errors();
    assert_eq!(errs.len(), 1, "{}", show(&errs));
    let s = errs[0].to_string();
    assert!(
        s.contains("one.yml:1:7") && s.contains("two.yml:1:7"),
        "{s}"
    );
}

#[test]
fn same_name_in_two_workspaces_is_fine() {
    let r = Repo::new(
        "workspaces:\n  a: {subscription_id: 00000000-0000-0000-0000-000000000001, resource_group: g, workspace: w1}\n  b: {subscription_id: 00000000-0000-0000-0000-000000000001, resource_group: g, workspace: w2}\ndefault_workspace: a\nfolders:\n  bee: b\n",
    );
    r.file("x.yml", "name: same-name\ntype: amlcompute\n")
        .file("bee/x.yml", "name: same-name\ntype: amlcompute\n");
    let p = r.load().unwrap();
    let mut ws: Vec<_> = p.targets.iter().map(|t| t.workspace.as_str()).collect();
    ws.sort();
    assert_eq!(ws, ["a", "b"]);
}

#[test]
fn workspace_is_ambiguous_without_default() {
    let r = Repo::new(
        "workspaces:\n  a: {subscription_id: 00000000-0000-0000-0000-000000000001, resource_group: g, workspace: w1}\n  b: {subscription_id: 00000000-0000-0000-0000-000000000001, resource_group: g, workspace: w2}\n",
    );
    r.file("x.yml", "name: abc\ntype: amlcompute\n");
    let errs = r.errors();
    assert!(
        errs[0].message.contains("cannot tell which workspace"),
        "{}",
        show(&errs)
    );
    r.file("x.yml", "name: abc\ntype: amlcompute\nworkspace: b\n");
    assert_eq!(r.load().unwrap().targets[0].workspace, "b");
}

#[test]
fn literal_secret_warns_and_strict_rejects() {
    let r = Repo::new(ONE_WS);
    r.file(
        "vm.yml",
        "name: vm1\ntype: virtualmachine\nresource_id: /subscriptions/s/x\nssh_settings:\n  admin_username: u\n  admin_password: hunter2-secret\n",
    );
    let p = r.load().unwrap();
    assert!(
        p.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Warning && d.message.contains("literal secret"))
    );
    let errs = load_project(
        r.0.path(),
        &LoadOptions {
            strict: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    let s = show(&errs);
    assert!(s.contains("vm.yml:6:19: error: literal secret"), "{s}");
    assert!(!s.contains("hunter2"));
}

#[test]
fn secret_references() {
    let r = Repo::new(ONE_WS);
    r.file(
        "dbx.yml",
        "name: dbx\ntype: databricks\nresource_id: /subscriptions/s/x\naccess_token: { enx: TOKEN }\n",
    );
    let s = show(&r.errors());
    assert!(s.contains("did you mean `env`?"), "{s}");
    r.file(
        "dbx.yml",
        "name: dbx\ntype: databricks\nresource_id: /subscriptions/s/x\naccess_token: { file: secrets/token }\n",
    );
    let p = r.load().unwrap();
    match &p.targets[0].secrets["access_token"] {
        amlctl_manifest::SecretRef::File(f) => {
            assert!(f.ends_with("secrets/token") && f.starts_with(r.0.path()))
        }
        other => panic!("{other:?}"),
    }
    let arm = p.targets[0].to_arm(&p.config.workspaces["dev"]);
    assert_eq!(
        arm.secrets[0].pointer,
        "/properties/properties/databricksAccessToken"
    );
    assert_eq!(
        arm.body["properties"]["properties"]["databricksAccessToken"],
        "<redacted>"
    );
}

#[test]
fn several_documents_and_empty_ones() {
    let r = Repo::new(ONE_WS);
    r.file("m.yml", "---\nname: one\ntype: amlcompute\n---\n---\nname: two\ntype: computeinstance\nstate: stopped\n");
    let p = r.load().unwrap();
    assert_eq!(p.targets.len(), 2);
    assert_eq!(
        p.targets[1].state,
        Some(amlctl_manifest::DesiredState::Stopped)
    );
    assert_eq!(p.targets[1].source.line, 6);
}

#[test]
fn hostile_files_are_located_errors() {
    let r = Repo::new(ONE_WS);
    r.file(
        "tabs.yml",
        "name: abc\ntype: amlcompute\nssh_settings:\n\tadmin_username: x\n",
    );
    std::fs::write(r.0.path().join("bin.yml"), b"name: abc\n\xff\xfe\n").unwrap();
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    r.file("bomb.yml", &bomb);
    let big = "#".repeat(10 * 1024 * 1024 + 1);
    r.file("big.yml", &big);
    let errs = r.errors();
    for f in ["tabs.yml", "bin.yml", "bomb.yml", "big.yml"] {
        assert!(
            errs.iter()
                .any(|d| d.location.as_ref().is_some_and(|l| l.file.ends_with(f))),
            "{f} not reported:\n{}",
            show(&errs)
        );
    }
}

#[test]
fn config_errors() {
    let r = Repo::new(
        "workspaces:\n  dev: {subscription_id: 00000000-0000-0000-0000-000000000001, resource_group: g}\ndefault_workspace: prd\nmanifest: [x]\n",
    );
    let s = show(&r.errors());
    assert!(
        s.contains("missing required key `workspaces.dev.workspace`"),
        "{s}"
    );
    assert!(s.contains("did you mean `manifests`?"), "{s}");
    let none = tempfile::tempdir().unwrap();
    let e = load_project(none.path(), &LoadOptions::default()).unwrap_err();
    assert!(e[0].message.contains("no amlctl.yaml"));
}

#[test]
fn render_files_without_config() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("c.yml");
    std::fs::write(&f, "name: abc\ntype: amlcompute\nworkspace: whatever\nnetwork_settings: {vnet_name: v, subnet: s}\n").unwrap();
    let ws = amlctl_manifest::Workspace {
        alias: "x".into(),
        subscription_id: "sub".into(),
        resource_group: "rg".into(),
        workspace: "w".into(),
        location: Some("westeurope".into()),
        prune: false,
    };
    let (t, _) = load_files(&[f], &ws, &LoadOptions::default()).unwrap();
    assert_eq!(t[0].workspace, "default");
    let body = t[0].to_arm(&ws).body;
    assert_eq!(body["location"], "westeurope");
    assert_eq!(
        body["properties"]["properties"]["subnet"]["id"],
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"
    );
    assert_eq!(body["tags"]["managed-by"], "amlctl");
}
