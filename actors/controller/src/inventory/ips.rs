//! Who held an IP when: the history of pod IPs, so that a usage record of a past minute is
//! attributed to the pod that had the IP then, even after the IP went to another pod.
//!
//! A tenure starts when the pod is created (or when the previous holder let the IP go, if
//! later) and ends when the pod is deleted (its `deletionTimestamp`, or when the Controller saw it
//! go), finishes, or changes IP. A closed tenure keeps the names the pod resolved to then; it is
//! forgotten `retention` after it ended.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use spider_model::WorkloadRef;

/// One minute, in nanoseconds.
pub const MINUTE_NS: i64 = 60_000_000_000;

/// Which pod holds or held an IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// A live pod, by uid (its names are looked up when asked).
    Live(Arc<str>),
    /// A pod gone or moved off this IP: its names as they were.
    Gone(Arc<WorkloadRef>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenure {
    pub from: i64,
    pub to: Option<i64>,
    pub holder: Holder,
}

impl Tenure {
    /// Nanoseconds of `[start, end)` this tenure covers.
    fn overlap(&self, start: i64, end: i64) -> i64 {
        let from = self.from.max(start);
        let to = self.to.unwrap_or(i64::MAX).min(end);
        (to - from).max(0)
    }
}

/// The tenures of every pod IP.
#[derive(Debug, Default)]
pub struct IpHistory {
    tenures: HashMap<IpAddr, Vec<Tenure>>,
    retention_ns: i64,
}

impl IpHistory {
    pub fn new(retention_ns: i64) -> Self {
        Self {
            tenures: HashMap::new(),
            retention_ns,
        }
    }

    /// Pod `uid` holds `ip` from `from` on. A different pod still holding it is closed at
    /// `from` with the names `resolve_gone` gives for it.
    pub fn open(
        &mut self,
        ip: IpAddr,
        from: i64,
        uid: &Arc<str>,
        resolve_gone: impl FnOnce(&str) -> WorkloadRef,
    ) {
        let list = self.tenures.entry(ip).or_default();
        if let Some(last) = list.last_mut() {
            match (&last.holder, last.to) {
                (Holder::Live(holder), None) if holder == uid => return,
                (Holder::Live(holder), None) => {
                    let gone = resolve_gone(holder);
                    last.to = Some(from.max(last.from));
                    last.holder = Holder::Gone(Arc::new(gone));
                }
                _ => {}
            }
        }
        let start = list
            .last()
            .and_then(|t| t.to)
            .map_or(from, |end| from.max(end));
        list.push(Tenure {
            from: start,
            to: None,
            holder: Holder::Live(Arc::clone(uid)),
        });
    }

    /// Pod `uid` let `ip` go at `at`; `names` are what it resolved to.
    pub fn close(&mut self, ip: IpAddr, at: i64, uid: &str, names: WorkloadRef) {
        if let Some(list) = self.tenures.get_mut(&ip) {
            for tenure in list.iter_mut().rev() {
                if tenure.to.is_none() && matches!(&tenure.holder, Holder::Live(h) if &**h == uid) {
                    tenure.to = Some(at.max(tenure.from));
                    tenure.holder = Holder::Gone(Arc::new(names));
                    return;
                }
            }
        }
    }

    /// The tenure that covers most of the minute starting at `minute` (the later one on a tie).
    pub fn at(&self, ip: IpAddr, minute: i64) -> Option<&Tenure> {
        let end = minute.saturating_add(MINUTE_NS);
        self.tenures
            .get(&ip)?
            .iter()
            .map(|t| (t.overlap(minute, end), t))
            .filter(|(overlap, _)| *overlap > 0)
            .max_by_key(|(overlap, t)| (*overlap, t.from))
            .map(|(_, t)| t)
    }

    /// The IPs pod `uid` holds now.
    pub fn open_ips_of(&self, uid: &str) -> Vec<IpAddr> {
        self.tenures
            .iter()
            .filter(|(_, list)| {
                list.iter()
                    .any(|t| t.to.is_none() && matches!(&t.holder, Holder::Live(h) if &**h == uid))
            })
            .map(|(ip, _)| *ip)
            .collect()
    }

    /// Forgets tenures that ended more than the retention before `now`.
    pub fn prune(&mut self, now: i64) {
        let horizon = now.saturating_sub(self.retention_ns);
        self.tenures.retain(|_, list| {
            list.retain(|t| t.to.is_none_or(|to| to >= horizon));
            !list.is_empty()
        });
    }

    /// How many IPs have a tenure.
    pub fn len(&self) -> usize {
        self.tenures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tenures.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn gone(name: &str) -> WorkloadRef {
        WorkloadRef {
            pod: Some(name.into()),
            ..WorkloadRef::default()
        }
    }

    #[test]
    fn reused_ip_resolves_by_minute() {
        let ip: IpAddr = "10.244.0.10".parse().unwrap();
        let a: Arc<str> = Arc::from("uid-a");
        let b: Arc<str> = Arc::from("uid-b");
        let mut history = IpHistory::new(3600 * 1_000_000_000);
        history.open(ip, 0, &a, |_| unreachable!());
        history.close(ip, 10 * MINUTE_NS + 20_000_000_000, "uid-a", gone("a"));
        history.open(ip, 12 * MINUTE_NS, &b, |_| unreachable!());
        assert_eq!(
            history.at(ip, 9 * MINUTE_NS).unwrap().holder,
            Holder::Gone(Arc::new(gone("a")))
        );
        assert_eq!(
            history.at(ip, 10 * MINUTE_NS).unwrap().holder,
            Holder::Gone(Arc::new(gone("a")))
        );
        assert!(history.at(ip, 11 * MINUTE_NS).is_none());
        assert_eq!(
            history.at(ip, 13 * MINUTE_NS).unwrap().holder,
            Holder::Live(b.clone())
        );
        // A new holder while the old one is still open closes it.
        let c: Arc<str> = Arc::from("uid-c");
        history.open(ip, 20 * MINUTE_NS, &c, |_| gone("b"));
        assert_eq!(
            history.at(ip, 19 * MINUTE_NS).unwrap().holder,
            Holder::Gone(Arc::new(gone("b")))
        );
        assert_eq!(
            history.at(ip, 21 * MINUTE_NS).unwrap().holder,
            Holder::Live(c)
        );
        history.prune(2 * 3600 * MINUTE_NS);
        assert_eq!(history.len(), 1);
    }
}
