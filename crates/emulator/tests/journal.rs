//! The state journal: a write appends to `STATE.journal` instead of rewriting the state file;
//! a restart without a graceful shutdown replays it; torn and stale journals; old state files.

mod common;

use std::path::{Path, PathBuf};

use amlctl_emulator::EmulatorConfig;
use common::*;
use reqwest::Method;

fn journal(state: &Path) -> PathBuf {
    state.with_file_name(format!(
        "{}.journal",
        state.file_name().unwrap().to_string_lossy()
    ))
}

fn cfg(path: &Path) -> EmulatorConfig {
    EmulatorConfig {
        state_path: Some(path.to_path_buf()),
        lro_ms: 0,
        ..config()
    }
}

async fn names(emu: &amlctl_emulator::Emulator) -> Vec<String> {
    let mut out = Vec::new();
    let mut url = format!("{}/computes?api-version={API}", ws_url(emu, WS));
    loop {
        let (s, _, body) = send(Method::GET, &url, "", None).await;
        assert_eq!(s, 200, "{body}");
        for v in body["value"].as_array().unwrap() {
            out.push(v["name"].as_str().unwrap().to_string());
        }
        match body["nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => return out,
        }
    }
}

async fn put(emu: &amlctl_emulator::Emulator, name: &str) {
    let (s, _, b) = send(
        Method::PUT,
        &compute_url(emu, WS, name),
        API,
        Some(&aml_body("Standard_DS3_v2", 0, 1)),
    )
    .await;
    assert_eq!(s, 201, "{b}");
}

/// A PUT leaves the state file alone and appends a bounded amount to the journal (the same for
/// the 40th compute as for the 1st); a restart without a graceful shutdown replays it in order.
#[tokio::test]
async fn writes_append_to_the_journal_and_a_crash_restart_replays_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let emu = start(cfg(&path)).await;
    let snapshot = std::fs::read(&path).unwrap();
    let mut growth = Vec::new();
    for i in 0..40 {
        let before = std::fs::metadata(journal(&path)).unwrap().len();
        put(&emu, &format!("c{i:02}")).await;
        growth.push(std::fs::metadata(journal(&path)).unwrap().len() - before);
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        snapshot,
        "a write rewrote the state file"
    );
    assert!(
        // From the 2nd PUT on, each also settles the previous compute's operation.
        growth[39] < growth[1] + 64,
        "the journal append grows with the number of computes: {growth:?}"
    );
    let url = format!(
        "{}?underlyingResourceAction=Delete",
        compute_url(&emu, WS, "c05")
    );
    let (s, _, _) = send(Method::DELETE, &url, API, None).await;
    assert!(s == 202 || s == 200, "{s}");
    let before = names(&emu).await; // settles the delete
    assert!(!before.iter().any(|n| n == "c05"));
    // No shutdown: as if the process had died here.
    drop(emu);
    let emu = start(cfg(&path)).await;
    assert_eq!(names(&emu).await, before);
    emu.shutdown().await;
    // A graceful shutdown leaves the whole state in the state file and an empty journal after it.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["computes"].as_array().unwrap().len(), 39);
    let j = std::fs::read_to_string(journal(&path)).unwrap();
    assert_eq!(j.lines().count(), 1, "{j}");
}

/// A record cut off by a crash (no newline, or a last line that does not parse) is ignored;
/// everything before it loads.
#[tokio::test]
async fn a_torn_last_line_is_ignored() {
    for tail in [
        &b"{\"t\":\"compute\",\"v\":{\"subscription_id\":\"0000"[..],
        &b"{\"t\":\"compute\",\"v\":{\"subscr\x00\x00\n"[..],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let emu = start(cfg(&path)).await;
        put(&emu, "kept").await;
        drop(emu);
        let mut j = std::fs::read(journal(&path)).unwrap();
        j.extend_from_slice(tail);
        std::fs::write(journal(&path), j).unwrap();
        let emu = start(cfg(&path)).await;
        assert_eq!(names(&emu).await, vec!["kept".to_string()]);
        emu.shutdown().await;
    }
}

/// A damaged record before the last one is refused with the journal's file:line:col.
#[tokio::test]
async fn a_damaged_middle_line_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let emu = start(cfg(&path)).await;
    put(&emu, "aaa").await;
    put(&emu, "bbb").await;
    drop(emu);
    let text = std::fs::read_to_string(journal(&path)).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert!(lines.len() >= 3, "{text}");
    lines[1] = "{\"t\":\"compute\",\"v\":".into();
    std::fs::write(journal(&path), lines.join("\n") + "\n").unwrap();
    let err = amlctl_emulator::Emulator::start("127.0.0.1:0".parse().unwrap(), cfg(&path))
        .await
        .err()
        .expect("a damaged journal is refused")
        .to_string();
    assert!(err.contains("state.json.journal:2:"), "{err}");
    assert!(err.contains("Remove the journal"), "{err}");
}

/// A journal whose header names another generation (left by a compaction cut off between its
/// snapshot and its journal reset) is not replayed: the snapshot already holds it.
#[tokio::test]
async fn a_stale_journal_is_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let emu = start(cfg(&path)).await;
    put(&emu, "aaa").await;
    emu.shutdown().await;
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let generation = saved["journal_generation"].as_u64().unwrap();
    let mut ghost = saved["computes"][0].clone();
    ghost["name"] = "ghost".into();
    let stale = format!(
        "{}\n{}\n",
        serde_json::json!({"t": "generation", "v": generation - 1}),
        serde_json::json!({"t": "compute", "v": ghost})
    );
    std::fs::write(journal(&path), stale).unwrap();
    let emu = start(cfg(&path)).await;
    assert_eq!(names(&emu).await, vec!["aaa".to_string()]);
    emu.shutdown().await;
}

/// A state file written before the journal (no `journal_generation`, no journal) loads.
#[tokio::test]
async fn an_old_state_file_without_a_journal_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let emu = start(cfg(&path)).await;
    put(&emu, "old").await;
    emu.shutdown().await;
    let mut saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    saved.as_object_mut().unwrap().remove("journal_generation");
    std::fs::write(&path, serde_json::to_string_pretty(&saved).unwrap()).unwrap();
    std::fs::remove_file(journal(&path)).unwrap();
    let emu = start(cfg(&path)).await;
    assert_eq!(names(&emu).await, vec!["old".to_string()]);
    emu.shutdown().await;
}
