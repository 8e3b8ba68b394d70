//! One Raft node as an OS process (`native node`, started by the runner): the very
//! `models::raft::server::Server` the simulator runs, driven by a monotonic clock, a UDP socket on
//! loopback and a log file on disk.
//!
//! The driver keeps the promises the simulator's cluster keeps: writes go to the file in order;
//! no message or reply leaves before every write made before it is durable (an fsync first, so a
//! reply never promises what a crash could take back); `Sync` is an fsync, answered with
//! `synced`. Faults arrive from the runner as control messages and are applied here, at the
//! socket: a blocked pair drops the message at both ends, loss drops it at the sender.
//!
//! The node exits when the runner says `stop`, when the runner goes away (its parent-death
//! signal), or with status 2 on an error it cannot go on from (the message on stderr).

use std::collections::{BTreeMap, VecDeque};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use models::raft::latency::CommitClock;
use models::raft::server::{Action, Server};
use models::raft::{NodeId, Output, Role, Timer};
use simcore::{Dist, RngStream};

use crate::control::Control;
use crate::disk::DiskStorage;
use crate::wire::{Packet, decode, encode};

/// How a node is started: everything comes from the same scenario the runner reads.
#[derive(Debug, Clone)]
pub struct NodeArgs {
    pub scenario: PathBuf,
    pub seed: u64,
    /// The runner's `--variant` flags, to choose the same variant of a sweep.
    pub variant: Vec<String>,
    pub id: NodeId,
    /// Restarts so far (a new random stream per life, as in the simulator).
    pub incarnation: u32,
    pub dir: PathBuf,
    /// The address to bind (127.0.0.1, or the node's address in its namespace).
    pub bind: std::net::Ipv4Addr,
    /// The runner's control socket.
    pub runner: SocketAddr,
    /// Hold each message to another node for a draw from the scenario's network latency
    /// before sending it (on top of the real network's own).
    pub emulate_latency: bool,
}

/// The longest a node waits for its peers' ports after saying hello.
const PEERS_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest one receive blocks, so control messages and timers are never late by more.
const POLL: Duration = Duration::from_millis(5);

struct Driver {
    id: NodeId,
    sock: UdpSocket,
    runner: SocketAddr,
    peers: Vec<SocketAddr>,
    clients: SocketAddr,
    blocked: Vec<(NodeId, NodeId)>,
    loss: f64,
    rng: RngStream,
    disk: DiskStorage,
    server: Server,
    writes_since_sync: bool,
    timers: [Option<Instant>; 2],
    reported: Option<(Role, u64, u64)>,
    buf: Vec<u8>,
    /// Messages sent in this life: Raft messages and replies to clients.
    sent: u64,
    commit_clock: CommitClock,
    started: Instant,
    /// Commit latencies timed while leading, ns (at most [`LATENCIES_KEPT`]).
    commit_latencies: Vec<u64>,
    /// The latency to add to each message, when emulating the scenario's network.
    latency: Option<Dist>,
    /// Messages held back by the emulated latency: (when due, order) -> (datagram, port).
    delayed: BTreeMap<(Instant, u64), (Vec<u8>, SocketAddr)>,
    delayed_seq: u64,
}

/// The most messages held back by emulated latency; later ones are dropped (a full link).
const DELAYED_MAX: usize = 100_000;

/// The most commit latencies a node keeps to report (they fit one datagram as text).
const LATENCIES_KEPT: usize = 3000;

/// Runs node `args.id` until told to stop. Errors are for the caller to print.
pub fn run(args: &NodeArgs) -> Result<(), String> {
    die_with_parent();
    // The runner's own reading of the scenario, with the seed it gave: the same configuration.
    let loaded = crate::run::load_cluster(&args.scenario, Some(args.seed), &args.variant)
        .map_err(|e| e.to_string())?;
    let (cluster, link) = (loaded.cluster, loaded.around.network.link);
    let n = cluster.nodes.len() as u32;
    if args.id >= n {
        return Err(format!("node {} of a {n}-node cluster", args.id));
    }
    let sock = UdpSocket::bind(SocketAddr::from((args.bind, 0)))
        .map_err(|e| format!("binding UDP on {}: {e}", args.bind))?;
    let port = sock.local_addr().map_err(|e| e.to_string())?.port();
    let runner = args.runner;
    let hello = Control::Hello { id: args.id, port };
    send_control(&sock, runner, &hello)?;
    let (peers, clients) = wait_for_peers(&sock, runner, &hello)?;
    if peers.len() != n as usize {
        return Err(format!("{} peer ports for {n} nodes", peers.len()));
    }
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let log = args
        .dir
        .join(format!("{}.log", cluster.nodes[args.id as usize]));
    let (disk, restored) = DiskStorage::open(&log).map_err(|e| e.to_string())?;
    let life = format!("raft.node.{}.{}", args.id, args.incarnation);
    let server = Server::new(
        args.id,
        n,
        cluster.raft.clone(),
        restored,
        RngStream::derive(cluster.seed, &life),
        cluster.snapshot_every,
    );
    let mut d = Driver {
        id: args.id,
        sock,
        runner,
        peers,
        clients,
        blocked: Vec::new(),
        loss: link.loss,
        rng: RngStream::derive(args.seed, &format!("native.loss.{life}")),
        disk,
        server,
        writes_since_sync: false,
        timers: [None; 2],
        reported: None,
        buf: Vec::with_capacity(2048),
        sent: 0,
        commit_clock: CommitClock::new(),
        started: Instant::now(),
        commit_latencies: Vec::new(),
        latency: args.emulate_latency.then(|| link.latency.clone()),
        delayed: BTreeMap::new(),
        delayed_seq: 0,
    };
    let mut out = Vec::new();
    d.server.start(&mut out);
    d.perform(out)?;
    d.main_loop()
}

/// Asks the kernel to kill this process when the runner dies, so no node outlives its run
/// (Linux's parent-death signal).
/// Also ignores SIGINT, SIGTERM and SIGHUP: a Ctrl-C at the terminal, a closed terminal, or a
/// service manager stopping the whole group reach every process of the run, and the nodes must
/// be stopped by their runner (which the same signal tells to stop), not die under it and look
/// like a node that crashed by itself.
fn die_with_parent() {
    // SAFETY: prctl(PR_SET_PDEATHSIG) and signal(SIG, SIG_IGN) take integers and touch no
    // memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
}

fn send_control(sock: &UdpSocket, to: SocketAddr, c: &Control) -> Result<(), String> {
    let mut buf = Vec::new();
    encode(&Packet::Control(c.to_line().into_bytes()), &mut buf).map_err(|e| e.to_string())?;
    sock.send_to(&buf, to)
        .map(|_| ())
        .map_err(|e| format!("sending to the runner: {e}"))
}

/// Waits for the runner's `peers`, repeating the hello now and then (a datagram can be lost).
fn wait_for_peers(
    sock: &UdpSocket,
    runner: SocketAddr,
    hello: &Control,
) -> Result<(Vec<SocketAddr>, SocketAddr), String> {
    let started = Instant::now();
    let mut buf = vec![0u8; 65_536];
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    while started.elapsed() < PEERS_TIMEOUT {
        if let Ok((len, from)) = sock.recv_from(&mut buf) {
            if from == runner {
                if let Ok(Packet::Control(bytes)) = decode(&buf[..len]) {
                    if let Some(Control::Peers { nodes, clients }) =
                        std::str::from_utf8(&bytes).ok().and_then(Control::parse)
                    {
                        return Ok((nodes, clients));
                    }
                }
            }
        } else {
            send_control(sock, runner, hello)?;
        }
    }
    Err(format!(
        "no peer list from the runner within {PEERS_TIMEOUT:?}"
    ))
}

impl Driver {
    fn main_loop(&mut self) -> Result<(), String> {
        let mut buf = vec![0u8; 65_536];
        loop {
            self.send_due();
            let now = Instant::now();
            let next_delayed = self.delayed.keys().next().map(|k| k.0);
            let next = self
                .timers
                .iter()
                .flatten()
                .copied()
                .chain(next_delayed)
                .min();
            let wait = next
                .map_or(POLL, |t| t.saturating_duration_since(now))
                .clamp(Duration::from_micros(100), POLL);
            self.sock
                .set_read_timeout(Some(wait))
                .map_err(|e| e.to_string())?;
            match self.sock.recv_from(&mut buf) {
                Ok((len, from)) => {
                    if self.datagram(&buf[..len], from)? {
                        return self.stop();
                    }
                }
                // A receive cut short by SIGSTOP/SIGCONT (a pause) is EINTR: try again.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                // A peer's port closed (it crashed): loopback reports it on a later receive.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(format!("receiving: {e}")),
            }
            self.fire_timers()?;
        }
    }

    /// Handles one datagram; true when the runner said stop.
    fn datagram(&mut self, bytes: &[u8], from: SocketAddr) -> Result<bool, String> {
        let Ok(packet) = decode(bytes) else {
            return Ok(false); // Not ours, or damaged: a real network drops such things.
        };
        let mut out = Vec::new();
        match packet {
            Packet::Raft { from: f, to, msg } => {
                if to != self.id || self.is_blocked(f, to) {
                    return Ok(false);
                }
                self.server.receive(f, msg, &mut out);
            }
            Packet::Request(req) => self.server.request(req, &mut out),
            Packet::Reply { .. } => return Ok(false),
            Packet::Control(line) => {
                if from != self.runner {
                    return Ok(false);
                }
                let Some(c) = std::str::from_utf8(&line).ok().and_then(Control::parse) else {
                    return Ok(false);
                };
                match c {
                    Control::Peers { nodes, clients } if nodes.len() == self.peers.len() => {
                        self.peers = nodes;
                        self.clients = clients;
                    }
                    Control::Block(pairs) => self.blocked = pairs,
                    Control::Loss(p) => self.loss = p,
                    Control::Stop => return Ok(true),
                    _ => {}
                }
                return Ok(false);
            }
        }
        self.perform(out)?;
        Ok(false)
    }

    fn fire_timers(&mut self) -> Result<(), String> {
        let now = Instant::now();
        for (k, timer) in [Timer::Election, Timer::Heartbeat].into_iter().enumerate() {
            if self.timers[k].is_some_and(|t| t <= now) {
                self.timers[k] = None;
                let mut out = Vec::new();
                self.server.tick(timer, &mut out);
                self.perform(out)?;
            }
        }
        Ok(())
    }

    fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.blocked.iter().any(|&(a, b)| a == from && b == to)
    }

    /// Does what the server asked, in order; a `Sync` may make the server ask for more.
    fn perform(&mut self, first: Vec<Action>) -> Result<(), String> {
        let mut queue: VecDeque<Action> = first.into();
        while let Some(a) = queue.pop_front() {
            match a {
                Action::Raft(Output::Write(w)) => {
                    self.disk.write(&w).map_err(|e| e.to_string())?;
                    self.writes_since_sync = true;
                }
                Action::Raft(Output::Sync) => {
                    self.sync()?;
                    let mut more = Vec::new();
                    self.server.synced(&mut more);
                    queue.extend(more);
                }
                Action::Raft(Output::SetTimer { timer, after }) => {
                    let at = Instant::now() + Duration::from_nanos(after.as_nanos());
                    self.timers[timer as usize] = Some(at);
                }
                Action::Raft(Output::Send { to, msg }) => {
                    self.sync_before_send()?;
                    if self.is_blocked(self.id, to) || self.lost() {
                        continue;
                    }
                    let Some(&addr) = self.peers.get(to as usize) else {
                        continue;
                    };
                    let p = Packet::Raft {
                        from: self.id,
                        to,
                        msg,
                    };
                    self.send_later(&p, addr);
                    self.sent += 1;
                }
                Action::Reply { to, reply } => {
                    self.sync_before_send()?;
                    let p = Packet::Reply { to, reply };
                    self.send(&p, self.clients);
                    self.sent += 1;
                }
                // The server applies commits and snapshots itself.
                Action::Raft(Output::Commit(_) | Output::Restore(_)) => {}
            }
        }
        self.report()
    }

    fn sync(&mut self) -> Result<(), String> {
        self.disk.sync().map_err(|e| e.to_string())?;
        self.writes_since_sync = false;
        Ok(())
    }

    fn sync_before_send(&mut self) -> Result<(), String> {
        if self.writes_since_sync {
            self.sync()?;
        }
        Ok(())
    }

    fn lost(&mut self) -> bool {
        self.loss > 0.0 && self.rng.next_f64() < self.loss
    }

    /// Sends a datagram; a full socket buffer or a message too large to send is a lost message,
    /// as it would be on a real network.
    fn send(&mut self, p: &Packet, to: SocketAddr) {
        self.buf.clear();
        if encode(p, &mut self.buf).is_ok() {
            let _ = self.sock.send_to(&self.buf, to);
        }
    }

    /// Sends a message to a node now, or after a draw of the emulated latency.
    fn send_later(&mut self, p: &Packet, addr: SocketAddr) {
        let Some(d) = &self.latency else {
            self.send(p, addr);
            return;
        };
        let delay = Duration::from_nanos(d.sample(&mut self.rng).max(0.0) as u64);
        let mut bytes = Vec::new();
        if encode(p, &mut bytes).is_err() || self.delayed.len() >= DELAYED_MAX {
            return;
        }
        self.delayed_seq += 1;
        self.delayed
            .insert((Instant::now() + delay, self.delayed_seq), (bytes, addr));
    }

    /// Sends the held-back messages whose time has come.
    fn send_due(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (bytes, addr) = entry.remove();
            let _ = self.sock.send_to(&bytes, addr);
        }
    }

    /// Times commits and tells the runner of a change of role, term or commit index.
    fn report(&mut self) -> Result<(), String> {
        let node = self.server.node();
        let now = (node.role(), node.term(), node.commit_index());
        let elapsed = self.started.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        let kept = &mut self.commit_latencies;
        self.commit_clock
            .observe(elapsed, now.0, now.1, node.log().last_index(), now.2, |d| {
                if kept.len() < LATENCIES_KEPT {
                    kept.push(d);
                }
            });
        if self.reported == Some(now) {
            return Ok(());
        }
        self.reported = Some(now);
        let c = Control::State {
            id: self.id,
            role: now.0,
            term: now.1,
            commit: now.2,
            sent: self.sent,
        };
        send_control(&self.sock, self.runner, &c)
    }

    /// Makes everything durable and hands the runner what it timed.
    fn stop(&mut self) -> Result<(), String> {
        self.sync()?;
        let c = Control::CommitLatency {
            id: self.id,
            ns: std::mem::take(&mut self.commit_latencies),
        };
        send_control(&self.sock, self.runner, &c)
    }
}
