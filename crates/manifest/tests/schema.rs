//! The checked-in schemas and the generated reference tables must be fresh, and the example
//! manifests must validate against the schema.
//!
//! Regenerate with: `UPDATE_SCHEMAS=1 cargo test -p amlctl-manifest --test schema`

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const HOW: &str = "regenerate with: UPDATE_SCHEMAS=1 cargo test -p amlctl-manifest --test schema";

fn check_fresh(path: &Path, want: &str) {
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(have == want, "{} is stale; {HOW}", path.display());
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

#[test]
fn schema_files_are_fresh() {
    check_fresh(
        &repo().join("schemas/compute.schema.json"),
        &pretty(&amlctl_manifest::compute_schema()),
    );
    check_fresh(
        &repo().join("schemas/amlctl.schema.json"),
        &pretty(&amlctl_manifest::config_schema()),
    );
}

#[test]
fn schema_reference_tables_are_fresh() {
    let path = repo().join("docs/manifest-reference.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let begin = "<!-- BEGIN GENERATED TABLES -->\n";
    let end = "<!-- END GENERATED TABLES -->";
    let (Some(b), Some(e)) = (doc.find(begin), doc.find(end)) else {
        panic!("{} lacks the generated-table markers", path.display());
    };
    let want = format!(
        "{}{begin}{}{}",
        &doc[..b],
        amlctl_manifest::reference_markdown(),
        &doc[e..]
    );
    check_fresh(&path, &want);
}

fn yaml_to_json(text: &str) -> Vec<Value> {
    // The loader's own located tree, converted to plain JSON for the schema validator.
    fn conv(n: &amlctl_manifest::yaml::Node) -> Value {
        use amlctl_manifest::yaml::Kind;
        match &n.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::Float(f) => serde_json::json!(f),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(conv).collect()),
            Kind::Map(e) => Value::Object(
                e.iter()
                    .map(|(k, v)| (k.as_str().unwrap_or("").to_string(), conv(v)))
                    .collect(),
            ),
        }
    }
    amlctl_manifest::yaml::parse_documents(Path::new("x.yml"), text)
        .unwrap()
        .iter()
        .map(conv)
        .collect()
}

#[test]
fn schema_accepts_examples_and_rejects_bad_ones() {
    let compute = jsonschema::validator_for(&amlctl_manifest::compute_schema()).unwrap();
    let config = jsonschema::validator_for(&amlctl_manifest::config_schema()).unwrap();
    let mut n = 0;
    let mut stack = vec![repo().join("manifests")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if p.is_dir() {
                if !hidden {
                    stack.push(p);
                }
                continue;
            }
            if hidden || p.extension().is_none_or(|x| x != "yml" && x != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let validator = if p.ends_with("amlctl.yaml") {
                &config
            } else {
                &compute
            };
            for doc in yaml_to_json(&text) {
                let errs: Vec<String> =
                    validator.iter_errors(&doc).map(|e| e.to_string()).collect();
                assert!(errs.is_empty(), "{}: {errs:?}", p.display());
                n += 1;
            }
            // Each manifest points editors at the schema with a path that exists.
            if let Some(rel) = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# yaml-language-server: $schema="))
            {
                assert!(
                    p.parent().unwrap().join(rel).is_file(),
                    "{}: {rel} does not exist",
                    p.display()
                );
            } else {
                panic!("{} lacks the yaml-language-server line", p.display());
            }
        }
    }
    assert!(n >= 14);
    for bad in [
        "name: abc\ntype: amlcompute\nmax_instance: 2\n",
        "name: abc\ntype: amlcompute\ntier: lowpriority\n",
        "name: cluster-1\ntype: amlcompute\n",
        "name: abc\ntype: virtualmachine\nresource_id: x\n",
        "name: abc\ntype: local\n",
    ] {
        let doc = &yaml_to_json(bad)[0];
        assert!(!compute.is_valid(doc), "schema accepted {bad:?}");
    }
}
