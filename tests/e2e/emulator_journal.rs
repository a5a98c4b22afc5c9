//! The emulator's state journal through the real binary: SIGKILL `amlctl emulator serve` in the
//! middle of a burst of concurrent writes, restart it from its state file, and every write it had
//! acknowledged (2xx received) is there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;

const WS_PATH: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev/computes";

fn body() -> serde_json::Value {
    serde_json::json!({
        "location": "eastus",
        "properties": {"computeType": "AmlCompute", "properties": {
            "vmSize": "Standard_DS3_v2", "vmPriority": "Dedicated",
            "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 1}}}
    })
}

#[test]
fn sigkill_mid_burst_keeps_every_acknowledged_write() {
    let p = Project::example();
    let mut emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &["--lro-ms", "0"]);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (acked, stop, url) = (acked.clone(), stop.clone(), emu.url.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let name = format!("burst-{t}-{i:04}");
                    let target = format!("{url}{WS_PATH}/{name}?api-version=2025-12-01");
                    // A request cut off by the kill panics inside the helper: not acknowledged.
                    let sent =
                        std::panic::catch_unwind(|| http_send("PUT", &target, Some(&body())));
                    match sent {
                        Ok((s, _)) if (200..300).contains(&s) => {
                            acked.lock().expect("lock").push(name)
                        }
                        Ok((s, b)) if s != 0 => panic!("PUT {name}: {s} {b}"),
                        _ => return,
                    }
                }
            })
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(60), || acked
            .lock()
            .expect("lock")
            .len()
            >= 60),
        "the burst never got going"
    );
    // SIGKILL while the writers are still sending: no graceful shutdown, no compaction.
    emu.kill();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        let _ = w.join();
    }
    let acked = acked.lock().expect("lock").clone();

    let emu2 = EmulatorProcess::restart_from_state(&emu.state, &emu.flags);
    let live: std::collections::BTreeSet<String> =
        emu2.computes().into_iter().map(|c| c.name).collect();
    let lost: Vec<&String> = acked.iter().filter(|n| !live.contains(*n)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes were lost by the SIGKILL: {lost:?}",
        lost.len(),
        acked.len()
    );
}
