//! `native run FILE.scn`: a Raft scenario on the real machine. One OS process per node (this
//! binary's `node` subcommand, [`crate::node`]), real UDP on loopback, a log file per node fsynced
//! on a real disk, and the scenario's clients and fault schedule driven here with the monotonic
//! clock. The parts of the world around the cluster are the simulator's own: the clients
//! (`models::raft` client and workload) keep the simulated load's pace ([`Pacer`]), the fault
//! plan is carried out by [`FaultState::apply`] (whom each step hits, drawn from the same
//! stream, and what ending a `during` window undoes) with this runner as its [`Nemesis`] —
//! crashes as SIGKILL (and a restart from the node's own log), pauses as SIGSTOP/SIGCONT,
//! partitions and loss applied by the nodes at their sockets — and the liveness expectations
//! are the simulator's [`Obligations`].
//!
//! At the end the same checks as in the simulator run on what the machine did: the clients'
//! history for linearizability (the same checker), every acknowledged write in the most
//! advanced node's durable log, Raft's election safety (from the nodes' reports) and log
//! matching over the committed prefixes of the logs on disk, and the scenario's liveness
//! expectations.
//!
//! Nothing is left behind: every child is killed and reaped and the run's directory removed
//! when the run ends, fails, panics or is interrupted (Ctrl-C, SIGTERM, SIGHUP), and each node
//! also dies with its runner (a parent-death signal), even if the runner is SIGKILLed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use models::network::{Partition, Shape};
use models::raft::client::{
    Answer, Client, ClientAction, HistoryEvent, history_text, linearizability_problems,
};
use models::raft::cluster::{ClusterConfig, LoadConfig};
use models::raft::workload::Workload;
use models::raft::{Entry, NodeId, Payload, Role, Term};
use models::world::WorldConfig;
use models::world::faults::{Fault, FaultState, Nemesis};
use models::world::liveness::Obligations;
use models::world::load::Pacer;
use simcore::{Dist, RngStream, SimDuration, SimTime};

use crate::control::Control;
use crate::disk::DiskStorage;
use crate::netns::NetNs;
use crate::wire::{Packet, decode, encode};

/// What `native run` was asked.
#[derive(Debug, Clone)]
pub struct RunArgs {
    pub scenario: PathBuf,
    pub seed: Option<u64>,
    /// Stop at this time instead of the scenario's duration.
    pub until: Option<SimTime>,
    /// Keep the run's directory (node logs, stdout and stderr) and print where it is.
    pub keep: bool,
    /// Have the nodes hold each message for a draw from the scenario's network latency.
    pub emulate_latency: bool,
    /// One network namespace per node, joined by veth pairs and a bridge ([`crate::netns`]).
    pub netns: bool,
    /// Which variant of the scenario's sweeps to run (`--variant`, as `sim run` reads it); a
    /// sweeping scenario needs one.
    pub variant: Vec<String>,
}

/// How long the nodes have to say hello, and to exit after `stop`.
const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest the runner's loop blocks on its socket.
const POLL: Duration = Duration::from_millis(2);

/// Everything a native run measured and found.
#[derive(Debug, Default)]
pub struct NativeReport {
    pub scenario: String,
    /// The swept values of the variant that ran (`cluster.election_timeout=150ms..151ms`), empty
    /// without a sweep.
    pub variant: String,
    pub nodes: usize,
    /// Where the nodes talk: `on loopback`, or `between network namespaces (veth, bridge)`.
    pub network: &'static str,
    pub clients: usize,
    pub seed: u64,
    pub duration: SimDuration,
    /// Operations answered, except a cas answered "the value differed", which counts in `fail`;
    /// `info`: no answer in time.
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Client operation latencies (ok and fail), nanoseconds.
    pub latencies_ns: Vec<u64>,
    /// Time from a leader's crash to the next leader of a higher term, nanoseconds.
    pub election_times_ns: Vec<u64>,
    /// Leaders' time from appending an entry to knowing it committed, nanoseconds (from the
    /// nodes that were up at the end; a crashed leader's are lost with it).
    pub commit_latencies_ns: Vec<u64>,
    /// Messages sent, as the simulator's `NETWORK.sent` counts them: the nodes' Raft messages
    /// and replies over every life of every node, and the clients' requests.
    pub messages: u64,
    /// Leaders seen (distinct (term, node)).
    pub leaders: usize,
    pub crashes: u64,
    /// The highest commit index any node reported.
    pub committed: u64,
    /// Faults of the schedule that are not applied natively, with why.
    pub skipped: Vec<String>,
    /// (check, detail) for every check that did not hold.
    pub violations: Vec<(String, String)>,
    /// Checks that ran and held.
    pub held: Vec<String>,
    pub history: Vec<HistoryEvent>,
    /// Where the run's files were kept (`--keep`).
    pub kept: Option<PathBuf>,
}

/// Why a native run could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Scenario(String),
    #[error("{0}")]
    Setup(String),
    #[error("interrupted: every node was stopped and the run's files removed")]
    Interrupted,
}

/// The node processes of a run and its directory; dropping it kills and reaps every child and
/// removes the directory (unless kept), whatever way the run ends.
struct Fleet {
    children: Vec<Option<Child>>,
    dir: Option<tempfile::TempDir>,
    keep: bool,
    /// Dropped after the children are killed (fields drop after `drop` runs), so no process is
    /// left inside a namespace being deleted.
    netns: Option<NetNs>,
}

impl Fleet {
    fn kill(&mut self, id: usize) {
        if let Some(mut c) = self.children.get_mut(id).and_then(Option::take) {
            // A paused process takes SIGKILL too; reap it so no zombie stays.
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn signal(&self, id: usize, sig: i32) {
        if let Some(Some(c)) = self.children.get(id) {
            // SAFETY: kill(2) with a child's pid and a signal number touches no memory.
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for id in 0..self.children.len() {
            self.signal(id, libc::SIGCONT);
            self.kill(id);
        }
        if let Some(d) = self.dir.take() {
            if self.keep {
                let _ = d.keep();
            }
        }
    }
}

/// The runner's view of one node.
#[derive(Debug, Clone, Copy, Default)]
struct NodeView {
    up: bool,
    paused: bool,
    port: u16,
    role: Option<Role>,
    term: Term,
    commit: u64,
    incarnation: u32,
    /// Messages sent in this life, as last reported, and in earlier lives.
    sent: u64,
    sent_before: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// Step `index` of the fault plan.
    Fault(usize),
    Invoke {
        client: usize,
        generation: u32,
    },
    Wake {
        client: usize,
        generation: u32,
    },
    /// Liveness obligation `index`'s deadline.
    Deadline(u32),
}

/// The fault plan and what it remembers between steps (whom each hit, the load it replaced),
/// with its own random stream: the world's, so the same seed hits the same nodes here as in
/// the simulator.
struct Plan {
    steps: Vec<(SimTime, Fault)>,
    state: FaultState,
    rng: RngStream,
}

struct Runner<'a> {
    args: &'a RunArgs,
    cfg: ClusterConfig,
    /// Taken out while one of its steps acts on the runner (the runner is the nemesis).
    plan: Option<Plan>,
    seed: u64,
    sock: UdpSocket,
    fleet: Fleet,
    nodes: Vec<NodeView>,
    started: Instant,
    queue: BTreeMap<(SimTime, u64), Ev>,
    seq: u64,
    clients: Vec<Client>,
    /// Per client, the generation of the one wake-up that counts.
    client_gen: Vec<u32>,
    pacer: Pacer,
    workload: Workload,
    load_rng: RngStream,
    live: Obligations,
    /// Liveness obligations opened so far.
    expectations: usize,
    leaderless: Option<(SimTime, Term)>,
    leaders: BTreeMap<Term, BTreeSet<NodeId>>,
    acked: Vec<(u64, u64)>,
    report: NativeReport,
    stop: Arc<AtomicBool>,
    buf: Vec<u8>,
    /// Client requests sent.
    requests: u64,
}

/// A scenario's diagnostics as one error, a line each.
fn joined(d: Vec<scenarios::Diagnostic>) -> RunError {
    RunError::Scenario(scenarios::ScenarioError::Invalid(d).to_string())
}

/// The error for a scenario without a `raft`, an `io` or a `cpu` block; one whose jobs run on
/// declared hosts (`cpu`, the family) is told what native runs instead.
fn not_raft(path: &Path, cpu: bool) -> RunError {
    let hint = if cpu {
        "; its jobs run on `host` blocks, and native runs one machine, a `cpu` block's"
    } else {
        ""
    };
    RunError::Scenario(format!(
        "{}: native run runs Raft scenarios (a `raft` block), disk scenarios (an `io` block) and CPU scenarios (a `cpu` block); this one has none{hint}",
        path.display()
    ))
}

/// A scenario `native run` can run: one Raft cluster in its world, and what it was loaded
/// with.
pub(crate) struct Loaded {
    /// The world around the cluster: the network, the fault plan, the liveness expectations
    /// (its `raft` is `None`: the cluster is [`Loaded::cluster`]; [`Loaded::world`] joins them).
    pub around: WorldConfig,
    pub cluster: ClusterConfig,
    pub seed: u64,
    pub name: String,
    pub duration: Option<SimTime>,
    /// The swept values of the variant chosen (empty without a sweep).
    pub variant: String,
    /// The `--variant` flags that choose it again, for replay commands (empty without a sweep).
    pub variant_flags: String,
    /// The chosen variant's scenario (its `expect`s judge a simulated run).
    pub scenario: scenarios::ast::Scenario,
}

/// Loads the scenario, chooses its variant (`--variant`, required when it sweeps) and checks
/// that it is one `native run` can run (the runner and each node read it through here).
pub(crate) fn load_cluster(
    path: &Path,
    seed: Option<u64>,
    variant: &[String],
) -> Result<Loaded, RunError> {
    let scenario = scenarios::load(path).map_err(|e| RunError::Scenario(e.to_string()))?;
    // What the scenario is comes first: a CPU scenario belongs to another target, sweep or not.
    let families = scenarios::check::check(&scenario).map_err(joined)?;
    let has = |family: &str| families.models.iter().any(|m| m.name == family);
    if families.blocks.iter().any(|b| b.spec.kind == "mount") {
        return Err(RunError::Scenario(format!(
            "{}: a scenario with a `mount` block runs a real program on the simulated storage stack: native crashtest {}",
            path.display(),
            path.display()
        )));
    }
    if !has("raft") {
        return Err(not_raft(path, has("cpu")));
    }
    let chosen = choose(&scenario, seed, variant)?;
    let mut around = chosen.world;
    let has_cpu = !around.cpus.is_empty();
    let Some(cluster) = around.raft.take() else {
        return Err(not_raft(path, has_cpu));
    };
    Ok(Loaded {
        around,
        cluster,
        seed: chosen.seed,
        name: chosen.name,
        duration: chosen.duration,
        variant: chosen.label,
        variant_flags: chosen.flags,
        scenario: chosen.scenario,
    })
}

/// A scenario's variant, chosen, checked and wired.
pub(crate) struct Chosen {
    pub world: WorldConfig,
    pub seed: u64,
    pub name: String,
    pub duration: Option<SimTime>,
    /// The swept values of the variant chosen (empty without a sweep).
    pub label: String,
    /// The `--variant` flags that choose it again (empty without a sweep).
    pub flags: String,
    pub scenario: scenarios::ast::Scenario,
}

/// Chooses `scenario`'s variant (`--variant`, required when it sweeps), checks it and wires
/// it for `seed` (the scenario's own seed when None, else 0): what every kind of native run
/// starts from.
pub(crate) fn choose(
    scenario: &scenarios::ast::Scenario,
    seed: Option<u64>,
    variant: &[String],
) -> Result<Chosen, RunError> {
    let variants = scenarios::sweep::variants(scenario).map_err(joined)?;
    let chosen = variants
        .select_one(variant)
        .map_err(|e| RunError::Scenario(format!("native run: {e}")))?;
    let mut chosen = variants.get(chosen);
    // A `nemesis` draws its faults from the seed, as in the simulator.
    let seed = seed.or(chosen.scenario.seed.map(|s| s.0)).unwrap_or(0);
    if let Some(drawn) = scenarios::generate::expand(&chosen.scenario, seed).map_err(joined)? {
        chosen.scenario = drawn;
    }
    let checked = scenarios::check::check(&chosen.scenario).map_err(joined)?;
    let wired = scenarios::wire::wire(&checked, seed).map_err(joined)?;
    Ok(Chosen {
        world: wired.world,
        seed,
        name: checked.name,
        duration: checked.duration.map(|d| SimTime::from_nanos(d.as_nanos())),
        label: chosen.label.clone(),
        flags: chosen.flags.clone(),
        scenario: chosen.scenario.clone(),
    })
}

impl Loaded {
    /// The whole world, cluster included, as the simulator runs it.
    pub fn world(&self) -> WorldConfig {
        WorldConfig {
            raft: Some(self.cluster.clone()),
            ..self.around.clone()
        }
    }
}

/// Runs the scenario natively. `stop` is set by the handler of Ctrl-C, SIGTERM and SIGHUP.
pub fn run(args: &RunArgs, stop: Arc<AtomicBool>) -> Result<NativeReport, RunError> {
    let (mut r, until) = Runner::new(args, stop)?;
    r.start()?;
    // For the clean-up test: a panic with every node running must still leave nothing behind.
    if std::env::var_os("SIM_NATIVE_PANIC_AFTER_START").is_some() {
        panic!("SIM_NATIVE_PANIC_AFTER_START is set: panicking with every node running");
    }
    r.main_loop(until)?;
    r.finish()?;
    if args.keep {
        r.report.kept = r.fleet.dir.as_ref().map(|d| d.path().to_path_buf());
    }
    Ok(std::mem::take(&mut r.report))
}

impl<'a> Runner<'a> {
    /// The runner of `args`'s scenario, with its directory, network and socket made and no
    /// node started yet, and the time the run ends.
    fn new(args: &'a RunArgs, stop: Arc<AtomicBool>) -> Result<(Self, SimTime), RunError> {
        let Loaded {
            around,
            cluster: cfg,
            seed,
            name,
            duration,
            variant,
            ..
        } = load_cluster(&args.scenario, args.seed, &args.variant)?;
        let until = args.until.or(duration).ok_or_else(|| {
        RunError::Scenario(format!(
            "{}: the scenario has no `duration`; give one with --until (for example --until 10s)",
            args.scenario.display()
        ))
    })?;
        let dir = tempfile::Builder::new()
            .prefix("sim-native-")
            .tempdir()
            .map_err(|e| RunError::Setup(format!("making the run's directory: {e}")))?;
        let n = cfg.nodes.len();
        let netns = match args.netns {
            true => Some(NetNs::create(n).map_err(RunError::Setup)?),
            false => None,
        };
        let runner_ip = netns
            .as_ref()
            .map_or(std::net::Ipv4Addr::LOCALHOST, NetNs::runner_ip);
        let sock = UdpSocket::bind(SocketAddr::from((runner_ip, 0)))
            .map_err(|e| RunError::Setup(format!("binding the runner's UDP socket: {e}")))?;
        let clients = cfg.load.as_ref().map_or(0, |l| l.clients as usize);
        let client_config = LoadConfig::client_config(cfg.load.as_ref(), n as u32);
        let r = Runner {
            args,
            plan: Some(Plan {
                state: FaultState::new(around.plan.len()),
                steps: around.plan,
                // The stream the simulated world draws the plan's choices from.
                rng: RngStream::derive(seed, "raft.faults"),
            }),
            seed,
            sock,
            fleet: Fleet {
                children: (0..n).map(|_| None).collect(),
                dir: Some(dir),
                keep: args.keep,
                netns,
            },
            nodes: vec![NodeView::default(); n],
            started: Instant::now(),
            queue: BTreeMap::new(),
            seq: 0,
            clients: (0..clients)
                .map(|i| Client::new(i as u32, clients as u32, client_config))
                .collect(),
            client_gen: vec![0; clients],
            pacer: Pacer::new(clients, cfg.load.as_ref().map_or(0.0, |l| l.rate)),
            workload: Workload::new(),
            load_rng: RngStream::derive(seed, "raft.load"),
            live: Obligations::new(around.liveness),
            expectations: 0,
            leaderless: None,
            leaders: BTreeMap::new(),
            acked: Vec::new(),
            report: NativeReport {
                scenario: name,
                variant,
                nodes: n,
                network: if args.netns {
                    "between network namespaces (veth pairs, a bridge)"
                } else {
                    "on loopback"
                },
                clients,
                seed,
                duration: SimDuration::from_nanos(until.as_nanos()),
                ..NativeReport::default()
            },
            stop,
            buf: Vec::with_capacity(2048),
            requests: 0,
            cfg,
        };
        Ok((r, until))
    }
}

impl Runner<'_> {
    fn now(&self) -> SimTime {
        SimTime::from_nanos(self.started.elapsed().as_nanos().min(u64::MAX as u128) as u64)
    }

    fn dir(&self) -> PathBuf {
        self.fleet
            .dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default()
    }

    fn at(&mut self, t: SimTime, ev: Ev) {
        self.seq += 1;
        self.queue.insert((t, self.seq), ev);
    }

    fn spawn(&mut self, id: usize) -> Result<(), RunError> {
        let exe = std::env::current_exe()
            .map_err(|e| RunError::Setup(format!("finding this program: {e}")))?;
        let runner = self
            .sock
            .local_addr()
            .map_err(|e| RunError::Setup(e.to_string()))?;
        let dir = self.dir();
        let name = &self.cfg.nodes[id];
        let open = |suffix: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{name}.{suffix}")))
                .map(Stdio::from)
                .map_err(|e| RunError::Setup(format!("{}: {e}", dir.display())))
        };
        let incarnation = self.nodes[id].incarnation;
        // In its namespace, through `ip netns exec` (which execs the node: the pid is the node's).
        let mut command = match &self.fleet.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns.namespace(id).unwrap_or_default()]);
                c.arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let bind = self.node_ip(id);
        let child = command
            .arg("node")
            .arg("--scenario")
            .arg(&self.args.scenario)
            .args(["--seed", &self.seed.to_string()])
            .args(self.args.variant.iter().flat_map(|v| ["--variant", v]))
            .args(["--id", &id.to_string()])
            .args(["--incarnation", &incarnation.to_string()])
            .arg("--dir")
            .arg(&dir)
            .args(["--runner", &runner.to_string()])
            .args(["--bind", &bind.to_string()])
            .args(self.args.emulate_latency.then_some("--emulate-latency"))
            .stdin(Stdio::null())
            .stdout(open("out")?)
            .stderr(open("err")?)
            .spawn()
            .map_err(|e| RunError::Setup(format!("starting node {name}: {e}")))?;
        self.fleet.children[id] = Some(child);
        self.nodes[id].up = true;
        self.nodes[id].paused = false;
        self.nodes[id].port = 0;
        self.nodes[id].role = None;
        Ok(())
    }

    fn start(&mut self) -> Result<(), RunError> {
        for id in 0..self.nodes.len() {
            self.spawn(id)?;
        }
        let deadline = Instant::now() + START_TIMEOUT;
        while self.nodes.iter().any(|v| v.port == 0) {
            if Instant::now() > deadline {
                let missing: Vec<&str> = self
                    .nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.port == 0)
                    .map(|(i, _)| self.cfg.nodes[i].as_str())
                    .collect();
                return Err(RunError::Setup(format!(
                    "nodes {} did not start within {START_TIMEOUT:?}{}",
                    missing.join(", "),
                    self.node_errors()
                )));
            }
            if self.stop.load(Ordering::Relaxed) {
                return Err(RunError::Interrupted);
            }
            self.receive_one(Duration::from_millis(20))?;
        }
        self.broadcast_peers();
        // The clock starts now: the schedule's times count from here.
        self.started = Instant::now();
        let times: Vec<SimTime> = self
            .plan
            .iter()
            .flat_map(|p| &p.steps)
            .map(|s| s.0)
            .collect();
        for (i, t) in times.into_iter().enumerate() {
            self.at(t, Ev::Fault(i));
        }
        for c in 0..self.clients.len() {
            self.schedule_invoke(c);
        }
        // The run starts at time zero, as the simulated one does.
        self.open_obligations(None, SimTime::ZERO);
        Ok(())
    }

    /// The tail of every node's stderr, for a message.
    fn node_errors(&self) -> String {
        let mut s = String::new();
        for name in &self.cfg.nodes {
            let p = self.dir().join(format!("{name}.err"));
            if let Ok(text) = std::fs::read_to_string(&p) {
                if let Some(last) = text.lines().rev().find(|l| !l.trim().is_empty()) {
                    s.push_str(&format!("; {name}: {last}"));
                }
            }
        }
        s
    }

    /// Node `id`'s address: 127.0.0.1, or its address in its namespace.
    fn node_ip(&self, id: usize) -> std::net::Ipv4Addr {
        self.fleet
            .netns
            .as_ref()
            .map_or(std::net::Ipv4Addr::LOCALHOST, |n| n.node_ip(id))
    }

    /// Where node `id` listens, once it said hello.
    fn node_addr(&self, id: usize) -> Option<SocketAddr> {
        let port = self.nodes.get(id)?.port;
        (port != 0).then(|| SocketAddr::from((self.node_ip(id), port)))
    }

    fn send_packet(&mut self, p: &Packet, to: Option<SocketAddr>) {
        let Some(to) = to else {
            return;
        };
        self.buf.clear();
        if encode(p, &mut self.buf).is_ok() {
            let _ = self.sock.send_to(&self.buf, to);
        }
    }

    fn control(&mut self, id: usize, c: &Control) {
        let to = self.node_addr(id);
        self.send_packet(&Packet::Control(c.to_line().into_bytes()), to);
    }

    fn broadcast(&mut self, c: &Control) {
        for id in 0..self.nodes.len() {
            if self.nodes[id].up {
                self.control(id, c);
            }
        }
    }

    fn broadcast_peers(&mut self) {
        let Ok(clients) = self.sock.local_addr() else {
            return;
        };
        let nodes = (0..self.nodes.len())
            .map(|i| {
                self.node_addr(i)
                    .unwrap_or(SocketAddr::from((self.node_ip(i), 0)))
            })
            .collect();
        self.broadcast(&Control::Peers { nodes, clients });
    }

    fn main_loop(&mut self, until: SimTime) -> Result<(), RunError> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Err(RunError::Interrupted);
            }
            let now = self.now();
            if now >= until {
                return Ok(());
            }
            while let Some((&(t, k), &ev)) = self.queue.first_key_value() {
                if t > now {
                    break;
                }
                self.queue.remove(&(t, k));
                self.event(ev)?;
            }
            let next = self
                .queue
                .first_key_value()
                .map_or(until, |(&(t, _), _)| t.min(until));
            let wait = Duration::from_nanos(next.as_nanos().saturating_sub(self.now().as_nanos()))
                .clamp(Duration::from_micros(100), POLL);
            self.receive_one(wait)?;
            self.reap_dead()?;
        }
    }

    /// A node process that died on its own (not killed by a fault) is an error of the run.
    fn reap_dead(&mut self) -> Result<(), RunError> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(RunError::Interrupted);
        }
        for id in 0..self.nodes.len() {
            if let Some(Some(c)) = self.fleet.children.get_mut(id) {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(RunError::Setup(format!(
                        "node {} exited by itself ({status}){}",
                        self.cfg.nodes[id],
                        self.node_errors()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Takes one datagram already waiting; false when there was none.
    fn receive_pending(&mut self) -> Result<bool, RunError> {
        self.sock
            .set_nonblocking(true)
            .map_err(|e| RunError::Setup(e.to_string()))?;
        let mut buf = [0u8; 65_536];
        let got = self.sock.peek_from(&mut buf).is_ok();
        self.sock
            .set_nonblocking(false)
            .map_err(|e| RunError::Setup(e.to_string()))?;
        if got {
            self.receive_one(Duration::from_millis(1))?;
        }
        Ok(got)
    }

    fn receive_one(&mut self, wait: Duration) -> Result<(), RunError> {
        let mut buf = [0u8; 65_536];
        self.sock
            .set_read_timeout(Some(wait))
            .map_err(|e| RunError::Setup(e.to_string()))?;
        let (len, _) = match self.sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::ConnectionRefused
                        // Ctrl-C (or a stop and continue) cuts a receive short: the loop goes
                        // on and sees the stop flag.
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(RunError::Setup(format!("receiving: {e}"))),
        };
        match decode(&buf[..len]) {
            Ok(Packet::Reply { to, reply }) => {
                let now = self.now();
                if let Some(c) = self.clients.get_mut(to as usize) {
                    let mut out = Vec::new();
                    c.reply(reply, now, &mut out);
                    self.client_do(to as usize, out);
                }
            }
            Ok(Packet::Control(line)) => {
                if let Some(c) = std::str::from_utf8(&line).ok().and_then(Control::parse) {
                    self.node_control(c);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn node_control(&mut self, c: Control) {
        match c {
            Control::Hello { id, port } => {
                let id = id as usize;
                if id < self.nodes.len() && self.nodes[id].up {
                    let was = self.nodes[id].port;
                    self.nodes[id].port = port;
                    // After the start, a restarted node's new port goes to everyone.
                    if was != port && self.nodes.iter().all(|v| !v.up || v.port != 0) {
                        self.broadcast_peers();
                    }
                }
            }
            Control::CommitLatency { id, ns } => {
                if (id as usize) < self.nodes.len() {
                    self.report.commit_latencies_ns.extend(ns);
                }
            }
            Control::State {
                id,
                role,
                term,
                commit,
                sent,
            } => {
                let i = id as usize;
                if i >= self.nodes.len() || !self.nodes[i].up {
                    return;
                }
                let now = self.now();
                let v = &mut self.nodes[i];
                v.role = Some(role);
                v.term = term;
                v.commit = v.commit.max(commit);
                v.sent = v.sent.max(sent);
                self.report.committed = self.report.committed.max(commit);
                if role == Role::Leader {
                    self.leaders.entry(term).or_default().insert(id);
                    if let Some((since, old)) = self.leaderless {
                        if term > old {
                            let d = now.as_nanos().saturating_sub(since.as_nanos());
                            self.report.election_times_ns.push(d);
                            self.leaderless = None;
                        }
                    }
                }
                if self.live.any_open() {
                    let leader = self.live_leader().is_some();
                    self.live.evaluate(leader, self.report.committed);
                }
            }
            _ => {}
        }
    }

    /// The live leader of the highest term, as the nodes last reported.
    fn live_leader(&self) -> Option<usize> {
        let top = self
            .nodes
            .iter()
            .filter(|v| v.up && v.role.is_some())
            .map(|v| v.term)
            .max()?;
        self.nodes
            .iter()
            .position(|v| v.up && !v.paused && v.term == top && v.role == Some(Role::Leader))
    }

    fn event(&mut self, ev: Ev) -> Result<(), RunError> {
        match ev {
            Ev::Fault(i) => self.fault(i)?,
            Ev::Invoke { client, generation } => {
                if self.pacer.is_current(client, generation) && !self.clients[client].busy() {
                    self.invoke(client);
                }
            }
            Ev::Wake { client, generation } => {
                if self.client_gen[client] == generation {
                    let now = self.now();
                    let mut out = Vec::new();
                    self.clients[client].wake(now, &mut out);
                    self.client_do(client, out);
                }
            }
            Ev::Deadline(i) => {
                if let Some(detail) = self.live.deadline(i) {
                    self.report.violations.push(("liveness".into(), detail));
                }
            }
        }
        Ok(())
    }

    fn invoke(&mut self, c: usize) {
        let Some(load) = self.cfg.load.clone() else {
            return;
        };
        let op = self.workload.next_op(&load, &mut self.load_rng);
        let now = self.now();
        let mut out = Vec::new();
        self.clients[c].invoke(op, now, &mut out);
        self.client_do(c, out);
    }

    /// Schedules client `c`'s next call (see [`Pacer`]).
    fn schedule_invoke(&mut self, c: usize) {
        let now = self.now();
        if let Some((at, generation)) = self.pacer.next(c, now, &mut self.load_rng) {
            self.at(
                at,
                Ev::Invoke {
                    client: c,
                    generation,
                },
            );
        }
    }

    fn client_do(&mut self, c: usize, actions: Vec<ClientAction>) {
        for a in actions {
            match a {
                ClientAction::Send { to, req } => {
                    let addr = self.node_addr(to as usize);
                    self.send_packet(&Packet::Request(req), addr);
                    self.requests += 1;
                }
                ClientAction::WakeAt(at) => {
                    self.client_gen[c] = self.client_gen[c].wrapping_add(1);
                    let generation = self.client_gen[c];
                    self.at(
                        at,
                        Ev::Wake {
                            client: c,
                            generation,
                        },
                    );
                }
                ClientAction::Record(e) => self.record(c, e),
            }
        }
    }

    fn record(&mut self, c: usize, e: HistoryEvent) {
        let now = self.now();
        match e.answer() {
            None => self.pacer.invoked(c, now),
            Some(answer) => {
                match answer {
                    Answer::Ok => self.report.ok += 1,
                    Answer::CasFalse => self.report.fail += 1,
                    Answer::Info => self.report.info += 1,
                }
                if answer != Answer::Info {
                    let d = now.saturating_since(self.pacer.invoked_at(c)).as_nanos();
                    self.report.latencies_ns.push(d);
                }
                if e.wrote() {
                    self.acked.push((e.session, e.seq));
                }
                self.schedule_invoke(c);
            }
        }
        self.report.history.push(e);
    }

    /// Notes a fault the machine does not apply, once.
    fn skip(&mut self, what: &str) {
        let line = format!("{what}: not applied natively");
        if !self.report.skipped.contains(&line) {
            self.report.skipped.push(line);
        }
    }

    /// Carries out step `index` of the fault plan, as the simulated world does, and opens the
    /// liveness expectations anchored at what it counts as.
    fn fault(&mut self, index: usize) -> Result<(), RunError> {
        let Some(mut plan) = self.plan.take() else {
            return Ok(());
        };
        let applied = plan.state.apply(&plan.steps, index, self, &mut plan.rng);
        self.plan = Some(plan);
        // From when the step was carried out (a little after its time, on a real clock).
        let now = self.now();
        self.open_obligations(Some(applied?.verb), now);
        Ok(())
    }

    /// Opens the liveness expectations anchored at `verb` (`None`: the start of the run), from
    /// `now`.
    fn open_obligations(&mut self, verb: Option<&str>, now: SimTime) {
        let leader = self.live_leader().is_some();
        let mut deadlines = Vec::new();
        self.live
            .open(verb, now, leader, self.report.committed, |i, at| {
                deadlines.push((i, at));
            });
        self.expectations += deadlines.len();
        for (i, at) in deadlines {
            self.at(at, Ev::Deadline(i));
        }
    }
}

/// The fault plan's view of the machine: node faults hit the node processes, a partition is the
/// pairs each node blocks at its socket, a rate change reaches the clients; clocks and disks
/// are not the runner's to change, and the run says so.
impl Nemesis for Runner<'_> {
    type Error = RunError;

    fn nodes(&self) -> u32 {
        self.nodes.len() as u32
    }

    fn leader(&self) -> Option<NodeId> {
        self.live_leader().map(|l| l as NodeId)
    }

    fn is_up(&self, id: NodeId) -> bool {
        self.nodes.get(id as usize).is_some_and(|v| v.up)
    }

    fn is_paused(&self, id: NodeId) -> bool {
        self.nodes.get(id as usize).is_some_and(|v| v.paused)
    }

    fn partition(&mut self, cut: Option<(&Shape, &mut RngStream)>) -> Result<(), RunError> {
        let p = match cut {
            Some((shape, rng)) => Partition::shape(self.nodes(), shape, rng),
            None => Partition::none(),
        };
        let pairs: Vec<(NodeId, NodeId)> = p.blocked().collect();
        self.broadcast(&Control::Block(pairs));
        Ok(())
    }

    fn crash(&mut self, id: NodeId) -> Result<(), RunError> {
        let i = id as usize;
        if self.live_leader() == Some(i) && self.leaderless.is_none() {
            self.leaderless = Some((self.now(), self.nodes[i].term));
        }
        self.fleet.signal(i, libc::SIGCONT);
        self.fleet.kill(i);
        let v = &mut self.nodes[i];
        v.up = false;
        v.paused = false;
        v.role = None;
        v.sent_before += std::mem::take(&mut v.sent);
        self.report.crashes += 1;
        Ok(())
    }

    fn restart(&mut self, id: NodeId) -> Result<(), RunError> {
        let i = id as usize;
        self.nodes[i].incarnation += 1;
        self.spawn(i)
    }

    fn pause(&mut self, id: NodeId) -> Result<(), RunError> {
        self.fleet.signal(id as usize, libc::SIGSTOP);
        self.nodes[id as usize].paused = true;
        Ok(())
    }

    fn resume(&mut self, id: NodeId) -> Result<(), RunError> {
        self.fleet.signal(id as usize, libc::SIGCONT);
        self.nodes[id as usize].paused = false;
        Ok(())
    }

    fn clock_offset(&mut self, _: NodeId, _: i64) -> Result<(), RunError> {
        self.skip("clock skew (Raft uses only relative timers)");
        Ok(())
    }

    fn clock_drift(&mut self, _: NodeId, _: f64) -> Result<(), RunError> {
        self.skip("clock drift");
        Ok(())
    }

    fn disk_slow(&mut self, _: NodeId, _: Option<&Dist>) -> Result<(), RunError> {
        self.skip("disk slow");
        Ok(())
    }

    fn disk_fault(
        &mut self,
        _: NodeId,
        fault: Option<&models::world::disk::DiskFault>,
    ) -> Result<(), RunError> {
        if let Some(f) = fault {
            self.skip(f.name());
        }
        Ok(())
    }

    fn rate(&self) -> f64 {
        self.pacer.rate()
    }

    /// Idle clients draw their next call again at the new rate, from now, as in the simulator.
    fn set_rate(&mut self, rate: f64) -> Result<(), RunError> {
        self.pacer.set_rate(rate);
        let now = self.now();
        let clients = &self.clients;
        let mut calls = Vec::new();
        self.pacer.restart_idle(
            now,
            |c| clients[c].busy(),
            &mut self.load_rng,
            |c, at, g| calls.push((c, at, g)),
        );
        for (client, at, generation) in calls {
            self.at(at, Ev::Invoke { client, generation });
        }
        Ok(())
    }
}

impl Runner<'_> {
    /// Stops every node, then runs the end-of-run checks on what they left.
    fn finish(&mut self) -> Result<(), RunError> {
        for id in 0..self.nodes.len() {
            if self.nodes[id].paused {
                self.fleet.signal(id, libc::SIGCONT);
                self.nodes[id].paused = false;
            }
        }
        self.broadcast(&Control::Stop);
        let deadline = Instant::now() + STOP_TIMEOUT;
        for id in 0..self.nodes.len() {
            loop {
                let done = match self.fleet.children.get_mut(id).and_then(Option::as_mut) {
                    Some(c) => matches!(c.try_wait(), Ok(Some(_))),
                    None => true,
                };
                if done || Instant::now() > deadline {
                    break;
                }
                // The stop may have been lost: say it again, and take what the nodes send.
                self.control(id, &Control::Stop);
                self.receive_one(Duration::from_millis(10))?;
            }
            self.fleet.kill(id);
        }
        // What the last nodes sent before exiting is still in the socket.
        while self.receive_pending()? {}
        let nodes: u64 = self.nodes.iter().map(|v| v.sent + v.sent_before).sum();
        self.report.messages = nodes + self.requests;
        // Expectations whose deadline lies past the end: the run ended before they were met.
        for detail in self.live.finish() {
            self.report.violations.push(("liveness".into(), detail));
        }
        let expectations = self.expectations;
        if expectations > 0 && !self.report.violations.iter().any(|v| v.0 == "liveness") {
            self.report
                .held
                .push(format!("liveness ({expectations} expectations met)"));
        }
        self.check_elections();
        let logs = self.read_logs()?;
        self.check_logs(&logs);
        if self.cfg.check_durable {
            self.check_durable(&logs);
        }
        if self.cfg.check_linearizable {
            self.check_linearizable();
        }
        self.report.leaders = self.leaders.values().map(BTreeSet::len).sum();
        Ok(())
    }

    fn check_elections(&mut self) {
        let bad: Vec<String> = self
            .leaders
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(t, ids)| {
                let names: Vec<&str> = ids
                    .iter()
                    .map(|&i| self.cfg.nodes[i as usize].as_str())
                    .collect();
                format!("term {t}: {}", names.join(" and "))
            })
            .collect();
        if bad.is_empty() {
            self.report.held.push("election-safety".into());
        } else {
            self.report.violations.push((
                "election-safety".into(),
                format!("two leaders in {}", bad.join("; ")),
            ));
        }
    }

    /// Each node's durable log as (index -> entry), from its file, and its last reported commit.
    fn read_logs(
        &self,
    ) -> Result<Vec<(BTreeMap<u64, Entry>, u64, Option<models::raft::Snapshot>)>, RunError> {
        let mut out = Vec::new();
        for (i, name) in self.cfg.nodes.iter().enumerate() {
            let path = self.dir().join(format!("{name}.log"));
            let (_, restored) =
                DiskStorage::open(&path).map_err(|e| RunError::Setup(e.to_string()))?;
            let first = restored.snapshot.as_ref().map_or(1, |s| s.last_index + 1);
            let entries = restored
                .entries
                .into_iter()
                .enumerate()
                .map(|(k, e)| (first + k as u64, e))
                .collect();
            out.push((entries, self.nodes[i].commit, restored.snapshot));
        }
        Ok(out)
    }

    /// Log matching and state-machine safety over committed prefixes: two nodes hold the same
    /// entry at every index both have committed.
    fn check_logs(&mut self, logs: &[(BTreeMap<u64, Entry>, u64, Option<models::raft::Snapshot>)]) {
        let mut bad = None;
        'pairs: for a in 0..logs.len() {
            for b in a + 1..logs.len() {
                let upto = logs[a].1.min(logs[b].1);
                for (idx, ea) in logs[a].0.range(..=upto) {
                    if let Some(eb) = logs[b].0.get(idx) {
                        if ea != eb {
                            bad = Some(format!(
                                "{} and {} hold different committed entries at index {idx} (terms {} and {})",
                                self.cfg.nodes[a], self.cfg.nodes[b], ea.term, eb.term
                            ));
                            break 'pairs;
                        }
                    }
                }
            }
        }
        match bad {
            Some(d) => self
                .report
                .violations
                .push(("state-machine-safety".into(), d)),
            None => self.report.held.push("state-machine-safety".into()),
        }
    }

    /// Every acknowledged write is in the log (or snapshot) of the most advanced node.
    fn check_durable(
        &mut self,
        logs: &[(BTreeMap<u64, Entry>, u64, Option<models::raft::Snapshot>)],
    ) {
        let Some((entries, _, snapshot)) = logs.iter().max_by_key(|l| l.1) else {
            return;
        };
        let mut present: BTreeSet<(u64, u64)> = BTreeSet::new();
        for e in entries.values() {
            if let Payload::Command(c) = &e.payload {
                present.insert((c.session, c.seq));
            }
        }
        let lost: Vec<&(u64, u64)> = self
            .acked
            .iter()
            .filter(|(s, q)| {
                !present.contains(&(*s, *q))
                    && !snapshot
                        .as_ref()
                        .is_some_and(|snap| snap.data.last_seq(*s).is_some_and(|l| l >= *q))
            })
            .collect();
        if lost.is_empty() {
            self.report.held.push("durable".into());
        } else {
            self.report.violations.push((
                "durable".into(),
                format!(
                    "{} acknowledged writes are missing from the most advanced node's log",
                    lost.len()
                ),
            ));
        }
    }

    fn check_linearizable(&mut self) {
        self.report.check_linearizable(self.cfg.lincheck_budget);
    }
}

impl NativeReport {
    /// Every check held.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// Judges the clients' history as the simulated cluster judges its own: the same checker,
    /// and per key that fails the same detail (the end of its shortest failing prefix).
    fn check_linearizable(&mut self, budget: u64) {
        let problems = linearizability_problems(&self.history, budget);
        if problems.is_empty() {
            self.held.push("linearizable".into());
        }
        for p in problems {
            self.violations.push(("linearizable".into(), p));
        }
    }

    /// The clients' history in `sim lincheck`'s format.
    pub fn history_text(&self) -> String {
        history_text(&self.history)
    }
}

#[cfg(test)]
mod tests {
    use models::raft::client::HistoryKind;
    use models::raft::kv::{KvOp, KvResult};

    use super::*;

    fn ev(process: u64, kind: HistoryKind, op: KvOp, result: Option<KvResult>) -> HistoryEvent {
        HistoryEvent {
            time: SimTime::ZERO,
            process,
            kind,
            op,
            result,
            session: process,
            seq: 1,
        }
    }

    /// A write of 1 to key 1, answered, then a read of key 1 that saw 2, which nobody wrote.
    fn a_read_of_what_nobody_wrote() -> Vec<HistoryEvent> {
        let put = KvOp::Put { key: 1, value: 1 };
        let get = KvOp::Get { key: 1 };
        vec![
            ev(0, HistoryKind::Invoke, put, None),
            ev(0, HistoryKind::Ok, put, Some(KvResult::Done)),
            ev(1, HistoryKind::Invoke, get, None),
            ev(1, HistoryKind::Ok, get, Some(KvResult::Value(Some(2)))),
        ]
    }

    #[test]
    fn a_history_that_is_not_linearizable_is_reported_with_its_counterexample() {
        let mut r = NativeReport {
            history: a_read_of_what_nobody_wrote(),
            ..NativeReport::default()
        };
        r.check_linearizable(models::lincheck::DEFAULT_BUDGET);
        assert!(!r.held.contains(&"linearizable".to_string()), "{r:?}");
        assert_eq!(r.violations.len(), 1, "{:?}", r.violations);
        let (check, detail) = &r.violations[0];
        assert_eq!(check, "linearizable");
        // The simulated cluster's detail, word for word: the end of the shortest failing prefix.
        assert_eq!(
            detail,
            "key 1: not linearizable (2 operations); the shortest failing prefix has 2 operations, ending: p0 write 1 ok; p1 read 2 ok"
        );
    }

    /// Five nodes, and a plan whose every step draws: a skew of two random clocks (which the
    /// machine skips, but which draws whom it hits and by how much), a crash of two random
    /// nodes, a pause of a random one of the rest.
    const DRAWS: &str = r#"scenario "draws" {
  duration 1s
  raft cluster { nodes n1..n5 }
  at 100ms clock skew random(2) by uniform(0ms, 50ms)
  at 200ms crash random(2)
  at 300ms pause random-node
}
"#;

    /// (up, paused) of each node after the plan's steps, in the simulated world.
    fn simulated(path: &Path, seed: u64) -> Vec<(bool, bool)> {
        let loaded = load_cluster(path, Some(seed), &[]).unwrap();
        let world = models::world::World::new(loaded.world()).unwrap();
        let stop = simcore::StopAt {
            time: Some(SimTime::from_nanos(400_000_000)),
            events: None,
        };
        let (_, world) = simcore::Simulation::new(world, simcore::SimConfig::new(seed))
            .run(stop)
            .unwrap();
        let raft = world.raft().unwrap();
        (0..5).map(|i| (raft.is_up(i), raft.is_paused(i))).collect()
    }

    /// (up, paused) of each node after the runner carried out the plan's steps (no process is
    /// started: a crash and a pause of a node without one signal nothing).
    fn native(path: &Path, seed: u64) -> (Vec<(bool, bool)>, Vec<String>) {
        let args = RunArgs {
            scenario: path.to_path_buf(),
            seed: Some(seed),
            until: None,
            keep: false,
            emulate_latency: false,
            netns: false,
            variant: Vec::new(),
        };
        let (mut r, _) = Runner::new(&args, Arc::new(AtomicBool::new(false))).unwrap();
        for v in &mut r.nodes {
            v.up = true;
        }
        for step in 0..3 {
            r.fault(step).unwrap();
        }
        let nodes = r.nodes.iter().map(|v| (v.up, v.paused)).collect();
        (nodes, std::mem::take(&mut r.report.skipped))
    }

    #[test]
    fn the_plan_hits_the_same_nodes_natively_as_in_the_simulator() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("draws.scn");
        std::fs::write(&path, DRAWS).unwrap();
        let mut seen = BTreeSet::new();
        for seed in 1..=8 {
            let (nodes, skipped) = native(&path, seed);
            assert_eq!(nodes, simulated(&path, seed), "seed {seed}");
            assert_eq!(nodes.iter().filter(|n| !n.0).count(), 2, "{nodes:?}");
            assert_eq!(nodes.iter().filter(|n| n.1).count(), 1, "{nodes:?}");
            assert_eq!(
                skipped,
                vec!["clock skew (Raft uses only relative timers): not applied natively"]
            );
            seen.insert(nodes);
        }
        assert!(seen.len() > 1, "the draws differ between seeds: {seen:?}");
    }

    #[test]
    fn a_linearizable_history_holds() {
        let mut r = NativeReport {
            history: a_read_of_what_nobody_wrote()[..2].to_vec(),
            ..NativeReport::default()
        };
        r.check_linearizable(models::lincheck::DEFAULT_BUDGET);
        assert_eq!(r.held, vec!["linearizable".to_string()]);
        assert!(r.violations.is_empty());
    }
}
