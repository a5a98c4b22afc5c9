//! Runs the emulator by hand until the CLI wiring exists.
//!
//! `cargo run -p amlctl-emulator --example serve -- --listen 127.0.0.1:0 --state /tmp/s.json
//! [--fixture F] [--lro-ms N] [--latency-ms N] [--faults SPEC] [--fault-seed N] [--retry-after S]
//! [--quirks Q] [--page-size N] [--identity-header S] [--accepted-token T]...`

use std::path::PathBuf;

use amlctl_emulator::{ServeArgs, run_serve};

#[tokio::main]
async fn main() {
    let mut a = ServeArgs {
        listen: "127.0.0.1:0".into(),
        state: std::env::temp_dir().join("amlctl-emulator-state.json"),
        fixture: None,
        lro_ms: 0,
        latency_ms: 0,
        faults: None,
        fault_seed: 0,
        retry_after_s: 1,
        quirks: None,
        page_size: 100,
        identity_header: None,
        accepted_tokens: Vec::new(),
        drop_on_put: Vec::new(),
        quota: Vec::new(),
        rate_limit: None,
        slow_ms: None,
        lenient: false,
        name_hold_ms: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let Some(v) = args.get(i + 1).cloned() else {
            eprintln!("missing value for {flag}");
            std::process::exit(2);
        };
        let num = |v: &str| -> u64 {
            v.parse().unwrap_or_else(|_| {
                eprintln!("{flag} expects a number");
                std::process::exit(2)
            })
        };
        match flag {
            "--listen" => a.listen = v,
            "--state" => a.state = PathBuf::from(v),
            "--fixture" => a.fixture = Some(PathBuf::from(v)),
            "--lro-ms" => a.lro_ms = num(&v),
            "--latency-ms" => a.latency_ms = num(&v),
            "--faults" => a.faults = Some(v),
            "--fault-seed" => a.fault_seed = num(&v),
            "--retry-after" => a.retry_after_s = num(&v),
            "--quirks" => a.quirks = Some(v),
            "--page-size" => a.page_size = num(&v) as usize,
            "--identity-header" => a.identity_header = Some(v),
            "--accepted-token" => a.accepted_tokens.push(v),
            "--quota" => a.quota.push(v),
            "--rate-limit" => a.rate_limit = Some(v),
            "--slow-ms" => a.slow_ms = Some(num(&v)),
            other => {
                eprintln!("unknown flag {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    if let Err(e) = run_serve(a).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
