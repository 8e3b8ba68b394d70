//! What a Raft run looked like, for charts and trace export: each node's role and term over time,
//! when it was down or paused, partitions, every fault, each client operation, and each node's
//! commit index as a time series. Kept only when the run records ([`simcore::Ctx::timeline`]);
//! nothing here changes the run.
//!
//! Timeline conventions (read by the Raft charts and documented in docs/report.md):
//! - group `hosts`, one track per node: spans of category `role` named `ROLE tTERM`
//!   (`leader t3`), `down` spans named `crashed`, `paused` spans named `paused`;
//! - group `network`, track `partitions`: `partition` spans named `partition SHAPE`; and a track
//!   per node: `side` spans from a partition to its heal, named `side A`, `side B`, ... (nodes
//!   that can exchange messages with the same nodes share a side) or `both sides` (a bridge);
//! - group `faults`, track `faults`: `fault` instants named as the action (`crash n3`);
//! - group `clients`, one track per client: `op` spans named `OP OUTCOME` (`put ok`, `cas false`, `get info`).
//! - history `RAFT.commit_index_NODE` (not a metric): the node's commit index over time.

use simcore::{Ctx, SimTime, TraceEvent};

use super::Role;
use super::types::Term;

/// What a node is doing, as drawn on its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeState {
    Down,
    Paused,
    Up(Role, Term),
}

impl NodeState {
    fn category(self) -> &'static str {
        match self {
            NodeState::Down => "down",
            NodeState::Paused => "paused",
            NodeState::Up(..) => "role",
        }
    }

    fn name(self) -> String {
        match self {
            NodeState::Down => "crashed".into(),
            NodeState::Paused => "paused".into(),
            NodeState::Up(role, term) => format!("{} t{term}", role_name(role)),
        }
    }
}

pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Follower => "follower",
        Role::PreCandidate => "precandidate",
        Role::Candidate => "candidate",
        Role::Leader => "leader",
    }
}

/// Open spans and last values, per node.
#[derive(Debug)]
pub(crate) struct Recorder {
    raft: String,
    nodes: Vec<String>,
    state: Vec<Option<(NodeState, SimTime)>>,
    commit: Vec<Option<u64>>,
    partition: Option<(String, SimTime)>,
    /// Each node's side of the current partition (see [`Recorder::partition`]), since when.
    sides: Vec<Option<(String, SimTime)>>,
}

impl Recorder {
    pub(crate) fn new(raft: &str, nodes: &[String]) -> Self {
        Recorder {
            raft: raft.to_string(),
            nodes: nodes.to_vec(),
            state: vec![None; nodes.len()],
            commit: vec![None; nodes.len()],
            partition: None,
            sides: vec![None; nodes.len()],
        }
    }

    /// Node `id` is now in `state` (a no-op when nothing changed).
    pub(crate) fn node<E: TraceEvent>(
        &mut self,
        id: usize,
        state: NodeState,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let Some(tl) = ctx.timeline() else { return };
        let Some(slot) = self.state.get_mut(id) else {
            return;
        };
        if slot.is_some_and(|(s, _)| s == state) {
            return;
        }
        let track = tl.track("hosts", &self.nodes[id]);
        if let Some((old, since)) = slot.take() {
            tl.span(track, old.category(), old.name(), since, now);
        }
        *slot = Some((state, now));
    }

    /// Node `id`'s commit index is `index` (added to its history when it changed).
    pub(crate) fn commit<E: TraceEvent>(&mut self, id: usize, index: u64, ctx: &mut Ctx<'_, E>) {
        if !ctx.recording() || self.commit.get(id).is_none_or(|c| *c == Some(index)) {
            return;
        }
        self.commit[id] = Some(index);
        let now = ctx.now();
        let name = format!("commit_index_{}", self.nodes[id]);
        // A history, not a metric: a recorded run prints the same metrics as any other.
        ctx.metrics()
            .history_point(&self.raft, &name, now, index as f64);
    }

    /// A fault happened: an instant named as the action.
    pub(crate) fn fault<E: TraceEvent>(&mut self, name: impl Into<String>, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        if let Some(tl) = ctx.timeline() {
            let track = tl.track("faults", "faults");
            tl.instant(track, "fault", name, now);
        }
    }

    /// The network is now partitioned as `shape`, each node on the side `sides` gives it (as
    /// `Partition::sides` numbers them; None: healed).
    pub(crate) fn partition<E: TraceEvent>(
        &mut self,
        now_partitioned: Option<(String, &[Option<usize>])>,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let Some(tl) = ctx.timeline() else { return };
        self.close_partition(tl, now);
        let Some((shape, sides)) = now_partitioned else {
            return;
        };
        self.partition = Some((shape, now));
        for (slot, side) in self.sides.iter_mut().zip(sides) {
            *slot = Some((side_name(*side), now));
        }
    }

    /// Ends the partition span and the nodes' side spans, if open.
    fn close_partition(&mut self, tl: &mut simcore::Timeline, now: SimTime) {
        if let Some((old, since)) = self.partition.take() {
            let track = tl.track("network", "partitions");
            tl.span(track, "partition", format!("partition {old}"), since, now);
        }
        for (id, slot) in self.sides.iter_mut().enumerate() {
            if let Some((side, since)) = slot.take() {
                let track = tl.track("network", &self.nodes[id]);
                tl.span(track, "side", side, since, now);
            }
        }
    }

    /// A client's operation ended (`outcome` ok, fail or info).
    pub(crate) fn op<E: TraceEvent>(
        &mut self,
        client: &str,
        what: &str,
        start: SimTime,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        if let Some(tl) = ctx.timeline() {
            let track = tl.track("clients", client);
            tl.span(track, "op", what, start, now);
        }
    }

    /// The run ended: close every open span at the end.
    pub(crate) fn finish<E: TraceEvent>(&mut self, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        let Some(tl) = ctx.timeline() else { return };
        for (id, slot) in self.state.iter_mut().enumerate() {
            if let Some((s, since)) = slot.take() {
                let track = tl.track("hosts", &self.nodes[id]);
                tl.span(track, s.category(), s.name(), since, now);
            }
        }
        self.close_partition(tl, now);
    }
}

/// A side's name on the chart: `side A` for side 0, ..., `both sides` for a node on none.
fn side_name(side: Option<usize>) -> String {
    match side {
        Some(k) if k < 26 => format!("side {}", char::from(b'A' + k as u8)),
        Some(k) => format!("side {}", k + 1),
        None => "both sides".to_string(),
    }
}
