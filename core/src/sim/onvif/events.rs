//! PullPoint subscriptions with a simulated motion detector.
//!
//! Each subscription sees the detector's state as real cameras report it: first an
//! `Initialized` message with the current state (no motion), then a `Changed` message every
//! `motion_period`, alternating motion on and off. The schedule is per subscription, so a test
//! knows what it will receive without racing a global clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use jiff::{SignedDuration, Timestamp};

use super::soap::{Fault, xsd_time};

/// Subscriptions kept at once; creating one more evicts expired ones, then refuses.
const MAX_SUBSCRIPTIONS: usize = 32;
/// Longest PullMessages wait the sim grants, whatever the client asks for.
const MAX_PULL_WAIT: Duration = Duration::from_secs(30);
/// Subscription lifetimes are clamped to this range.
const MIN_TERMINATION: Duration = Duration::from_secs(10);
const MAX_TERMINATION: Duration = Duration::from_secs(3600);

struct Subscription {
    created: Instant,
    expires: Instant,
    /// Messages of the schedule already delivered.
    delivered: u64,
}

/// All live subscriptions of one sim.
pub(crate) struct Subscriptions {
    period: Duration,
    next_id: Mutex<u64>,
    subs: Mutex<HashMap<u64, Subscription>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn unknown_subscription() -> Fault {
    Fault {
        status: 400,
        code: "env:Sender",
        subcodes: vec!["wsrf-rw:ResourceUnknownFault"],
        reason: "No such subscription (expired or unsubscribed)".into(),
    }
}

impl Subscriptions {
    pub(crate) fn new(period: Duration) -> Self {
        Subscriptions {
            period: period.max(Duration::from_millis(100)),
            next_id: Mutex::new(1),
            subs: Mutex::new(HashMap::new()),
        }
    }

    /// Creates a subscription living `termination` (clamped); returns its id and lifetime.
    pub(crate) fn create(&self, termination: Duration) -> Result<(u64, Duration), Fault> {
        let life = termination.clamp(MIN_TERMINATION, MAX_TERMINATION);
        let now = Instant::now();
        let mut subs = lock(&self.subs);
        subs.retain(|_, s| s.expires > now);
        if subs.len() >= MAX_SUBSCRIPTIONS {
            return Err(Fault {
                status: 500,
                code: "env:Receiver",
                subcodes: vec!["ter:Action", "ter:MaxPullPointsReached"],
                reason: "Too many PullPoint subscriptions".into(),
            });
        }
        let id = {
            let mut n = lock(&self.next_id);
            let id = *n;
            *n = n.wrapping_add(1);
            id
        };
        subs.insert(
            id,
            Subscription {
                created: now,
                expires: now + life,
                delivered: 0,
            },
        );
        Ok((id, life))
    }

    /// Extends a subscription; returns the new lifetime from now.
    pub(crate) fn renew(&self, id: u64, termination: Duration) -> Result<Duration, Fault> {
        let life = termination.clamp(MIN_TERMINATION, MAX_TERMINATION);
        let now = Instant::now();
        let mut subs = lock(&self.subs);
        match subs.get_mut(&id) {
            Some(s) if s.expires > now => {
                s.expires = now + life;
                Ok(life)
            }
            _ => Err(unknown_subscription()),
        }
    }

    pub(crate) fn remove(&self, id: u64) -> Result<(), Fault> {
        lock(&self.subs)
            .remove(&id)
            .map(|_| ())
            .ok_or_else(unknown_subscription)
    }

    /// Time left before the subscription expires.
    pub(crate) fn remaining(&self, id: u64) -> Option<Duration> {
        let now = Instant::now();
        lock(&self.subs)
            .get(&id)
            .and_then(|s| s.expires.checked_duration_since(now))
    }

    /// How many schedule messages are due for a subscription created at `created`.
    fn due(&self, created: Instant, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(created);
        let periods = elapsed.as_nanos() / self.period.as_nanos().max(1);
        1 + u64::try_from(periods).unwrap_or(u64::MAX - 1)
    }

    /// PullMessages: waits up to `wait` (capped) for messages and returns up to `limit` of
    /// them as `(index in the schedule, time it happened)`.
    pub(crate) async fn pull(
        &self,
        id: u64,
        wait: Duration,
        limit: u32,
    ) -> Result<Vec<(u64, Instant)>, Fault> {
        let deadline = Instant::now() + wait.min(MAX_PULL_WAIT);
        let limit = u64::from(limit.max(1));
        loop {
            let now = Instant::now();
            let next_due_at = {
                let mut subs = lock(&self.subs);
                let s = match subs.get_mut(&id) {
                    Some(s) if s.expires > now => s,
                    _ => return Err(unknown_subscription()),
                };
                let due = self.due(s.created, now);
                if due > s.delivered {
                    let end = due.min(s.delivered.saturating_add(limit));
                    let out: Vec<_> = (s.delivered..end)
                        .map(|i| (i, s.created + self.event_offset(i)))
                        .collect();
                    s.delivered = end;
                    return Ok(out);
                }
                s.created + self.event_offset(s.delivered)
            };
            if now >= deadline {
                return Ok(Vec::new());
            }
            tokio::time::sleep_until(next_due_at.min(deadline)).await;
        }
    }

    fn event_offset(&self, index: u64) -> Duration {
        self.period
            .checked_mul(u32::try_from(index).unwrap_or(u32::MAX))
            .unwrap_or(MAX_TERMINATION)
    }
}

/// One `wsnt:NotificationMessage` for schedule message `index` that happened at `at` (camera
/// clock `camera_now` corresponds to `Instant::now()`).
pub(crate) fn notification(index: u64, at: Instant, camera_now: Timestamp) -> String {
    let ago = Instant::now().saturating_duration_since(at);
    let t = camera_now
        .checked_sub(SignedDuration::try_from(ago).unwrap_or(SignedDuration::ZERO))
        .unwrap_or(camera_now);
    let (op, motion) = if index == 0 {
        ("Initialized", false)
    } else {
        ("Changed", index % 2 == 1)
    };
    format!(
        concat!(
            "<wsnt:NotificationMessage>",
            r#"<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>"#,
            r#"<wsnt:Message><tt:Message UtcTime="{time}" PropertyOperation="{op}">"#,
            r#"<tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="vsc0"/><tt:SimpleItem Name="VideoAnalyticsConfigurationToken" Value="vac0"/><tt:SimpleItem Name="Rule" Value="MotionRule"/></tt:Source>"#,
            r#"<tt:Data><tt:SimpleItem Name="IsMotion" Value="{motion}"/></tt:Data>"#,
            "</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
        ),
        time = time_millis(t),
        op = op,
        motion = motion
    )
}

/// `xsd:dateTime` with milliseconds, as event timestamps usually are.
fn time_millis(t: Timestamp) -> String {
    let base = xsd_time(t);
    let ms = t.subsec_millisecond().unsigned_abs();
    match base.strip_suffix('Z') {
        Some(b) => format!("{b}.{ms:03}Z"),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn schedule_initialized_then_alternating() {
        let subs = Subscriptions::new(Duration::from_secs(2));
        let (id, life) = subs.create(Duration::from_secs(60)).unwrap();
        assert_eq!(life, Duration::from_secs(60));
        let first = subs.pull(id, Duration::from_secs(5), 10).await.unwrap();
        assert_eq!(first.iter().map(|e| e.0).collect::<Vec<_>>(), vec![0]);
        // Nothing new at once: waits for the next change (2 s) within a 5 s pull.
        let second = subs.pull(id, Duration::from_secs(5), 10).await.unwrap();
        assert_eq!(second.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1]);
        // A short pull that ends before the next change returns nothing.
        assert!(
            subs.pull(id, Duration::from_millis(500), 10)
                .await
                .unwrap()
                .is_empty()
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        let capped = subs.pull(id, Duration::from_secs(1), 2).await.unwrap();
        assert_eq!(capped.len(), 2);
        let n = notification(1, Instant::now(), Timestamp::now());
        assert!(n.contains(r#"Name="IsMotion" Value="true""#), "{n}");
        assert!(notification(0, Instant::now(), Timestamp::now()).contains("Initialized"));
        subs.renew(id, Duration::from_secs(1)).unwrap();
        subs.remove(id).unwrap();
        assert!(subs.pull(id, Duration::from_secs(1), 1).await.is_err());
        assert!(subs.renew(id, Duration::from_secs(60)).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn bounded_and_expiring() {
        let subs = Subscriptions::new(Duration::from_secs(2));
        for _ in 0..MAX_SUBSCRIPTIONS {
            subs.create(Duration::from_secs(10)).unwrap();
        }
        assert!(subs.create(Duration::from_secs(10)).is_err());
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(subs.create(Duration::from_secs(10)).is_ok());
    }
}
