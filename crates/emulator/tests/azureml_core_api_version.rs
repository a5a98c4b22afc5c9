//! azureml-core (SDK v1, 1.61.0.post4) sends every compute PUT on api-version 2020-02-02 (its
//! recorded requests, `crates/manifest/tests/golden/golden-azureml-core-1.61.0.post4/`). The
//! emulator must accept each of them there, not only the legacy `Batch` type. The expected values
//! come from the recording, not from the emulator.

mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;

/// The recorded PUTs: (label, path under the ARM host, JSON body).
fn recorded_puts() -> Vec<(String, String, Value)> {
    let file = crate_dir()
        .join("../manifest/tests/golden/golden-azureml-core-1.61.0.post4/v1_requests.json");
    let all = read_json(&file);
    let mut out = Vec::new();
    for (label, case) in all.as_object().expect("object of cases") {
        for req in case["requests"].as_array().expect("requests") {
            if req["method"] != "PUT" {
                continue;
            }
            assert_eq!(req["params"]["api-version"], "2020-02-02", "{label}");
            let url = req["url"].as_str().expect("url");
            let path = url
                .strip_prefix("https://management.azure.com")
                .expect("ARM url")
                .replace("/resourceGroups/my-rg/", &format!("/resourceGroups/{RG}/"))
                .replace("/workspaces/my-ws/", &format!("/workspaces/{WS}/"));
            let body: Value = serde_json::from_str(
                &req["json"]
                    .to_string()
                    .replace("/resourceGroups/my-rg/", &format!("/resourceGroups/{RG}/"))
                    .replace("/resourcegroups/my-rg/", &format!("/resourcegroups/{RG}/")),
            )
            .expect("body");
            // Names under 3 characters (`c2`) break the service's name rule whatever the
            // api-version; the name is in the URL, not the body, so it is lengthened.
            let path = match path.rsplit_once("/computes/") {
                Some((ws, name)) if name.len() < 3 => format!("{ws}/computes/{name}-v1"),
                _ => path,
            };
            out.push((label.clone(), path, body));
        }
    }
    out
}

#[tokio::test]
async fn every_compute_put_azureml_core_sends_on_2020_02_02_is_accepted() {
    let puts = recorded_puts();
    let mut types: Vec<String> = puts
        .iter()
        .filter_map(|(_, _, b)| b["properties"]["computeType"].as_str().map(String::from))
        .collect();
    types.sort();
    types.dedup();
    assert_eq!(
        types,
        [
            "AmlCompute",
            "Batch",
            "ComputeInstance",
            "DataLakeAnalytics",
            "Databricks",
            "HDInsight",
            "Kubernetes",
            "VirtualMachine"
        ],
        "the recording's compute types"
    );
    let emu = start(config()).await;
    let mut failures = Vec::new();
    let mut accepted = 0;
    for (label, path, body) in &puts {
        // Every resource the body references (attached resource, subnet, identities) exists.
        let mut ids = Vec::new();
        arm_ids(body, &mut ids);
        for id in ids {
            emu.ensure_resource(&id);
        }
        let url = format!("{}{path}", emu.base_url());
        let (status, _, answer) = send(Method::PUT, &url, "2020-02-02", Some(body)).await;
        if answer["error"]["code"] == "UnsupportedComputeType" {
            failures.push(format!("{label}: {status} {answer}"));
        } else if label.contains("attach_configuration(address,") {
            // A VM attached by address carries no resourceId: refused for that (a separate
            // question from the api-version), never for the api-version.
            assert_eq!(
                answer["error"]["code"], "MissingResourceId",
                "{label}: {answer}"
            );
        } else if (200..300).contains(&status) {
            accepted += 1;
        } else {
            failures.push(format!("{label}: {status} {answer}"));
        }
    }
    assert_eq!(accepted, puts.len() - 1, "{failures:?}");
    emu.shutdown().await;
    assert!(
        failures.is_empty(),
        "recorded azureml-core PUTs refused on 2020-02-02:\n{}",
        failures.join("\n")
    );
}

/// Every string in `v` that looks like an ARM resource id.
fn arm_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.to_ascii_lowercase().starts_with("/subscriptions/") => {
            out.push(s.clone())
        }
        Value::Array(a) => a.iter().for_each(|x| arm_ids(x, out)),
        Value::Object(m) => {
            for (k, x) in m {
                // userAssignedIdentities is keyed by id.
                if k.to_ascii_lowercase().starts_with("/subscriptions/") {
                    out.push(k.clone());
                }
                arm_ids(x, out);
            }
        }
        _ => {}
    }
}
