//! A durable message queue with Amazon SQS's semantics (sans-IO: the caller passes the time).
//!
//! - **At-least-once delivery.** [`Queue::receive`] hands out up to ten visible messages and
//!   makes each invisible for the visibility timeout. A consumer that finishes deletes the
//!   message with the receipt handle it got; one that crashes (or is slower than the timeout)
//!   does not, so the message becomes visible again and is delivered again.
//! - **Receipt handles.** Each receive of a message issues a new handle, and only the latest
//!   deletes it: SQS answers a delete with an older handle with success but may not delete the
//!   message; here [`Delete::Stale`] says so explicitly, so a slow first consumer cannot delete
//!   the copy a second consumer is working on.
//! - **Dead-letter queue.** With a redrive policy (`max_receive_count`), a message already
//!   received that many times is not delivered again: the receive that would have delivered it
//!   moves it out instead and returns it in [`Received::dead_lettered`], for the caller to send
//!   to its dead-letter queue (another [`Queue`]). As in SQS the move happens at a receive.
//! - **Retention.** A message older than the retention period (from its send) is deleted,
//!   whether visible or in flight.
//! - **Delay.** A message sent with a delay (the queue's, or its own) is invisible until then.
//! - **Order.** SQS promises no order for a standard queue; this one delivers in the order
//!   messages became visible (ties by send order), which is one order SQS may produce. A FIFO
//!   queue delivers each message group in send order and holds a group back while any of its
//!   messages is in flight or delayed, so one group's messages are processed one batch at a time
//!   in order while other groups proceed. (FIFO deduplication is not modelled.)
//!
//! Costs: send, delete and a standard receive are O(log n) per message; a FIFO receive scans
//! the queue in send order (O(n)); [`Queue::stats`] is O(n).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use simcore::{SimDuration, SimTime};

/// A message's identity: send order, from 0.
pub type MessageId = u64;

/// The most messages one receive returns (SQS's limit).
pub const MAX_BATCH: usize = 10;

/// A queue's configuration, with SQS's limits checked by [`Queue::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    /// Default 30 s; at most 12 h.
    pub visibility_timeout: SimDuration,
    /// Default 4 days; 60 s to 14 days.
    pub retention: SimDuration,
    /// The delay of a message sent without its own; at most 15 min.
    pub delay: SimDuration,
    /// The redrive policy's maxReceiveCount (1 to 1000); None: no dead-letter queue.
    pub max_receive_count: Option<u32>,
    pub fifo: bool,
}

impl Default for QueueConfig {
    /// SQS's defaults for a standard queue without a dead-letter queue.
    fn default() -> Self {
        QueueConfig {
            visibility_timeout: SimDuration::from_secs(30),
            retention: SimDuration::from_secs(4 * 86_400),
            delay: SimDuration::ZERO,
            max_receive_count: None,
            fifo: false,
        }
    }
}

const MAX_VISIBILITY: SimDuration = SimDuration::from_secs(12 * 3600);
const MIN_RETENTION: SimDuration = SimDuration::from_secs(60);
const MAX_RETENTION: SimDuration = SimDuration::from_secs(14 * 86_400);
const MAX_DELAY: SimDuration = SimDuration::from_secs(15 * 60);

/// A configuration or a request SQS would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("queue: the visibility timeout {0} exceeds SQS's 12 hours")]
    VisibilityTooLong(SimDuration),
    #[error("queue: the retention period {0} is outside SQS's 60 s to 14 days")]
    RetentionOutOfRange(SimDuration),
    #[error("queue: the delay {0} exceeds SQS's 15 minutes")]
    DelayTooLong(SimDuration),
    #[error("queue: max_receive_count {0} is outside SQS's 1 to 1000")]
    MaxReceiveOutOfRange(u32),
    #[error("queue: a receive asks for 1 to 10 messages, not {0}")]
    BadBatch(usize),
    #[error("queue: a FIFO queue needs a message group on every send, a standard queue none")]
    GroupMismatch,
    #[error("queue: the receipt handle is not the message's latest, or the message is gone")]
    InvalidReceipt,
    #[error("queue: the message is not in flight (its visibility timeout has passed)")]
    NotInFlight,
}

/// The handle of one receive of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Receipt {
    pub message: MessageId,
    nonce: u64,
}

/// A message as delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery<T> {
    pub receipt: Receipt,
    pub body: T,
    pub sent_at: SimTime,
    /// This delivery included (1 on the first).
    pub receive_count: u32,
    pub group: Option<u64>,
}

/// A message moved out by the redrive policy.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter<T> {
    pub id: MessageId,
    pub body: T,
    pub sent_at: SimTime,
    pub receive_count: u32,
    pub group: Option<u64>,
}

/// One receive's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Received<T> {
    pub messages: Vec<Delivery<T>>,
    pub dead_lettered: Vec<DeadLetter<T>>,
}

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delete {
    Deleted,
    /// The message was received again since this handle was issued: not deleted.
    Stale,
    /// The message is no longer in the queue (deleted, expired or dead-lettered).
    Gone,
}

/// What the queue holds at an instant, and what it has done (cumulative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    /// Age of the oldest message still in the queue, in any state.
    pub oldest_age: Option<SimDuration>,
    pub sent: u64,
    pub delivered: u64,
    pub deleted: u64,
    pub expired: u64,
    pub dead_lettered: u64,
}

#[derive(Debug, Clone)]
struct Message<T> {
    body: T,
    sent_at: SimTime,
    visible_at: SimTime,
    receive_count: u32,
    /// The latest receipt's nonce (0: never received).
    nonce: u64,
    group: Option<u64>,
}

/// A queue of messages of type `T`.
#[derive(Debug, Clone)]
pub struct Queue<T> {
    config: QueueConfig,
    messages: BTreeMap<MessageId, Message<T>>,
    /// Every message keyed by when it is (or became) visible: the standard receive's order.
    by_visible: BTreeSet<(SimTime, MessageId)>,
    next_id: MessageId,
    next_nonce: u64,
    counts: QueueStats,
}

impl<T: Clone> Queue<T> {
    pub fn new(config: QueueConfig) -> Result<Self, QueueError> {
        if config.visibility_timeout > MAX_VISIBILITY {
            return Err(QueueError::VisibilityTooLong(config.visibility_timeout));
        }
        if config.retention < MIN_RETENTION || config.retention > MAX_RETENTION {
            return Err(QueueError::RetentionOutOfRange(config.retention));
        }
        if config.delay > MAX_DELAY {
            return Err(QueueError::DelayTooLong(config.delay));
        }
        match config.max_receive_count {
            Some(m) if !(1..=1000).contains(&m) => {
                return Err(QueueError::MaxReceiveOutOfRange(m));
            }
            _ => {}
        }
        Ok(Queue {
            config,
            messages: BTreeMap::new(),
            by_visible: BTreeSet::new(),
            next_id: 0,
            next_nonce: 1,
            counts: QueueStats::default(),
        })
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// Sends `body` at `now`, visible after `delay` (the queue's when None). A FIFO queue needs
    /// a `group`, a standard one takes none. Times passed to one queue must not go backwards.
    pub fn send(
        &mut self,
        now: SimTime,
        body: T,
        delay: Option<SimDuration>,
        group: Option<u64>,
    ) -> Result<MessageId, QueueError> {
        let delay = delay.unwrap_or(self.config.delay);
        if delay > MAX_DELAY {
            return Err(QueueError::DelayTooLong(delay));
        }
        if group.is_some() != self.config.fifo {
            return Err(QueueError::GroupMismatch);
        }
        debug_assert!(
            self.messages
                .last_key_value()
                .is_none_or(|(_, m)| m.sent_at <= now),
            "sends must come in time order (retention expires by id)"
        );
        self.expire(now);
        let id = self.next_id;
        self.next_id += 1;
        let visible_at = now.saturating_add(delay);
        self.messages.insert(
            id,
            Message {
                body,
                sent_at: now,
                visible_at,
                receive_count: 0,
                nonce: 0,
                group,
            },
        );
        self.by_visible.insert((visible_at, id));
        self.counts.sent += 1;
        self.check();
        Ok(id)
    }

    /// Receives up to `max` (1 to 10) visible messages at `now`, each then invisible for the
    /// visibility timeout. Empty when none is visible: the caller may poll again at
    /// [`Queue::next_visible_at`] (long polling).
    pub fn receive(&mut self, now: SimTime, max: usize) -> Result<Received<T>, QueueError> {
        if !(1..=MAX_BATCH).contains(&max) {
            return Err(QueueError::BadBatch(max));
        }
        self.expire(now);
        let mut out = Received {
            messages: Vec::new(),
            dead_lettered: Vec::new(),
        };
        if self.config.fifo {
            for id in self.fifo_candidates(now) {
                if out.messages.len() == max {
                    break;
                }
                self.take(id, now, &mut out);
            }
        } else {
            // Walk the visible messages in order with a cursor, since a message just delivered
            // with a zero visibility timeout is visible again at `now` and must not come twice.
            let mut cursor = Bound::Unbounded;
            while out.messages.len() < max {
                let range = (cursor, Bound::Included((now, MessageId::MAX)));
                let Some(&(t, id)) = self.by_visible.range(range).next() else {
                    break;
                };
                cursor = Bound::Excluded((t, id));
                if out.messages.iter().all(|d| d.receipt.message != id) {
                    self.take(id, now, &mut out);
                }
            }
        }
        self.check();
        Ok(out)
    }

    /// A FIFO queue's deliverable messages in send order: each group's messages up to its first
    /// one in flight or delayed, which holds the rest of that group back.
    fn fifo_candidates(&self, now: SimTime) -> Vec<MessageId> {
        let mut blocked = BTreeSet::new();
        let mut out = Vec::new();
        for (&id, m) in &self.messages {
            if blocked.contains(&m.group) {
                continue;
            }
            if m.visible_at > now {
                blocked.insert(m.group);
            } else {
                out.push(id);
            }
        }
        out
    }

    /// Delivers visible message `id`, or dead-letters it when it has had its receives.
    fn take(&mut self, id: MessageId, now: SimTime, out: &mut Received<T>) {
        let Some(m) = self.messages.get_mut(&id) else {
            return;
        };
        debug_assert!(m.visible_at <= now, "taking an invisible message");
        if self
            .config
            .max_receive_count
            .is_some_and(|max| m.receive_count >= max)
        {
            let visible_at = m.visible_at;
            if let Some(m) = self.messages.remove(&id) {
                self.by_visible.remove(&(visible_at, id));
                self.counts.dead_lettered += 1;
                out.dead_lettered.push(DeadLetter {
                    id,
                    body: m.body,
                    sent_at: m.sent_at,
                    receive_count: m.receive_count,
                    group: m.group,
                });
            }
            return;
        }
        self.by_visible.remove(&(m.visible_at, id));
        m.visible_at = now.saturating_add(self.config.visibility_timeout);
        m.receive_count += 1;
        m.nonce = self.next_nonce;
        self.next_nonce += 1;
        self.by_visible.insert((m.visible_at, id));
        self.counts.delivered += 1;
        out.messages.push(Delivery {
            receipt: Receipt {
                message: id,
                nonce: m.nonce,
            },
            body: m.body.clone(),
            sent_at: m.sent_at,
            receive_count: m.receive_count,
            group: m.group,
        });
    }

    /// Deletes the message `receipt` was issued for, if it is still that message's latest
    /// receipt (even after its visibility timeout, as long as nobody received it again).
    pub fn delete(&mut self, now: SimTime, receipt: Receipt) -> Delete {
        self.expire(now);
        let Some(m) = self.messages.get(&receipt.message) else {
            return Delete::Gone;
        };
        if m.nonce != receipt.nonce {
            return Delete::Stale;
        }
        self.by_visible.remove(&(m.visible_at, receipt.message));
        self.messages.remove(&receipt.message);
        self.counts.deleted += 1;
        self.check();
        Delete::Deleted
    }

    /// ChangeMessageVisibility: an in-flight message becomes visible `timeout` after `now`
    /// (a consumer extending its lease, or 0 to give the message back at once).
    pub fn change_visibility(
        &mut self,
        now: SimTime,
        receipt: Receipt,
        timeout: SimDuration,
    ) -> Result<(), QueueError> {
        if timeout > MAX_VISIBILITY {
            return Err(QueueError::VisibilityTooLong(timeout));
        }
        self.expire(now);
        let m = self
            .messages
            .get_mut(&receipt.message)
            .filter(|m| m.nonce == receipt.nonce)
            .ok_or(QueueError::InvalidReceipt)?;
        if m.visible_at <= now {
            return Err(QueueError::NotInFlight);
        }
        self.by_visible.remove(&(m.visible_at, receipt.message));
        m.visible_at = now.saturating_add(timeout);
        self.by_visible.insert((m.visible_at, receipt.message));
        Ok(())
    }

    /// The first time after `now` at which a message becomes visible (a delay ending, a
    /// visibility timeout passing): when a waiting consumer should poll again. For a FIFO queue
    /// this may be a message of a group still held back by an earlier one.
    pub fn next_visible_at(&self, now: SimTime) -> Option<SimTime> {
        let after = (Bound::Excluded((now, MessageId::MAX)), Bound::Unbounded);
        self.by_visible.range(after).next().map(|&(t, _)| t)
    }

    /// Deletes the messages past the retention period. Ids follow send times, so the expired
    /// messages are the lowest ids.
    fn expire(&mut self, now: SimTime) {
        while let Some((&id, m)) = self.messages.first_key_value() {
            if m.sent_at.saturating_add(self.config.retention) > now {
                break;
            }
            self.by_visible.remove(&(m.visible_at, id));
            self.messages.remove(&id);
            self.counts.expired += 1;
        }
    }

    /// Counts at `now` (after expiring what has passed retention).
    pub fn stats(&mut self, now: SimTime) -> QueueStats {
        self.expire(now);
        let mut s = QueueStats {
            visible: 0,
            in_flight: 0,
            delayed: 0,
            oldest_age: self
                .messages
                .first_key_value()
                .map(|(_, m)| now.saturating_since(m.sent_at)),
            ..self.counts
        };
        for m in self.messages.values() {
            if m.visible_at <= now {
                s.visible += 1;
            } else if m.receive_count == 0 {
                s.delayed += 1;
            } else {
                s.in_flight += 1;
            }
        }
        s
    }

    /// Messages in the queue in any state.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    fn check(&self) {
        debug_assert_eq!(self.messages.len(), self.by_visible.len());
        debug_assert_eq!(
            self.counts.sent,
            self.messages.len() as u64
                + self.counts.deleted
                + self.counts.expired
                + self.counts.dead_lettered,
            "every message sent is in the queue or left it one way"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimTime {
        SimTime::from_nanos(s * 1_000_000_000)
    }

    fn queue(config: QueueConfig) -> Queue<&'static str> {
        Queue::new(config).unwrap()
    }

    fn bodies<T: Clone>(r: &Received<T>) -> Vec<T> {
        r.messages.iter().map(|d| d.body.clone()).collect()
    }

    /// A consumer receives and crashes: the message is invisible for 30 s, then delivered
    /// again with receive count 2; the queue says when to poll.
    #[test]
    fn an_undeleted_message_is_redelivered_after_the_visibility_timeout() {
        let mut q = queue(QueueConfig::default());
        q.send(secs(0), "a", None, None).unwrap();
        let r = q.receive(secs(1), 10).unwrap();
        assert_eq!(bodies(&r), ["a"]);
        assert_eq!(r.messages[0].receive_count, 1);
        assert!(q.receive(secs(2), 10).unwrap().messages.is_empty());
        let s = q.stats(secs(2));
        assert_eq!((s.visible, s.in_flight, s.delayed), (0, 1, 0));
        assert_eq!(q.next_visible_at(secs(2)), Some(secs(31)));
        assert!(q.receive(secs(30), 10).unwrap().messages.is_empty());
        let r = q.receive(secs(31), 10).unwrap();
        assert_eq!(bodies(&r), ["a"]);
        assert_eq!(r.messages[0].receive_count, 2);
        assert_eq!(q.delete(secs(32), r.messages[0].receipt), Delete::Deleted);
        assert!(q.is_empty());
        let s = q.stats(secs(40));
        assert_eq!(
            (s.sent, s.delivered, s.deleted, s.oldest_age),
            (1, 2, 1, None)
        );
    }

    /// maxReceiveCount 3: three deliveries, and the receive that would make the fourth moves the
    /// message out instead (the next message in the batch is still delivered).
    #[test]
    fn a_message_goes_to_the_dead_letter_queue_after_max_receives() {
        let mut q = queue(QueueConfig {
            max_receive_count: Some(3),
            ..QueueConfig::default()
        });
        q.send(secs(0), "poison", None, None).unwrap();
        for k in 1..=3 {
            let r = q.receive(secs(100 * k), 10).unwrap();
            assert_eq!(r.messages[0].receive_count, k as u32);
            assert!(r.dead_lettered.is_empty());
        }
        q.send(secs(301), "fine", None, None).unwrap();
        let r = q.receive(secs(400), 10).unwrap();
        assert_eq!(bodies(&r), ["fine"]);
        assert_eq!(r.dead_lettered.len(), 1);
        assert_eq!(
            (r.dead_lettered[0].body, r.dead_lettered[0].receive_count),
            ("poison", 3)
        );
        let s = q.stats(secs(400));
        assert_eq!((s.dead_lettered, s.in_flight, s.visible), (1, 1, 0));
        // The caller's dead-letter queue takes it.
        let mut dlq = queue(QueueConfig::default());
        dlq.send(secs(400), r.dead_lettered[0].body, None, None)
            .unwrap();
        assert_eq!(dlq.stats(secs(400)).visible, 1);
    }

    /// The first consumer was too slow; the message went to a second. The first one's delete
    /// must not remove the message the second is working on; the second's does.
    #[test]
    fn a_stale_receipt_cannot_delete_a_redelivered_message() {
        let mut q = queue(QueueConfig::default());
        q.send(secs(0), "a", None, None).unwrap();
        let first = q.receive(secs(0), 1).unwrap().messages[0].receipt;
        let second = q.receive(secs(30), 1).unwrap().messages[0].receipt;
        assert_ne!(first, second);
        assert_eq!(q.delete(secs(31), first), Delete::Stale);
        assert_eq!(q.len(), 1);
        assert_eq!(
            q.change_visibility(secs(31), first, SimDuration::ZERO),
            Err(QueueError::InvalidReceipt)
        );
        assert_eq!(q.delete(secs(32), second), Delete::Deleted);
        assert_eq!(q.delete(secs(33), second), Delete::Gone);
        // The latest receipt deletes even after its timeout, if nobody received it since.
        q.send(secs(40), "b", None, None).unwrap();
        let r = q.receive(secs(40), 1).unwrap().messages[0].receipt;
        assert_eq!(q.delete(secs(100), r), Delete::Deleted);
    }

    /// A standard queue delivers in the order messages became visible: send order, a delayed
    /// message when its delay ends, a redelivery after the messages visible before it.
    #[test]
    fn standard_order_is_the_order_of_becoming_visible() {
        let mut q = queue(QueueConfig {
            visibility_timeout: SimDuration::from_secs(10),
            ..QueueConfig::default()
        });
        q.send(secs(0), "m0", None, None).unwrap();
        q.send(secs(0), "late", Some(SimDuration::from_secs(5)), None)
            .unwrap();
        q.send(secs(1), "m1", None, None).unwrap();
        assert_eq!(q.stats(secs(1)).delayed, 1);
        assert_eq!(bodies(&q.receive(secs(2), 1).unwrap()), ["m0"]);
        q.send(secs(3), "m2", None, None).unwrap();
        // m0 reappears at 12, after m1 (1), late (5) and m2 (3) became visible.
        assert_eq!(
            bodies(&q.receive(secs(20), 10).unwrap()),
            ["m1", "m2", "late", "m0"]
        );
        // Batches are capped at `max`.
        for i in 0..5 {
            q.send(secs(21), ["x0", "x1", "x2", "x3", "x4"][i], None, None)
                .unwrap();
        }
        assert_eq!(bodies(&q.receive(secs(21), 2).unwrap()), ["x0", "x1"]);
        assert_eq!(q.receive(secs(21), 11), Err(QueueError::BadBatch(11)));
    }

    /// A zero visibility timeout: the message is visible again at once, but one batch never
    /// holds it twice.
    #[test]
    fn zero_visibility_never_delivers_twice_in_a_batch() {
        let mut q = queue(QueueConfig {
            visibility_timeout: SimDuration::ZERO,
            ..QueueConfig::default()
        });
        q.send(secs(0), "a", None, None).unwrap();
        q.send(secs(0), "b", None, None).unwrap();
        assert_eq!(bodies(&q.receive(secs(1), 10).unwrap()), ["a", "b"]);
        assert_eq!(bodies(&q.receive(secs(1), 10).unwrap()), ["a", "b"]);
    }

    /// FIFO: each group in send order, held back while one of its messages is in flight; other
    /// groups go on. Releasing the lease (visibility 0) lets the group continue with the same
    /// message first.
    #[test]
    fn fifo_delivers_each_group_in_order_one_batch_at_a_time() {
        let mut q = queue(QueueConfig {
            fifo: true,
            ..QueueConfig::default()
        });
        assert_eq!(
            q.send(secs(0), "x", None, None),
            Err(QueueError::GroupMismatch)
        );
        for (body, g) in [("a1", 1), ("a2", 1), ("b1", 2), ("a3", 1), ("b2", 2)] {
            q.send(secs(0), body, None, Some(g)).unwrap();
        }
        let r = q.receive(secs(1), 1).unwrap();
        assert_eq!(bodies(&r), ["a1"]);
        // Group 1 is held back by a1 in flight; group 2 proceeds, both its messages in order.
        assert_eq!(bodies(&q.receive(secs(1), 10).unwrap()), ["b1", "b2"]);
        assert!(q.receive(secs(2), 10).unwrap().messages.is_empty());
        q.change_visibility(secs(2), r.messages[0].receipt, SimDuration::ZERO)
            .unwrap();
        let r = q.receive(secs(2), 2).unwrap();
        assert_eq!(bodies(&r), ["a1", "a2"]);
        for d in &r.messages {
            assert_eq!(q.delete(secs(3), d.receipt), Delete::Deleted);
        }
        assert_eq!(bodies(&q.receive(secs(3), 10).unwrap()), ["a3"]);
    }

    /// Retention deletes a message however it stands, in flight included; the age of the oldest
    /// message is measured from its send.
    #[test]
    fn retention_expires_messages_and_age_is_from_send() {
        let mut q = queue(QueueConfig {
            retention: SimDuration::from_secs(60),
            ..QueueConfig::default()
        });
        q.send(secs(0), "old", None, None).unwrap();
        q.send(secs(50), "new", None, None).unwrap();
        let r = q.receive(secs(55), 1).unwrap();
        assert_eq!(bodies(&r), ["old"]);
        assert_eq!(
            q.stats(secs(59)).oldest_age,
            Some(SimDuration::from_secs(59))
        );
        let s = q.stats(secs(60));
        assert_eq!((s.expired, s.in_flight, s.visible), (1, 0, 1));
        assert_eq!(s.oldest_age, Some(SimDuration::from_secs(10)));
        assert_eq!(q.delete(secs(61), r.messages[0].receipt), Delete::Gone);
    }

    #[test]
    fn bad_configurations_and_requests_are_refused() {
        let h = SimDuration::from_secs(3600);
        let bad = [
            (
                QueueConfig {
                    visibility_timeout: SimDuration::from_secs(13 * 3600),
                    ..QueueConfig::default()
                },
                QueueError::VisibilityTooLong(SimDuration::from_secs(13 * 3600)),
            ),
            (
                QueueConfig {
                    retention: SimDuration::from_secs(59),
                    ..QueueConfig::default()
                },
                QueueError::RetentionOutOfRange(SimDuration::from_secs(59)),
            ),
            (
                QueueConfig {
                    delay: h,
                    ..QueueConfig::default()
                },
                QueueError::DelayTooLong(h),
            ),
            (
                QueueConfig {
                    max_receive_count: Some(0),
                    ..QueueConfig::default()
                },
                QueueError::MaxReceiveOutOfRange(0),
            ),
        ];
        for (c, e) in bad {
            assert_eq!(Queue::<u8>::new(c).unwrap_err(), e);
        }
        let mut q = queue(QueueConfig::default());
        assert_eq!(
            q.send(secs(0), "a", Some(h), None),
            Err(QueueError::DelayTooLong(h))
        );
        q.send(secs(0), "a", None, None).unwrap();
        let r = q.receive(secs(0), 1).unwrap().messages[0].receipt;
        assert_eq!(
            q.change_visibility(secs(30), r, SimDuration::from_secs(5)),
            Err(QueueError::NotInFlight)
        );
        assert_eq!(q.receive(secs(0), 0), Err(QueueError::BadBatch(0)));
    }
}
