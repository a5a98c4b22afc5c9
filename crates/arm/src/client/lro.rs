//! Long-running operations: `Azure-AsyncOperation`, else `Location`, else the resource's
//! `provisioningState`; and following the resource after a lost answer.

use super::ArmClient;
use super::retry::Op;
use super::transport::Resp;
use crate::error::{self, ArmError, format_duration};
use amlctl_vocab::Method;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;
use url::Url;

/// Compute-instance states that an action passes through before it ends.
const TRANSITIONAL_STATES: &[&str] = &[
    "Creating",
    "Deleting",
    "Starting",
    "Stopping",
    "Restarting",
    "SettingUp",
    "UserSettingUp",
    "Resizing",
];

fn provisioning_state(v: &Value) -> Option<&str> {
    v.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
}

fn is_terminal(state: Option<&str>) -> bool {
    match state {
        None => true, // ARM: a missing provisioningState means Succeeded
        Some(s) => ["succeeded", "failed", "canceled", "cancelled"]
            .contains(&s.to_ascii_lowercase().as_str()),
    }
}

fn is_failed(state: Option<&str>) -> Option<&'static str> {
    match state.map(str::to_ascii_lowercase).as_deref() {
        Some("failed") => Some("Failed"),
        Some("canceled") | Some("cancelled") => Some("Canceled"),
        _ => None,
    }
}

impl ArmClient {
    /// Runs one request to completion: waits for its LRO, follows the LRO protocol of ARM.
    pub(super) async fn run(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        op: &mut Op,
    ) -> Result<Option<Value>, ArmError> {
        let resp = match self
            .send(method, url, body, op, method == Method::Delete)
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_conflict() && op.lost_answer && method != Method::Post => {
                // The first attempt reached ARM but its answer was lost; the retry then found the
                // operation it had started still running. Follow the resource instead.
                tracing::info!(
                    path = url.path(),
                    "retry after a lost answer hit 409; following the resource"
                );
                return self.follow_after_lost_answer(method, url, body, op).await;
            }
            Err(e) => return Err(e),
        };
        match method {
            Method::Get => resp.json(),
            Method::Delete => {
                if resp.status == 404 || resp.status == 204 {
                    return Ok(None);
                }
                self.wait_lro(method, url, resp, body, op).await?;
                Ok(None)
            }
            Method::Put | Method::Patch => {
                self.wait_lro(method, url, resp, body, op).await.map(Some)
            }
            Method::Post => {
                if resp.status == 202 {
                    self.wait_lro(method, url, resp, body, op).await?;
                    Ok(None)
                } else {
                    resp.json()
                }
            }
        }
    }

    /// After a lost answer and a 409 on retry: wait for the resource to settle (PUT/PATCH) or to
    /// disappear (DELETE).
    async fn follow_after_lost_answer(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        op: &mut Op,
    ) -> Result<Option<Value>, ArmError> {
        let resource_url = Self::resource_url(method, url);
        if method == Method::Delete {
            loop {
                match self.get_resource(&resource_url, op).await? {
                    None => return Ok(None),
                    Some(r) => {
                        if let Some(term) = is_failed(provisioning_state(&r)) {
                            return Err(error::operation_failed(
                                term,
                                &Value::Null,
                                Some(&r),
                                body,
                            ));
                        }
                        op.last = format!("{} still exists", url.path());
                    }
                }
                op.sleep(self.inner.opts.poll_interval).await?;
                self.inner.counters.polls.fetch_add(1, Ordering::Relaxed);
            }
        }
        let r = self.final_resource(&resource_url, None, body, op).await?;
        Ok(Some(r))
    }

    /// Interval before the next poll: `max(Retry-After, poll_interval)`, or `poll_interval`.
    fn poll_delay(&self, retry_after: Option<Duration>) -> Duration {
        let pi = self.inner.opts.poll_interval;
        retry_after.map_or(pi, |ra| ra.max(pi))
    }

    /// The URL of the resource a request acts on (for POST actions: without the action segment).
    fn resource_url(method: Method, url: &Url) -> Url {
        let mut u = url.clone();
        if method == Method::Post
            && let Ok(mut segs) = u.path_segments_mut()
        {
            segs.pop();
        }
        u
    }

    pub(super) async fn get_resource(
        &self,
        url: &Url,
        op: &mut Op,
    ) -> Result<Option<Value>, ArmError> {
        let r = self.send(Method::Get, url, None, op, true).await?;
        if r.status == 404 {
            return Ok(None);
        }
        r.json()
    }

    /// Waits for a long-running operation started by `initial`. Returns the final resource for
    /// PUT/PATCH (`Null` for other methods).
    async fn wait_lro(
        &self,
        method: Method,
        url: &Url,
        initial: Resp,
        request: Option<&Value>,
        op: &mut Op,
    ) -> Result<Value, ArmError> {
        op.last = format!(
            "{} {} accepted (HTTP {}); the operation had not finished",
            method.as_str(),
            url.path(),
            initial.status
        );

        if let Some(ao) = initial.header("azure-asyncoperation").map(str::to_string) {
            let status_url = self.follow_url(&ao, "Azure-AsyncOperation URL")?;
            return self
                .poll_async_operation(method, url, &status_url, &initial, request, op)
                .await;
        }

        let initial_done = initial.status == 200
            && initial
                .json()
                .ok()
                .flatten()
                .is_some_and(|b| is_terminal(provisioning_state(&b)));
        if !initial_done && let Some(loc) = initial.header("location").map(str::to_string) {
            let loc_url = self.follow_url(&loc, "Location URL")?;
            return self
                .poll_location(method, url, &loc_url, &initial, request, op)
                .await;
        }

        self.follow_resource(method, url, &initial, request, op)
            .await
    }

    /// Polls an `Azure-AsyncOperation` status URL until the operation ends, then reads the final
    /// resource (PUT/PATCH).
    async fn poll_async_operation(
        &self,
        method: Method,
        url: &Url,
        status_url: &Url,
        initial: &Resp,
        request: Option<&Value>,
        op: &mut Op,
    ) -> Result<Value, ArmError> {
        let resource_url = Self::resource_url(method, url);
        let wants_resource = matches!(method, Method::Put | Method::Patch);
        let mut delay = self.poll_delay(initial.retry_after());
        loop {
            op.sleep(delay).await?;
            self.inner.counters.polls.fetch_add(1, Ordering::Relaxed);
            let r = self.send(Method::Get, status_url, None, op, false).await?;
            let body = r.json()?.unwrap_or(Value::Null);
            let status = body
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match status.to_ascii_lowercase().as_str() {
                "succeeded" => break,
                "failed" | "canceled" | "cancelled" => {
                    let term = if status.eq_ignore_ascii_case("failed") {
                        "Failed"
                    } else {
                        "Canceled"
                    };
                    let resource = self.get_resource(&resource_url, op).await.ok().flatten();
                    return Err(error::operation_failed(
                        term,
                        body.get("error").unwrap_or(&Value::Null),
                        resource.as_ref(),
                        request,
                    ));
                }
                "" => {
                    return Err(ArmError::InvalidResponse(
                        "Azure-AsyncOperation status body has no 'status'".to_string(),
                    ));
                }
                _ => {
                    op.last = format!(
                        "{} {} still {status} after {}",
                        method.as_str(),
                        url.path(),
                        format_duration(op.budget.saturating_sub(op.remaining()))
                    );
                    delay = self.poll_delay(r.retry_after());
                }
            }
        }
        if !wants_resource {
            return Ok(Value::Null);
        }
        self.final_resource(&resource_url, None, request, op).await
    }

    /// Polls a `Location` URL until it stops answering 202, then reads the final resource
    /// (PUT/PATCH).
    async fn poll_location(
        &self,
        method: Method,
        url: &Url,
        loc_url: &Url,
        initial: &Resp,
        request: Option<&Value>,
        op: &mut Op,
    ) -> Result<Value, ArmError> {
        let resource_url = Self::resource_url(method, url);
        let wants_resource = matches!(method, Method::Put | Method::Patch);
        let mut delay = self.poll_delay(initial.retry_after());
        let done = loop {
            op.sleep(delay).await?;
            self.inner.counters.polls.fetch_add(1, Ordering::Relaxed);
            let r = match self
                .send(Method::Get, loc_url, None, op, method == Method::Delete)
                .await
            {
                Ok(r) => r,
                // The Location URL answers like the synchronous call would have: an error
                // answer there is the operation's failure.
                Err(ArmError::Api {
                    code,
                    message,
                    status,
                    ..
                }) if status != 404 => {
                    let term = if code.to_ascii_lowercase().contains("cancel") {
                        "Canceled"
                    } else {
                        "Failed"
                    };
                    let resource = if wants_resource {
                        self.get_resource(&resource_url, op).await.ok().flatten()
                    } else {
                        None
                    };
                    return Err(error::operation_failed(
                        term,
                        &json!({"code": code, "message": message}),
                        resource.as_ref(),
                        request,
                    ));
                }
                Err(e) => return Err(e),
            };
            if r.status != 202 {
                break r;
            }
            op.last = format!(
                "{} {} still running after {}",
                method.as_str(),
                url.path(),
                format_duration(op.budget.saturating_sub(op.remaining()))
            );
            delay = self.poll_delay(r.retry_after());
        };
        if !wants_resource {
            return Ok(done.json().ok().flatten().unwrap_or(Value::Null));
        }
        let body = done.json()?;
        let body = body.filter(|b| b.get("properties").is_some());
        self.final_resource(&resource_url, body, request, op).await
    }

    /// No polling header: follows the resource itself until its operation has ended.
    async fn follow_resource(
        &self,
        method: Method,
        url: &Url,
        initial: &Resp,
        request: Option<&Value>,
        op: &mut Op,
    ) -> Result<Value, ArmError> {
        let resource_url = Self::resource_url(method, url);
        match method {
            Method::Put | Method::Patch => {
                let body = initial.json()?;
                self.final_resource(&resource_url, body, request, op).await
            }
            Method::Delete if initial.status == 202 => loop {
                op.sleep(self.poll_delay(initial.retry_after())).await?;
                self.inner.counters.polls.fetch_add(1, Ordering::Relaxed);
                match self.get_resource(&resource_url, op).await? {
                    None => return Ok(Value::Null),
                    Some(r) => {
                        if let Some(term) = is_failed(provisioning_state(&r)) {
                            return Err(error::operation_failed(
                                term,
                                &Value::Null,
                                Some(&r),
                                request,
                            ));
                        }
                        op.last = format!("{} still exists", url.path());
                    }
                }
            },
            Method::Post if initial.status == 202 => {
                // An action without polling headers: follow the resource until its provisioning
                // state is terminal and it has left the transitional power states.
                let delay = self.poll_delay(initial.retry_after());
                loop {
                    op.sleep(delay).await?;
                    self.inner.counters.polls.fetch_add(1, Ordering::Relaxed);
                    let Some(r) = self.get_resource(&resource_url, op).await? else {
                        return Ok(Value::Null);
                    };
                    let state = r
                        .pointer("/properties/properties/state")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if is_terminal(provisioning_state(&r)) && !TRANSITIONAL_STATES.contains(&state)
                    {
                        return Ok(Value::Null);
                    }
                    op.last = format!("{} still {state}", resource_url.path());
                }
            }
            _ => Ok(Value::Null),
        }
    }

    /// GETs the resource until its provisioningState is terminal (starting from `known`, if given).
    async fn final_resource(
        &self,
        resource_url: &Url,
        known: Option<Value>,
        request: Option<&Value>,
        op: &mut Op,
    ) -> Result<Value, ArmError> {
        let mut current = known;
        loop {
            let r = match current.take() {
                Some(r) => r,
                None => self.get_resource(resource_url, op).await?.ok_or_else(|| {
                    ArmError::InvalidResponse(format!(
                        "{} is gone after its operation succeeded",
                        resource_url.path()
                    ))
                })?,
            };
            let state = provisioning_state(&r);
            if let Some(term) = is_failed(state) {
                let err = r
                    .pointer("/properties/provisioningErrors/0/error")
                    .cloned()
                    .unwrap_or(Value::Null);
                return Err(error::operation_failed(term, &err, Some(&r), request));
            }
            if is_terminal(state) {
                return Ok(r);
            }
            op.last = format!("{} still {}", resource_url.path(), state.unwrap_or("?"));
            op.sleep(self.inner.opts.poll_interval).await?;
            self.inner.counters.polls.fetch_add(1, Ordering::Relaxed);
        }
    }
}
