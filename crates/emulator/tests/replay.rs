//! Replays the recordings of the real service (`tests/recordings/`, see its README) against a
//! fresh emulator per file, in order, at the recorded api-version, and compares every response
//! with the recorded one key by key (status, async headers, body; volatile values masked, see
//! `replay_support/compare.rs`). It measures; it does not require the emulator to match. The
//! ratchet [`MATCHED_AT_LEAST`] only lets the match count go up. Results: `REPLAY.md`.
//!
//! Run `cargo test -p amlctl-emulator --test replay -- --nocapture` to see matched/total per
//! file and per recording, and every mismatching key with what each side had.

mod common;
#[path = "replay_support/compare.rs"]
mod compare;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use amlctl_emulator::{EmulatorConfig, Fixture, FixtureWorkspace};
use common::*;
use serde_json::{Value, json};

/// Total matched keys over all recordings, as measured when this test was written. When the
/// emulator answers more like the service, the test prints a higher total: raise this constant
/// to it (never lower it) in the same commit.
const MATCHED_AT_LEAST: usize = 1865;

/// The api-version the `az ml` cassettes really used (they sanitized it to `0000-00-00`).
const SANITIZED_API_VERSION: &str = "2022-10-01-preview";

/// The response headers compared (presence only).
const ASYNC_HEADERS: &[&str] = &["Azure-AsyncOperation", "Location", "Retry-After"];

/// One recorded request/response pair.
struct Entry {
    method: String,
    path: String,
    status: u16,
    request_body: Value,
    response_body: Value,
    response_headers: Value,
}

fn entries(file: &Value) -> Vec<Entry> {
    file["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| Entry {
            method: e["method"].as_str().expect("method").to_string(),
            path: e["path"].as_str().expect("path").to_string(),
            status: e["status"].as_u64().expect("status") as u16,
            request_body: e["request_body"].clone(),
            response_body: e["response_body"].clone(),
            response_headers: e["response_headers"].clone(),
        })
        .collect()
}

/// Path segments (without the query).
fn segments(path: &str) -> Vec<&str> {
    path.split('?')
        .next()
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect()
}

fn seg_after<'a>(segs: &[&'a str], name: &str) -> Option<&'a str> {
    let i = segs.iter().position(|s| s.eq_ignore_ascii_case(name))?;
    segs.get(i + 1).copied()
}

/// The api-version of a recorded path (the real one for sanitized cassettes).
fn api_version(path: &str) -> String {
    let q = path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let v = q
        .split('&')
        .find_map(|p| p.strip_prefix("api-version="))
        .unwrap_or(SANITIZED_API_VERSION);
    if v == "0000-00-00" {
        SANITIZED_API_VERSION.into()
    } else {
        v.into()
    }
}

/// The recorded path with its query reduced to what the emulator needs (the recorders cut
/// signed queries to `…`).
fn replay_path(path: &str) -> String {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let mut params: Vec<String> = q
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("api-version=") && !kv.contains('…'))
        .map(str::to_string)
        .collect();
    params.insert(0, format!("api-version={}", api_version(path)));
    format!("{p}?{}", params.join("&"))
}

/// A fixture with every workspace the recording addresses, in the region its polls use.
fn fixture_for(entries: &[Entry]) -> Fixture {
    let region = entries
        .iter()
        .find_map(|e| seg_after(&segments(&e.path), "locations").map(str::to_string))
        .unwrap_or_else(|| "eastus".into());
    let mut workspaces: Vec<FixtureWorkspace> = Vec::new();
    for e in entries {
        let segs = segments(&e.path);
        if let (Some(sub), Some(rg), Some(ws)) = (
            seg_after(&segs, "subscriptions"),
            seg_after(&segs, "resourceGroups"),
            seg_after(&segs, "workspaces"),
        ) && !workspaces
            .iter()
            .any(|w| w.name == ws && w.resource_group == rg)
        {
            workspaces.push(FixtureWorkspace {
                subscription_id: sub.into(),
                resource_group: rg.into(),
                name: ws.into(),
                location: region.clone(),
            });
        }
    }
    Fixture {
        workspaces,
        resources: Vec::new(),
        ..Default::default()
    }
}

async fn call(method: &str, url: &str, body: &Value) -> (u16, Vec<&'static str>, Value, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = client().request(m, url).bearer_auth(TOKEN);
    if !body.is_null() {
        rb = rb.json(body);
    }
    let resp = rb.send().await.expect("emulator answers");
    let status = resp.status().as_u16();
    let present: Vec<&'static str> = ASYNC_HEADERS
        .iter()
        .copied()
        .filter(|h| resp.headers().contains_key(*h))
        .collect();
    let async_url = resp
        .headers()
        .get("azure-asyncoperation")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, present, json, async_url)
}

/// Creates the computes a recording acts on without creating them itself (start/stop/restart,
/// listNodes, lists of existing computes). Not measured.
async fn seed(base: &str, entries: &[Entry]) {
    let mut seen: Vec<String> = Vec::new();
    for e in entries {
        let segs = segments(&e.path);
        let api = api_version(&e.path);
        let Some(i) = segs.iter().position(|s| *s == "computes") else {
            continue;
        };
        let prefix = segs[..=i].join("/");
        if let Some(name) = segs.get(i + 1) {
            let key = format!("{prefix}/{name}").to_ascii_lowercase();
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            if e.method == "PUT" {
                continue;
            }
            let action = segs.get(i + 2).copied().unwrap_or("");
            let body = if action.eq_ignore_ascii_case("listNodes") || action.is_empty() {
                aml_body("Standard_DS3_v2", 0, 1)
            } else {
                ci_body("Standard_DS3_v2")
            };
            let url = format!("{base}/{prefix}/{name}?api-version={api}");
            call("PUT", &url, &body).await;
            if action == "start" {
                let stop = format!("{base}/{prefix}/{name}/stop?api-version={api}");
                call("POST", &stop, &Value::Null).await;
            }
        } else if e.method == "GET" {
            // A list of computes that existed before the recording: PUT each recorded item.
            for item in e.response_body["value"].as_array().into_iter().flatten() {
                let Some(name) = item["name"].as_str() else {
                    continue;
                };
                let url = format!("{base}/{prefix}/{name}?api-version={api}");
                let body = json!({"location": item["location"], "properties": item["properties"]});
                call("PUT", &url, &body).await;
            }
        }
    }
}

/// Result of one recording file.
struct FileResult {
    matched: usize,
    total: usize,
    lines: Vec<String>,
}

async fn replay_file(path: &Path) -> FileResult {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read"))
        .expect("recording is JSON");
    let entries = entries(&file);
    let emu = start(EmulatorConfig {
        fixture: Some(fixture_for(&entries)),
        accepted_tokens: vec![TOKEN.into()],
        lro_ms: 0,
        ..EmulatorConfig::default()
    })
    .await;
    let base = emu.base_url();
    seed(&base, &entries).await;
    let mut ops: HashMap<String, String> = HashMap::new();
    let mut last_op: Option<String> = None;
    let mut out = FileResult {
        matched: 0,
        total: 0,
        lines: Vec::new(),
    };
    for (i, e) in entries.iter().enumerate() {
        let segs = segments(&e.path);
        let url = match seg_after(&segs, "computeOperationsStatus") {
            Some(id) if ops.contains_key(id) => ops[id].clone(),
            Some(id) if id.bytes().all(|b| b == b'0') && last_op.is_some() => {
                last_op.clone().unwrap_or_default()
            }
            _ => format!("{base}{}", replay_path(&e.path)),
        };
        let (status, headers, body, async_url) = call(&e.method, &url, &e.request_body).await;
        if !async_url.is_empty() {
            if let Some(rec) = e.response_headers["Azure-AsyncOperation"].as_str() {
                let rsegs = segments(rec);
                if let Some(id) = seg_after(&rsegs, "computeOperationsStatus") {
                    ops.insert(id.to_string(), async_url.clone());
                }
            }
            last_op = Some(async_url);
        }
        let rec_headers: Vec<&str> = ASYNC_HEADERS
            .iter()
            .copied()
            .filter(|h| !e.response_headers[*h].is_null())
            .collect();
        let recorded = compare::response_view(e.status, &rec_headers, &e.response_body);
        let emulated = compare::response_view(status, &headers, &body);
        let d = compare::compare(&recorded, &emulated);
        out.matched += d.matched;
        out.total += d.total;
        let short = segs.iter().skip(4).cloned().collect::<Vec<_>>().join("/");
        out.lines.push(format!(
            "  [{i}] {} {short}: {}/{} keys",
            e.method, d.matched, d.total
        ));
        for m in &d.mismatches {
            out.lines.push(format!(
                "      {}: recorded {} | emulator {}",
                m.key,
                compare::show(&m.recorded),
                compare::show(&m.emulator)
            ));
        }
    }
    emu.shutdown().await;
    out
}

#[tokio::test]
async fn replay_real_service_recordings() {
    let dir = crate_dir().join("tests/recordings");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("recordings")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no recordings in {}", dir.display());
    let mut summary: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut matched, mut total) = (0, 0);
    for f in &files {
        let name = f
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let r = replay_file(f).await;
        println!("{name}: {}/{} keys match", r.matched, r.total);
        for l in &r.lines {
            println!("{l}");
        }
        matched += r.matched;
        total += r.total;
        summary.insert(name, (r.matched, r.total));
    }
    println!("\nper file:");
    for (name, (m, t)) in &summary {
        println!("  {name}: {m}/{t}");
    }
    println!("TOTAL: {matched}/{total} keys match the real service");
    assert!(
        matched >= MATCHED_AT_LEAST,
        "replay got worse: {matched} keys match, the ratchet says at least {MATCHED_AT_LEAST}"
    );
}
