//! Per-subscription concurrency and rate limiting, shared by every clone of a client.
//!
//! Each subscription gets a semaphore (`parallelism` permits) and a pacing state fed by ARM's
//! `x-ms-ratelimit-remaining-subscription-reads|writes` headers. When the remaining budget of a bucket
//! falls low, requests of that kind are spaced out (the lower the budget, the wider the spacing) so the
//! client slows down before ARM answers 429; a 429 pauses the whole subscription for its `Retry-After`.
//!
//! Once the bucket's refill rate is known (measured from how the budget moved against the answers
//! received meanwhile), the client mirrors the bucket: each request takes a token when it is sent
//! (a request sent but not answered has already taken one), tokens come back at the measured
//! rate, and a request without a token waits exactly until one is back. Every answer re-syncs the
//! mirror to the budget ARM reports minus the requests still in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Below this many remaining requests a bucket always counts as low.
const LOW_ABSOLUTE: u64 = 20;
/// A bucket also counts as low below this fraction of the largest remaining value seen.
const LOW_FRACTION: f64 = 0.10;
/// Spacing between requests when the bucket is empty.
const MAX_SPACING: Duration = Duration::from_secs(2);

/// Read or write bucket of ARM's subscription rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bucket {
    Reads,
    Writes,
}

#[derive(Debug, Default)]
struct BucketState {
    remaining: Option<u64>,
    max_seen: u64,
    next_slot: Option<Instant>,
    /// The observation refill is measured from: when, and the remaining budget then.
    last_obs: Option<(Instant, u64)>,
    /// Answers of this bucket received since `last_obs` (requests charged meanwhile).
    sent_since_obs: u64,
    /// Estimated refill of the bucket, tokens per second (moving average).
    refill_per_s: Option<f64>,
    /// Requests of this bucket sent (or waiting for their slot) and not answered yet.
    in_flight: u64,
    /// The client's mirror of the bucket: tokens left (negative: reserved ahead) at an instant.
    budget: Option<(Instant, f64)>,
}

/// Shortest interval a refill estimate is measured over (shorter ones are noise).
const MIN_REFILL_WINDOW: Duration = Duration::from_millis(200);

impl BucketState {
    /// Spacing to apply between requests given the current remaining budget (zero when not low).
    /// At an empty bucket it is one refill interval (when the refill rate is known), so the
    /// client sends as fast as ARM refills, not slower; never more than [`MAX_SPACING`].
    fn spacing(&self) -> Duration {
        let Some(rem) = self.remaining else {
            return Duration::ZERO;
        };
        let threshold = ((self.max_seen as f64 * LOW_FRACTION) as u64).max(LOW_ABSOLUTE);
        if rem >= threshold {
            return Duration::ZERO;
        }
        let at_empty = match self.refill_per_s {
            Some(r) if r > 0.0 => MAX_SPACING.min(Duration::from_secs_f64(1.0 / r)),
            _ => MAX_SPACING,
        };
        // Linear: 1/threshold of the empty-bucket spacing at the threshold, all of it at zero.
        let deficit = (threshold - rem) as f64 / threshold as f64;
        at_empty.mul_f64(deficit.clamp(0.0, 1.0))
    }

    /// The mirrored budget at `now`: refilled at the measured rate, at most the largest budget
    /// seen.
    fn budget_at(&self, now: Instant) -> Option<f64> {
        let (t, b) = self.budget?;
        let r = self.refill_per_s.filter(|r| *r > 0.0)?;
        let dt = now.saturating_duration_since(t).as_secs_f64();
        Some((b + r * dt).min(self.max_seen as f64))
    }

    /// Takes a token for a request sent at `at` or later; returns when it may be sent (`None`:
    /// the refill rate is not known yet, use the spacing heuristic).
    fn take(&mut self, at: Instant) -> Option<Instant> {
        let r = self.refill_per_s.filter(|r| *r > 0.0)?;
        let b = self.budget_at(at)? - 1.0;
        self.budget = Some((at, b));
        if b >= 0.0 {
            Some(at)
        } else {
            Some(at + Duration::from_secs_f64(-b / r))
        }
    }

    /// Records a remaining budget; estimates the refill rate from how the budget moved against
    /// the answers received meanwhile.
    fn observe(&mut self, now: Instant, remaining: u64) {
        // Sync the mirror: what ARM reports, less what is still in flight (sent or reserved,
        // not yet counted there as far as the client can tell).
        let server = remaining as f64 - self.in_flight as f64;
        let local = self.budget_at(now);
        self.budget = Some((now, local.map_or(server, |l| l.min(server))));
        self.remaining = Some(remaining);
        self.max_seen = self.max_seen.max(remaining);
        match self.last_obs {
            Some((t0, r0)) => {
                // This answer's request was charged between the two observations.
                self.sent_since_obs += 1;
                let dt = now.saturating_duration_since(t0);
                if dt < MIN_REFILL_WINDOW {
                    return;
                }
                let refilled = remaining as f64 - r0 as f64 + self.sent_since_obs as f64;
                let rate = refilled.max(0.0) / dt.as_secs_f64();
                self.refill_per_s = Some(match self.refill_per_s {
                    Some(prev) => 0.7 * prev + 0.3 * rate,
                    None => rate,
                });
                self.last_obs = Some((now, remaining));
                self.sent_since_obs = 0;
            }
            None => {
                self.last_obs = Some((now, remaining));
                self.sent_since_obs = 0;
            }
        }
    }
}

#[derive(Debug, Default)]
struct PaceState {
    paused_until: Option<Instant>,
    reads: BucketState,
    writes: BucketState,
}

/// The limiter of one subscription.
#[derive(Debug)]
pub(crate) struct SubLimiter {
    sem: Arc<Semaphore>,
    pace: Mutex<PaceState>,
}

impl SubLimiter {
    /// How long to wait before sending a request of this bucket; reserves the slot.
    fn reserve(&self, bucket: Bucket) -> Duration {
        let now = Instant::now();
        let Ok(mut p) = self.pace.lock() else {
            return Duration::ZERO;
        };
        let mut at = now;
        if let Some(until) = p.paused_until {
            if until > at {
                at = until;
            } else {
                p.paused_until = None;
            }
        }
        let b = match bucket {
            Bucket::Reads => &mut p.reads,
            Bucket::Writes => &mut p.writes,
        };
        b.in_flight += 1;
        if let Some(slot) = b.take(at) {
            return slot.saturating_duration_since(now);
        }
        let spacing = b.spacing();
        if !spacing.is_zero() {
            if let Some(slot) = b.next_slot
                && slot > at
            {
                at = slot;
            }
            b.next_slot = Some(at + spacing);
        }
        at.saturating_duration_since(now)
    }

    /// Waits for a concurrency permit, then for pacing (pause and spacing), so the pacing decision
    /// uses the budget reported by the answers that arrived meanwhile. Returns the permit and
    /// whether the request had to wait for pacing.
    pub(crate) async fn acquire(&self, bucket: Bucket) -> (Option<OwnedSemaphorePermit>, bool) {
        let permit = self.sem.clone().acquire_owned().await.ok();
        let wait = self.reserve(bucket);
        // `reserve` counted the request in flight; if this wait is abandoned (the operation's
        // deadline, a cancelled task), no request is sent and no answer will release it.
        let mut reserved = Reserved {
            limiter: self,
            bucket,
            sent: false,
        };
        let waited = !wait.is_zero();
        if waited {
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "throttle: spacing out requests"
            );
            tokio::time::sleep(wait).await;
        }
        reserved.sent = true;
        (permit, waited)
    }

    /// Forgets one request of `bucket` counted in flight that was never sent.
    fn release(&self, bucket: Bucket) {
        let Ok(mut p) = self.pace.lock() else {
            return;
        };
        let b = match bucket {
            Bucket::Reads => &mut p.reads,
            Bucket::Writes => &mut p.writes,
        };
        b.in_flight = b.in_flight.saturating_sub(1);
    }

    /// Records the answer to a request of `bucket` (or its failure: no headers) and the
    /// `x-ms-ratelimit-remaining-subscription-*` headers it carried.
    pub(crate) fn observe(&self, bucket: Bucket, reads: Option<u64>, writes: Option<u64>) {
        let Ok(mut p) = self.pace.lock() else {
            return;
        };
        let p = &mut *p;
        let now = Instant::now();
        let b = match bucket {
            Bucket::Reads => &mut p.reads,
            Bucket::Writes => &mut p.writes,
        };
        b.in_flight = b.in_flight.saturating_sub(1);
        for (b, v) in [(&mut p.reads, reads), (&mut p.writes, writes)] {
            if let Some(v) = v {
                b.observe(now, v);
            }
        }
    }

    /// Pauses every request of this subscription for `d` (after a 429).
    pub(crate) fn pause(&self, d: Duration) {
        let Ok(mut p) = self.pace.lock() else {
            return;
        };
        let until = Instant::now() + d;
        if p.paused_until.is_none_or(|u| u < until) {
            p.paused_until = Some(until);
        }
    }
}

/// A request counted in flight by [`SubLimiter::reserve`] while it waits for its slot: dropped
/// before it is sent, it is no longer in flight.
struct Reserved<'a> {
    limiter: &'a SubLimiter,
    bucket: Bucket,
    sent: bool,
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        if !self.sent {
            self.limiter.release(self.bucket);
        }
    }
}

/// All subscriptions' limiters of one client (shared by its clones).
#[derive(Debug)]
pub(crate) struct Throttle {
    parallelism: usize,
    subs: Mutex<HashMap<String, Arc<SubLimiter>>>,
}

impl Throttle {
    pub(crate) fn new(parallelism: usize) -> Self {
        Self {
            parallelism: parallelism.max(1),
            subs: Mutex::new(HashMap::new()),
        }
    }

    /// The limiter of `subscription` (lower-cased; "" for URLs without one).
    pub(crate) fn for_subscription(&self, subscription: &str) -> Arc<SubLimiter> {
        let key = subscription.to_ascii_lowercase();
        let mut subs = match self.subs.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        subs.entry(key)
            .or_insert_with(|| {
                Arc::new(SubLimiter {
                    sem: Arc::new(Semaphore::new(self.parallelism)),
                    pace: Mutex::new(PaceState::default()),
                })
            })
            .clone()
    }
}

/// The subscription id of an ARM URL path (`/subscriptions/{id}/…`), or "".
pub(crate) fn subscription_of(path: &str) -> String {
    let mut it = path.split('/').filter(|s| !s.is_empty());
    while let Some(seg) = it.next() {
        if seg.eq_ignore_ascii_case("subscriptions") {
            return it.next().unwrap_or_default().to_string();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_grows_as_budget_falls() {
        let mut b = BucketState::default();
        assert_eq!(b.spacing(), Duration::ZERO);
        b.max_seen = 1000;
        b.remaining = Some(500);
        assert_eq!(b.spacing(), Duration::ZERO);
        b.remaining = Some(50);
        let s50 = b.spacing();
        b.remaining = Some(5);
        let s5 = b.spacing();
        b.remaining = Some(0);
        assert!(Duration::ZERO < s50 && s50 < s5 && s5 < b.spacing());
        assert_eq!(b.spacing(), MAX_SPACING);
    }

    #[test]
    fn spacing_at_an_empty_bucket_follows_the_measured_refill() {
        let mut b = BucketState::default();
        let t0 = Instant::now();
        b.observe(t0, 10);
        // Ten requests answered in one second (nine before this answer), and the budget only
        // fell by 8: 2 tokens refilled.
        b.sent_since_obs = 9;
        b.observe(t0 + Duration::from_secs(1), 2);
        let r = b.refill_per_s.expect("estimated");
        assert!((r - 2.0).abs() < 1e-9, "{r}");
        b.remaining = Some(0);
        assert_eq!(b.spacing(), Duration::from_millis(500));
        // Without an estimate the empty-bucket spacing is the conservative maximum.
        let mut unknown = BucketState::default();
        unknown.observe(t0, 0);
        assert_eq!(unknown.spacing(), MAX_SPACING);
        // Observations closer together than the window do not move the estimate.
        b.sent_since_obs = 1;
        b.observe(t0 + Duration::from_millis(1050), 0);
        assert_eq!(b.refill_per_s, Some(r));
    }

    #[tokio::test]
    async fn a_429_pause_delays_every_request_of_the_subscription() {
        let t = Throttle::new(4);
        let l = t.for_subscription("SUB");
        l.pause(Duration::from_millis(300));
        // Another task (same subscription, other bucket, other case) must wait too.
        let other = t.for_subscription("sub");
        let w = other.reserve(Bucket::Writes);
        assert!(w >= Duration::from_millis(250), "{w:?}");
        assert_eq!(
            t.for_subscription("other-sub").reserve(Bucket::Reads),
            Duration::ZERO
        );
    }

    /// A request whose wait for its slot is abandoned (a deadline) is not left counted in flight.
    #[tokio::test(start_paused = true)]
    async fn an_abandoned_wait_is_not_left_in_flight() {
        let t = Throttle::new(4);
        let l = t.for_subscription("sub");
        l.pause(Duration::from_secs(5));
        let r = tokio::time::timeout(Duration::from_millis(100), l.acquire(Bucket::Writes)).await;
        assert!(r.is_err(), "the wait outlasts the timeout");
        let in_flight = l.pace.lock().unwrap().writes.in_flight;
        assert_eq!(in_flight, 0);
    }

    /// A bucket of 10 write tokens refilling 2/s (ARM's answers report what is left): 40 writes
    /// sent by 8 workers finish within 1.25x of the (40 - 10) / 2 s the refill allows, and none
    /// is refused.
    #[tokio::test(start_paused = true)]
    async fn writes_are_paced_by_the_buckets_refill_counting_requests_in_flight() {
        struct Sim {
            tokens: f64,
            at: Instant,
            refused: u32,
        }
        const CAPACITY: f64 = 10.0;
        const REFILL: f64 = 2.0;
        let t = Arc::new(Throttle::new(8));
        let start = Instant::now();
        let sim = Arc::new(Mutex::new(Sim {
            tokens: CAPACITY,
            at: start,
            refused: 0,
        }));
        let queue = Arc::new(Mutex::new(40u32));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (t, sim, queue) = (t.clone(), sim.clone(), queue.clone());
                tokio::spawn(async move {
                    let l = t.for_subscription("sub");
                    loop {
                        {
                            let mut q = queue.lock().unwrap();
                            if *q == 0 {
                                return;
                            }
                            *q -= 1;
                        }
                        loop {
                            let (permit, _) = l.acquire(Bucket::Writes).await;
                            // ARM charges the request when it arrives, answers 50 ms later.
                            let answer = {
                                let mut s = sim.lock().unwrap();
                                let now = Instant::now();
                                let dt = now.saturating_duration_since(s.at).as_secs_f64();
                                s.tokens = (s.tokens + dt * REFILL).min(CAPACITY);
                                s.at = now;
                                if s.tokens >= 1.0 {
                                    s.tokens -= 1.0;
                                    Some(s.tokens.floor() as u64)
                                } else {
                                    s.refused += 1;
                                    None
                                }
                            };
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            drop(permit);
                            match answer {
                                Some(left) => {
                                    l.observe(Bucket::Writes, None, Some(left));
                                    break;
                                }
                                None => {
                                    l.observe(Bucket::Writes, None, Some(0));
                                    l.pause(Duration::from_secs(1));
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.await.unwrap();
        }
        let took = Instant::now()
            .saturating_duration_since(start)
            .as_secs_f64();
        let bound = (40.0 - CAPACITY) / REFILL;
        let refused = sim.lock().unwrap().refused;
        assert_eq!(refused, 0, "ARM refused {refused} writes (429)");
        assert!(
            took <= 1.25 * bound,
            "40 writes took {took:.2} s, {:.2}x the {bound} s the refill allows",
            took / bound
        );
    }

    #[test]
    fn subscription_is_parsed_from_paths() {
        assert_eq!(
            subscription_of("/subscriptions/abc/resourceGroups/g/providers/x"),
            "abc"
        );
        assert_eq!(subscription_of("/providers/x"), "");
    }
}
