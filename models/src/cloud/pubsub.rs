//! A publish/subscribe topic fanning each message out to its subscribers (Amazon SNS to SQS
//! queues), with SNS's attribute-based filter policies. Sans-IO: publishing says which
//! subscriptions get the message; [`Topic::fan_out`] also sends it into the caller's
//! [`Queue`]s.
//!
//! Each subscriber gets its own copy: deleting it from one queue leaves the others', so one
//! slow or failing consumer does not hold the rest back (the point of fanning out through
//! queues rather than calling each consumer).
//!
//! A filter policy, as SNS evaluates one on message attributes: a map from attribute names to
//! lists of conditions; a message matches when, for **every** name in the policy, its attribute
//! matches **at least one** condition of the list (AND across names, OR within a list). A
//! subscription without a policy gets every message. Conditions:
//!
//! - an exact string, or a prefix of one;
//! - `anything-but` a list of strings (the attribute must be present);
//! - a numeric comparison or range (`>= 0, < 100`), matching number attributes only;
//! - `exists: true / false`: the attribute is present, or absent (the only condition an
//!   absent attribute can match).
//!
//! A string-array attribute matches when any element does. SNS's limits are checked: at most 5
//! attribute names in a policy and at most 150 combinations of values (the product of the lists'
//! lengths).

use std::collections::BTreeMap;

use simcore::SimTime;

use super::queue::{MessageId, Queue, QueueError};

/// A message attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Str(String),
    Num(f64),
    StrArray(Vec<String>),
}

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One condition of a filter policy's list.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Exact(String),
    Prefix(String),
    AnythingBut(Vec<String>),
    /// Every comparison must hold: `[(Ge, 0.0), (Lt, 100.0)]` is the range [0, 100).
    Numeric(Vec<(Cmp, f64)>),
    Exists(bool),
}

/// A filter policy: attribute name → conditions, any of which may match.
pub type FilterPolicy = BTreeMap<String, Vec<Condition>>;

pub const MAX_POLICY_KEYS: usize = 5;
pub const MAX_POLICY_COMBINATIONS: usize = 150;

/// A filter policy SNS would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("filter policy: {0} attribute names, SNS allows at most 5")]
    TooManyKeys(usize),
    #[error("filter policy: {0} combinations of values, SNS allows at most 150")]
    TooManyCombinations(usize),
    #[error("filter policy: attribute {0} has an empty list of conditions")]
    EmptyList(String),
    #[error("filter policy: attribute {0} has a numeric condition without a finite number")]
    BadNumber(String),
}

fn validate(policy: &FilterPolicy) -> Result<(), PolicyError> {
    if policy.len() > MAX_POLICY_KEYS {
        return Err(PolicyError::TooManyKeys(policy.len()));
    }
    let mut combinations = 1usize;
    for (name, list) in policy {
        if list.is_empty() {
            return Err(PolicyError::EmptyList(name.clone()));
        }
        let numbers_ok = list.iter().all(|c| match c {
            Condition::Numeric(cmps) => !cmps.is_empty() && cmps.iter().all(|(_, x)| x.is_finite()),
            _ => true,
        });
        if !numbers_ok {
            return Err(PolicyError::BadNumber(name.clone()));
        }
        combinations = combinations.saturating_mul(list.len());
    }
    if combinations > MAX_POLICY_COMBINATIONS {
        return Err(PolicyError::TooManyCombinations(combinations));
    }
    Ok(())
}

impl Condition {
    /// Whether `value` (None: the attribute is absent) meets this condition.
    fn matches(&self, value: Option<&Attr>) -> bool {
        let Some(value) = value else {
            return *self == Condition::Exists(false);
        };
        match (self, value) {
            (Condition::Exists(e), _) => *e,
            (Condition::Numeric(cmps), Attr::Num(x)) => {
                cmps.iter().all(|&(c, y)| compare(*x, c, y))
            }
            (Condition::Numeric(_), _) => false,
            (_, Attr::Num(_)) => false,
            (_, Attr::Str(s)) => self.matches_str(s),
            (_, Attr::StrArray(v)) => v.iter().any(|s| self.matches_str(s)),
        }
    }

    fn matches_str(&self, s: &str) -> bool {
        match self {
            Condition::Exact(e) => s == e,
            Condition::Prefix(p) => s.starts_with(p.as_str()),
            Condition::AnythingBut(list) => list.iter().all(|x| x != s),
            Condition::Numeric(_) | Condition::Exists(_) => false,
        }
    }
}

fn compare(x: f64, c: Cmp, y: f64) -> bool {
    match c {
        Cmp::Eq => x == y,
        Cmp::Lt => x < y,
        Cmp::Le => x <= y,
        Cmp::Gt => x > y,
        Cmp::Ge => x >= y,
    }
}

/// Whether a message with `attrs` passes `policy`.
pub fn passes(policy: &FilterPolicy, attrs: &BTreeMap<String, Attr>) -> bool {
    policy
        .iter()
        .all(|(name, list)| list.iter().any(|c| c.matches(attrs.get(name))))
}

/// A subscription's identity: the order subscribed, from 0.
pub type SubscriptionId = usize;

#[derive(Debug, Clone)]
struct Subscription {
    /// The caller's endpoint: an index into its queues for [`Topic::fan_out`].
    endpoint: usize,
    policy: Option<FilterPolicy>,
    delivered: u64,
    filtered: u64,
}

/// A topic and its subscriptions.
#[derive(Debug, Clone, Default)]
pub struct Topic {
    subscriptions: Vec<Subscription>,
    published: u64,
}

/// A subscription's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionStats {
    pub endpoint: usize,
    pub delivered: u64,
    pub filtered: u64,
}

impl Topic {
    pub fn new() -> Self {
        Topic::default()
    }

    /// Subscribes `endpoint` (the caller's index of a queue or consumer), with an optional
    /// filter policy.
    pub fn subscribe(
        &mut self,
        endpoint: usize,
        policy: Option<FilterPolicy>,
    ) -> Result<SubscriptionId, PolicyError> {
        if let Some(p) = &policy {
            validate(p)?;
        }
        self.subscriptions.push(Subscription {
            endpoint,
            policy,
            delivered: 0,
            filtered: 0,
        });
        Ok(self.subscriptions.len() - 1)
    }

    /// Publishes a message with `attrs`: the endpoints of the subscriptions it passes, in
    /// subscription order.
    pub fn publish(&mut self, attrs: &BTreeMap<String, Attr>) -> Vec<usize> {
        self.published += 1;
        let mut out = Vec::new();
        for s in &mut self.subscriptions {
            if s.policy.as_ref().is_none_or(|p| passes(p, attrs)) {
                s.delivered += 1;
                out.push(s.endpoint);
            } else {
                s.filtered += 1;
            }
        }
        out
    }

    /// Publishes and sends a copy of `body` into each passing subscription's queue (endpoints
    /// index `queues`; `group` for FIFO queues). Returns (endpoint, message id) per copy; the
    /// first queue error stops the fan-out (copies already sent stay, as when SNS fails part
    /// way and retries). Panics if an endpoint is not an index of `queues` (a wiring bug).
    pub fn fan_out<T: Clone>(
        &mut self,
        now: SimTime,
        body: &T,
        attrs: &BTreeMap<String, Attr>,
        group: Option<u64>,
        queues: &mut [Queue<T>],
    ) -> Result<Vec<(usize, MessageId)>, QueueError> {
        self.publish(attrs)
            .into_iter()
            .map(|e| Ok((e, queues[e].send(now, body.clone(), None, group)?)))
            .collect()
    }

    pub fn published(&self) -> u64 {
        self.published
    }

    pub fn stats(&self) -> Vec<SubscriptionStats> {
        self.subscriptions
            .iter()
            .map(|s| SubscriptionStats {
                endpoint: s.endpoint,
                delivered: s.delivered,
                filtered: s.filtered,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::queue::{Delete, QueueConfig};
    use super::*;

    fn attrs(list: &[(&str, Attr)]) -> BTreeMap<String, Attr> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn policy(list: &[(&str, Vec<Condition>)]) -> FilterPolicy {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn s(x: &str) -> Attr {
        Attr::Str(x.to_string())
    }

    /// Each kind of condition, AND across names and OR within a list, string arrays, and what
    /// an absent attribute matches.
    #[test]
    fn filter_policies_match_as_sns_does() {
        use Condition::*;
        let p = policy(&[
            ("event", vec![Exact("order".into()), Prefix("pay".into())]),
            (
                "amount",
                vec![Numeric(vec![(Cmp::Ge, 100.0), (Cmp::Lt, 1000.0)])],
            ),
        ]);
        let yes = |a: &[(&str, Attr)]| passes(&p, &attrs(a));
        assert!(yes(&[("event", s("order")), ("amount", Attr::Num(100.0))]));
        assert!(yes(&[
            ("event", s("payment")),
            ("amount", Attr::Num(999.5))
        ]));
        assert!(!yes(&[
            ("event", s("refund")),
            ("amount", Attr::Num(500.0))
        ]));
        assert!(!yes(&[
            ("event", s("order")),
            ("amount", Attr::Num(1000.0))
        ]));
        assert!(!yes(&[("event", s("order"))]), "amount absent");
        assert!(
            !yes(&[("event", s("order")), ("amount", s("500"))]),
            "a string is not a number"
        );
        assert!(yes(&[
            ("event", Attr::StrArray(vec!["x".into(), "order".into()])),
            ("amount", Attr::Num(150.0))
        ]));

        let but = policy(&[("region", vec![AnythingBut(vec!["eu".into(), "us".into()])])]);
        assert!(passes(&but, &attrs(&[("region", s("ap"))])));
        assert!(!passes(&but, &attrs(&[("region", s("eu"))])));
        assert!(
            !passes(&but, &attrs(&[])),
            "anything-but needs the attribute"
        );

        let absent = policy(&[("debug", vec![Exists(false)])]);
        assert!(passes(&absent, &attrs(&[])));
        assert!(!passes(&absent, &attrs(&[("debug", s("1"))])));
        let present = policy(&[("debug", vec![Exists(true)])]);
        assert!(passes(&present, &attrs(&[("debug", Attr::Num(0.0))])));
        assert!(!passes(&present, &attrs(&[])));
    }

    /// Three queues subscribed, one filtered to large orders: a small order reaches two, a
    /// large one all three; each queue's copy is its own (deleting one leaves the others).
    #[test]
    fn fan_out_sends_an_independent_copy_to_each_passing_queue() {
        let mut queues: Vec<Queue<u32>> = (0..3)
            .map(|_| Queue::new(QueueConfig::default()).unwrap())
            .collect();
        let mut topic = Topic::new();
        topic.subscribe(0, None).unwrap();
        topic
            .subscribe(
                1,
                Some(policy(&[(
                    "amount",
                    vec![Condition::Numeric(vec![(Cmp::Gt, 1000.0)])],
                )])),
            )
            .unwrap();
        topic.subscribe(2, None).unwrap();
        let t = SimTime::ZERO;
        let small = attrs(&[("amount", Attr::Num(10.0))]);
        let large = attrs(&[("amount", Attr::Num(5000.0))]);
        let sent = topic.fan_out(t, &7, &small, None, &mut queues).unwrap();
        assert_eq!(sent.iter().map(|&(e, _)| e).collect::<Vec<_>>(), [0, 2]);
        let sent = topic.fan_out(t, &8, &large, None, &mut queues).unwrap();
        assert_eq!(sent.len(), 3);
        assert_eq!(
            queues.iter().map(|q| q.len()).collect::<Vec<_>>(),
            [2, 1, 2]
        );
        let r = queues[0].receive(t, 10).unwrap();
        for d in &r.messages {
            assert_eq!(queues[0].delete(t, d.receipt), Delete::Deleted);
        }
        assert_eq!(
            queues.iter().map(|q| q.len()).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(topic.published(), 2);
        let st = topic.stats();
        assert_eq!((st[1].delivered, st[1].filtered), (1, 1));
        assert_eq!((st[0].delivered, st[0].filtered), (2, 0));
        // A FIFO queue needs a group: the fan-out reports the queue's error.
        let mut fifo = vec![
            Queue::new(QueueConfig {
                fifo: true,
                ..QueueConfig::default()
            })
            .unwrap(),
        ];
        let mut t2 = Topic::new();
        t2.subscribe(0, None).unwrap();
        assert_eq!(
            t2.fan_out(t, &1u32, &small, None, &mut fifo),
            Err(QueueError::GroupMismatch)
        );
        assert_eq!(
            t2.fan_out(t, &1u32, &small, Some(3), &mut fifo)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn policies_beyond_sns_limits_are_refused() {
        use Condition::*;
        let mut t = Topic::new();
        let six: FilterPolicy = (0..6)
            .map(|i| (format!("k{i}"), vec![Exists(true)]))
            .collect();
        assert_eq!(t.subscribe(0, Some(six)), Err(PolicyError::TooManyKeys(6)));
        let wide = policy(&[
            ("a", (0..20).map(|i| Exact(i.to_string())).collect()),
            ("b", (0..8).map(|i| Exact(i.to_string())).collect()),
        ]);
        assert_eq!(
            t.subscribe(0, Some(wide)),
            Err(PolicyError::TooManyCombinations(160))
        );
        assert_eq!(
            t.subscribe(0, Some(policy(&[("a", vec![])]))),
            Err(PolicyError::EmptyList("a".into()))
        );
        assert_eq!(
            t.subscribe(
                0,
                Some(policy(&[("a", vec![Numeric(vec![(Cmp::Lt, f64::NAN)])])]))
            ),
            Err(PolicyError::BadNumber("a".into()))
        );
        assert_eq!(t.subscribe(0, None), Ok(0));
    }
}
