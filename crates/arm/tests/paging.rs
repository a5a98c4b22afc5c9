//! Paging against a stand-in server on 127.0.0.1: a `nextLink` without an api-version is
//! followed at the api-version of the list it belongs to (the Activity Log's, not the computes').

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::response::IntoResponse;
use serde_json::json;
use time::OffsetDateTime;

#[tokio::test]
async fn a_next_link_without_api_version_keeps_the_lists_own_version() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let log = log.clone();
        async move {
            let query = req.uri().query().unwrap_or_default().to_string();
            let first = !query.contains("skiptoken");
            log.lock().unwrap().push(query);
            let event = |at: &str| {
                json!({
                    "caller": "alice@example.com",
                    "eventTimestamp": at,
                    "operationName": {"value": "Microsoft.MachineLearningServices/workspaces/computes/write"},
                    "status": {"value": "Succeeded"}
                })
            };
            let body = if first {
                json!({
                    "value": [event("2026-12-01T10:00:00Z")],
                    "nextLink": format!("http://{addr}/subscriptions/s1/providers/Microsoft.Insights/eventtypes/management/values?$skiptoken=p2")
                })
            } else {
                json!({"value": [event("2026-12-02T10:00:00Z")]})
            };
            axum::Json(body).into_response()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let c = common::client(&format!("http://{addr}"));
    let to = OffsetDateTime::now_utc();
    let found = c
        .activity_log(
            "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/computes/c",
            to - time::Duration::days(7),
            to,
        )
        .await;
    let amlctl_arm::ActivityLookup::Events(events) = found else {
        panic!("expected events, got {found:?}");
    };
    assert_eq!(events.len(), 2, "both pages are read: {events:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for q in &seen {
        assert!(q.contains("api-version=2015-04-01"), "{q}");
        assert!(!q.contains(amlctl_vocab::api_version::COMPUTES), "{q}");
    }
}
