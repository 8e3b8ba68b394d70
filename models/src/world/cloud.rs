//! Request/response services on the world's hosts: `service` instances behind a load balancer,
//! `client` loads calling them, and services calling services, with what callers do about slow
//! and failed requests (timeouts, retries with backoff and jitter, a retry budget, a circuit
//! breaker, hedged requests).
//!
//! A **service** is a set of instances, one per host it is placed on (or `instances` of them,
//! unplaced). Each instance serves up to `concurrency` requests at once for a time drawn from
//! the service's distribution (or, with probability `slow`, from `slow_service`: a garbage
//! collection, a noisy neighbour) and queues the rest in FIFO order; beyond `queue_limit`
//! waiting it rejects a request at once (an error response, as an HTTP 503). A service may call
//! another (`calls`): after its own work each request makes `fanout` calls to that service, and
//! answers when all have ended (an error if any failed). While it waits it holds no worker (an
//! asynchronous server). A server does not know that its caller gave up: it serves a request
//! whose caller timed out all the same, and that work counts as `wasted`.
//!
//! The **load balancer** is the caller's (a sidecar, as Envoy's or gRPC's client-side
//! balancing): each caller keeps how many requests it has outstanding at each instance of the
//! service it calls and picks by the service's `balance` policy ([`crate::cloud::balance`]).
//! With `health_check`, the balancers of a service learn at each check which of its instances
//! are up and offer only those; without it, a crashed instance still gets requests, and its
//! callers find out by their timeouts.
//!
//! A **client** sends requests as a Poisson process at its rate, an open loop: clients do not
//! wait for earlier requests before sending more, which is why retries can add load that
//! outlives its cause (a metastable failure, Bronson et al., HotOS 2021). Each logical request
//! (a *call*) is one or more *attempts*:
//! - an attempt not answered within `timeout` is given up (the server may still be serving it);
//! - a failed attempt (timed out or an error) is retried up to `retries` times after a backoff
//!   ([`crate::cloud::call::Backoff`]), if the retry budget allows;
//! - with `hedge D`, an attempt unanswered after D gets one copy sent to another instance, and
//!   the first answer wins (Dean and Barroso, "The Tail at Scale", CACM 2013);
//! - an open circuit breaker fails a call at once.
//!
//! Messages between hosts cross the world's [`Links`] (latency, loss, partitions, zones),
//! drawn from the stream `cloud.network`; a lost request or response is found out only by the
//! caller's timeout (no retransmission: an RPC over a connection that broke). Unplaced callers
//! and instances hand their messages over at once, without an event. A crashed host's instances
//! lose what they queued and were serving and refuse requests until the host restarts.
//!
//! An **autoscaling group** ([`crate::cloud::autoscale`]) holds room for its largest size; its
//! instances are launched, booted, drained and removed as the group decides at each
//! evaluation, and each service counts its instance-hours and their cost.
//!
//! The **managed components** are services of one instance that are something else: a durable
//! queue ([`crate::cloud::queue`]: a request is a send; services that consume it run workers
//! that receive, process and delete), a topic (a send stored in each subscribed queue), a
//! sharded table ([`crate::cloud::shardkv`]: a request reads or writes its call's key on its
//! partition, or is throttled), an object store bucket ([`crate::cloud::objstore`]) and a
//! function ([`crate::cloud::functions`]: warm or cold environments, throttling). Callers
//! reach them exactly as they reach a service, so timeouts, retries and balancers apply alike.
//!
//! Random streams: `NAME.interarrival` and `NAME.keys` per client, `NAME.service` per service
//! (service times, slow requests, errors, cold starts), `NAME.balance` per service (the
//! balancers' draws), `NAME.backoff` per caller, `cloud.network`.

use std::collections::VecDeque;

use simcore::metrics::{CounterId, GaugeId, HeatmapId, HistogramId};
use simcore::{Ctx, Dist, Encoder, RngStream, SimDuration, SimError, SimTime, TraceEvent, Unit};

use crate::cloud::autoscale::{Action, AutoScaler, AutoscaleConfig, InstanceId};
use crate::cloud::balance::{Balance, Balancer};
use crate::cloud::call::{Breaker, CallPolicy, RetryBudget};
use crate::cloud::functions::{EnvId, FunctionId, FunctionSpec, Invoke, Platform};
use crate::cloud::objstore::{Latency as ObjectLatency, MAX_PUT, ObjectStore, OpKind, S3Error};
use crate::cloud::queue::{Delete, Queue, QueueConfig, Receipt};
use crate::cloud::shardkv::{Op, Table, TableConfig, key_hash};
use crate::network::{Fate, Links};

/// A service's downstream calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Downstream {
    /// The service called, by index in [`CloudConfig::services`].
    pub service: u32,
    /// Calls per request.
    pub fanout: u32,
    pub policy: CallPolicy,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    pub name: String,
    /// The host of each instance (`None`: unplaced, reached at once).
    pub instances: Vec<Option<u32>>,
    /// Requests one instance serves at once.
    pub concurrency: u32,
    /// Time to serve one request, in nanoseconds.
    pub service: Dist,
    /// With this probability a request takes a draw from the second distribution instead.
    pub slow: Option<(f64, Dist)>,
    /// Requests that may wait at one instance; more are rejected.
    pub queue_limit: Option<u64>,
    /// How callers pick an instance.
    pub balance: Balance,
    /// How often the balancers learn which instances are up.
    pub health_check: Option<SimDuration>,
    pub calls: Option<Downstream>,
    /// An autoscaling group: `instances` holds room for its largest size (an instance `k` on
    /// the host `k` mod the hosts placed on), of which the first `initial` start in service.
    pub autoscale: Option<Autoscale>,
    /// Dollars per instance-hour and per million requests served (`NAME.cost`).
    pub prices: Prices,
    /// The chance that serving a request ends in an error (the caller sees a failure; a
    /// consumer does not delete the message, so it is delivered again).
    pub errors: f64,
    /// Not a service but a durable queue (a `queue` block): a request is a send, answered
    /// when the message is stored; its one instance is where the queue runs.
    pub durable: Option<QueueConfig>,
    /// Not a service but a topic (a `topic` block): a request is a publish, stored in each of
    /// these durable queues (indices in [`CloudConfig::services`]) and then answered.
    pub topic: Option<Vec<u32>>,
    /// Not a service but a sharded key-value table (a `table` block): a request reads or writes
    /// its call's key on the partition holding it, or is throttled at that partition's limit.
    pub table: Option<TableConfig>,
    /// Not a service but an object store bucket (a `bucket` block): a request gets or puts its
    /// call's key, taking the store's latency for its kind and bytes.
    pub bucket: Option<ObjectLatency>,
    /// Not a service but a function (a `function` block): an invocation runs on an execution
    /// environment of the platform's, warm or after a cold start, or is throttled.
    pub function: Option<FunctionSpec>,
    /// The durable queue (an index in [`CloudConfig::services`]) whose messages each worker
    /// of each instance receives, processes for a service time and deletes, one at a time.
    pub consumes: Option<u32>,
}

impl ServiceConfig {
    /// A managed component (a queue, topic, table or function) as a service of one instance:
    /// the caller sets what it is. Placed on `host`, or unplaced.
    pub fn managed(name: &str, host: Option<u32>) -> Self {
        ServiceConfig {
            name: name.to_string(),
            instances: vec![host],
            concurrency: 1,
            service: Dist::Constant { value: 0.0 },
            slow: None,
            queue_limit: None,
            balance: Balance::RoundRobin,
            health_check: None,
            calls: None,
            autoscale: None,
            prices: Prices::default(),
            errors: 0.0,
            durable: None,
            topic: None,
            table: None,
            bucket: None,
            function: None,
            consumes: None,
        }
    }
}

/// What an autoscaling group tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleOn {
    /// The in-service instances' busy workers over their workers, averaged over the period.
    Cpu,
    /// Requests waiting per in-service instance, when the group is evaluated.
    Queue,
}

impl ScaleOn {
    pub const NAMES: &'static [&'static str] = &["cpu", "queue"];

    pub fn from_name(name: &str) -> Option<ScaleOn> {
        match name {
            "cpu" => Some(ScaleOn::Cpu),
            "queue" => Some(ScaleOn::Queue),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Autoscale {
    pub on: ScaleOn,
    pub config: AutoscaleConfig,
}

/// What running a service costs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Prices {
    pub instance_hour: f64,
    pub million_requests: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    pub name: String,
    pub host: Option<u32>,
    /// Requests per second (Poisson).
    pub rate: f64,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// The service called, by index in [`CloudConfig::services`].
    pub service: u32,
    pub policy: CallPolicy,
    /// A response later than this misses the objective (`NAME.slo_attainment`).
    pub slo: Option<SimDuration>,
    /// The keys its requests name, and the share of them that are writes (a table and a bucket
    /// use them).
    pub keys: Dist,
    pub writes: f64,
    /// The bytes of an object it puts, and the part size above which a put is a multipart
    /// upload with its parts sent in parallel (a bucket uses them).
    pub object_size: u64,
    pub part_size: Option<u64>,
}

/// A client's rate from `at` on (what `load NAME rate R` does).
#[derive(Debug, Clone, PartialEq)]
pub struct RateChange {
    pub at: SimTime,
    pub client: u32,
    pub rate: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CloudConfig {
    pub services: Vec<ServiceConfig>,
    pub clients: Vec<ClientConfig>,
    pub changes: Vec<RateChange>,
    /// Hosts whose CPUs and memory instances reserve (bin packing): each host's name and the
    /// shares of its CPUs and memory reserved (`HOST.cpu_allocated`, `HOST.memory_allocated`).
    pub allocations: Vec<(String, f64, f64)>,
}

/// The functions' account concurrency limit (Lambda's default per region): what functions
/// without reserved concurrency share.
pub const ACCOUNT_CONCURRENCY: u32 = 1000;

/// Bytes of a request or response message between hosts.
pub const MESSAGE_SIZE: u64 = 1024;

/// The services' events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudEv {
    /// A client's next request (if the client's arrivals are still of epoch `epoch`: a rate
    /// change draws them again).
    Arrive { client: u32, epoch: u32 },
    /// A request reaches its instance.
    Deliver { rpc: u32, epoch: u32 },
    /// An instance finished serving a request.
    Done { rpc: u32, epoch: u32 },
    /// A response reaches its caller.
    Reply { rpc: u32, epoch: u32, ok: bool },
    /// An attempt's timeout.
    Timeout { rpc: u32, epoch: u32 },
    /// A call's backoff ended: its next attempt goes.
    Retry { call: u32, epoch: u32 },
    /// A call's hedge delay ended.
    Hedge { call: u32, epoch: u32 },
    /// A service's balancers check its instances.
    Health { service: u32 },
    /// Rate change `index` takes effect.
    Change { index: u32 },
    /// A service's autoscaling group is evaluated.
    Scale { service: u32 },
    /// A service's autoscaling group has an instance to bring into service or to remove.
    ScaleDue { service: u32 },
    /// Worker `worker` of instance `instance` finished processing its message (if the
    /// instance's epoch is still `epoch`).
    Processed {
        instance: u32,
        worker: u32,
        epoch: u32,
    },
    /// A durable queue's messages may have become visible: its waiting consumers poll.
    Wake { queue: u32 },
}

impl TraceEvent for CloudEv {
    /// Not inlined into the world's encoding: the other families' events keep the event loop
    /// they had (measured: raft-bench's instructions per event).
    #[inline(never)]
    fn encode(&self, e: &mut Encoder<'_>) {
        match *self {
            CloudEv::Arrive { client, epoch } => {
                e.u8(20).u32(client).u32(epoch);
            }
            CloudEv::Deliver { rpc, epoch } => {
                e.u8(21).u32(rpc).u32(epoch);
            }
            CloudEv::Done { rpc, epoch } => {
                e.u8(22).u32(rpc).u32(epoch);
            }
            CloudEv::Reply { rpc, epoch, ok } => {
                e.u8(23).u32(rpc).u32(epoch).u8(u8::from(ok));
            }
            CloudEv::Timeout { rpc, epoch } => {
                e.u8(24).u32(rpc).u32(epoch);
            }
            CloudEv::Retry { call, epoch } => {
                e.u8(25).u32(call).u32(epoch);
            }
            CloudEv::Hedge { call, epoch } => {
                e.u8(26).u32(call).u32(epoch);
            }
            CloudEv::Health { service } => {
                e.u8(27).u32(service);
            }
            CloudEv::Change { index } => {
                e.u8(28).u32(index);
            }
            CloudEv::Scale { service } => {
                e.u8(29).u32(service);
            }
            CloudEv::ScaleDue { service } => {
                e.u8(30).u32(service);
            }
            CloudEv::Processed {
                instance,
                worker,
                epoch,
            } => {
                e.u8(31).u32(instance).u32(worker).u32(epoch);
            }
            CloudEv::Wake { queue } => {
                e.u8(32).u32(queue);
            }
        }
    }
}

/// Items with generations: an event names an item by (index, generation), so an event for an
/// item that ended and whose slot was reused finds a different generation and does nothing.
#[derive(Debug)]
struct Slab<T> {
    items: Vec<(u32, Option<T>)>,
    free: Vec<u32>,
}

impl<T> Slab<T> {
    fn new() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
        }
    }

    fn insert(&mut self, item: T) -> (u32, u32) {
        match self.free.pop() {
            Some(i) => {
                let slot = &mut self.items[i as usize];
                slot.0 = slot.0.wrapping_add(1);
                slot.1 = Some(item);
                (i, slot.0)
            }
            None => {
                self.items.push((0, Some(item)));
                (self.items.len() as u32 - 1, 0)
            }
        }
    }

    fn get(&mut self, i: u32, epoch: u32) -> Option<&mut T> {
        match self.items.get_mut(i as usize) {
            Some((g, Some(item))) if *g == epoch => Some(item),
            _ => None,
        }
    }

    fn remove(&mut self, i: u32) {
        if let Some(slot) = self.items.get_mut(i as usize)
            && slot.1.take().is_some()
        {
            self.free.push(i);
        }
    }

    fn live(&self) -> usize {
        self.items.len() - self.free.len()
    }
}

/// Who is waiting for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Client(u32),
    /// A request of a service (rpc, generation) making its downstream calls.
    Parent(u32, u32),
}

#[derive(Debug)]
struct Call {
    /// Index in `callers`.
    caller: u32,
    origin: Origin,
    /// The host it is sent from.
    from: Option<u32>,
    started: SimTime,
    retries: u32,
    last_backoff: SimDuration,
    /// Attempts the caller is waiting for (an attempt and its hedge at most).
    live: [Option<(u32, u32)>; 2],
    hedged: bool,
    /// The key it names and whether it writes (for a table or a bucket).
    key: u64,
    write: bool,
}

impl Call {
    fn live_count(&self) -> usize {
        self.live.iter().flatten().count()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RpcState {
    OnWire,
    Queued,
    Serving,
    /// Waiting for its downstream calls.
    Children {
        pending: u32,
        failed: bool,
    },
    /// Answered, or lost with its instance.
    Over,
}

/// One attempt: a request to one instance.
#[derive(Debug)]
struct Rpc {
    call: (u32, u32),
    /// Global index in `instances`.
    instance: u32,
    /// Reached its instance at (for `sojourn`).
    arrived: SimTime,
    state: RpcState,
    /// The caller still waits for it.
    waiting: bool,
    /// The execution environment running it (a function's invocation).
    env: Option<EnvId>,
    /// Its call's key and whether it writes (for a table).
    key: u64,
    write: bool,
    /// Its answer is an error (a bucket's request that failed when it took effect).
    failed: bool,
}

#[derive(Debug)]
struct Instance {
    service: u32,
    host: Option<u32>,
    /// Its host is up.
    up: bool,
    /// As the balancers see it (the last health check's finding).
    healthy: bool,
    /// In service: launched, booted, not draining. The balancers offer an instance that is
    /// active and healthy.
    active: bool,
    /// Launched (booting, in service or draining): it costs.
    launched: bool,
    /// Its identity in the service's autoscaling group.
    scaled: Option<InstanceId>,
    /// Requests being served.
    serving: Vec<(u32, u32)>,
    queue: VecDeque<(u32, u32)>,
    /// Bumped when the instance loses its work (a crash, its removal): a consumer's
    /// `Processed` of an earlier epoch does nothing.
    epoch: u32,
    /// A consumer's workers: the message each is processing, and when it was sent (none: idle
    /// or waiting).
    workers: Vec<Option<(Receipt, SimTime)>>,
}

/// A durable queue's state: the messages (their send times as bodies), the consumers waiting
/// for one, and its metrics.
#[derive(Debug)]
struct Mailbox {
    queue: Queue<SimTime>,
    /// Consumers' (instance, worker) waiting for a message, in the order they started waiting.
    waiting: VecDeque<(u32, u32)>,
    /// A `Wake` is scheduled at this time.
    wake_at: Option<SimTime>,
    metrics: Option<MailboxMetrics>,
}

#[derive(Debug)]
struct StoreMetrics {
    gets: CounterId,
    puts: CounterId,
    not_found: CounterId,
    bytes_in: CounterId,
    bytes_out: CounterId,
    stored: GaugeId,
}

/// The bucket's name inside its store (a `bucket` block is one bucket).
const BUCKET: &str = "b";

#[derive(Debug)]
struct TableMetrics {
    reads: CounterId,
    writes: CounterId,
    throttled: CounterId,
    splits: CounterId,
    partitions: GaugeId,
    /// Requests, and throttled requests, per partition per time bucket (set at the end).
    requests: HeatmapId,
    throttles: HeatmapId,
}

#[derive(Debug)]
struct MailboxMetrics {
    sent: CounterId,
    received: CounterId,
    redelivered: CounterId,
    deleted: CounterId,
    dead_lettered: CounterId,
    depth: GaugeId,
    age: HistogramId,
}

#[derive(Debug)]
struct ServiceMetrics {
    served: CounterId,
    rejected: CounterId,
    wasted: CounterId,
    sojourn: HistogramId,
    queue_len: GaugeId,
    busy: GaugeId,
    instances: GaugeId,
    instance_hours: GaugeId,
    cost: GaugeId,
    /// A function's invocations that started cold.
    cold_starts: Option<CounterId>,
}

#[derive(Debug)]
struct Service {
    config: ServiceConfig,
    /// Its instances: `first..first + n` in `instances`.
    first: u32,
    stream: RngStream,
    balance_stream: RngStream,
    queued: u64,
    busy: u64,
    /// Instances not offered to balancers (inactive or unhealthy): picks take the fast path
    /// when there are none.
    unoffered: u32,
    scaler: Option<AutoScaler>,
    /// Busy workers integrated over time since the last evaluation (worker-nanoseconds).
    busy_area: f64,
    busy_since: SimTime,
    /// Launched instances integrated over time (instance-nanoseconds), up to `launched_since`.
    instance_ns: f64,
    launched_since: SimTime,
    launched: u32,
    /// The group's boot completion or drain deadline an event is scheduled for.
    due: Option<SimTime>,
    /// Requests served (for the cost).
    served: u64,
    /// A durable queue's state (a `queue` block).
    mailbox: Option<Mailbox>,
    /// Its calls' caller (an index in `callers`), when it calls another service.
    downstream: Option<u32>,
    /// A function's place in the platform (a `function` block).
    function: Option<FunctionId>,
    /// A topic's counters: messages published, and copies stored in its queues.
    topic_metrics: Option<(CounterId, CounterId)>,
    /// A table's partitions and their load.
    table: Option<Table>,
    /// A bucket's objects.
    store: Option<ObjectStore>,
    store_metrics: Option<StoreMetrics>,
    table_metrics: Option<TableMetrics>,
    /// Busy workers integrated over the whole run (a function's billed duration).
    busy_total: f64,
    metrics: Option<ServiceMetrics>,
}

impl Service {
    /// The busy count changes at `now`: the time at the old count goes into the area.
    fn set_busy(&mut self, now: SimTime, busy: u64) {
        let area = self.busy as f64 * now.saturating_since(self.busy_since).as_nanos() as f64;
        self.busy_area += area;
        self.busy_total += area;
        self.busy_since = now;
        self.busy = busy;
    }

    /// Time to serve one request: a draw from `service`, or with probability `slow` from
    /// `slow_service`.
    fn service_time(&mut self) -> SimDuration {
        let rng = &mut self.stream;
        match &self.config.slow {
            Some((p, slow)) if rng.chance(*p) => ns(slow, rng),
            _ => ns(&self.config.service, rng),
        }
    }

    /// Whether serving a request ends in an error (drawn only when `errors` is set, so a
    /// service without errors draws as it would without the property).
    fn fails(&mut self) -> bool {
        self.config.errors > 0.0 && self.stream.chance(self.config.errors)
    }

    /// The launched count changes at `now`.
    fn set_launched(&mut self, now: SimTime, launched: u32) {
        self.instance_ns +=
            self.launched as f64 * now.saturating_since(self.launched_since).as_nanos() as f64;
        self.launched_since = now;
        self.launched = launched;
    }

    /// Instance-hours so far, and their cost with the requests served.
    fn cost(&self, now: SimTime, served: u64) -> (f64, f64) {
        let ns = if self.function.is_some() {
            // A function is billed for the time its invocations run.
            self.busy_total
                + self.busy as f64 * now.saturating_since(self.busy_since).as_nanos() as f64
        } else {
            self.instance_ns
                + self.launched as f64 * now.saturating_since(self.launched_since).as_nanos() as f64
        };
        let hours = ns / 3.6e12;
        let p = self.config.prices;
        (
            hours,
            hours * p.instance_hour + served as f64 / 1e6 * p.million_requests,
        )
    }
}

#[derive(Debug)]
struct CallerMetrics {
    requests: CounterId,
    ok: CounterId,
    failed: CounterId,
    latency: HistogramId,
    attempts: CounterId,
    retries: CounterId,
    hedges: CounterId,
    timeouts: CounterId,
    short_circuited: CounterId,
    budget_denied: CounterId,
    goodput: GaugeId,
    slo: Option<GaugeId>,
}

/// A client or a service calling another: its policy, balancer and the state they keep.
#[derive(Debug)]
struct Caller {
    name: String,
    /// The service it calls.
    target: u32,
    policy: CallPolicy,
    balancer: Balancer,
    /// Its requests outstanding at each instance of the target.
    outstanding: Vec<u32>,
    budget: Option<RetryBudget>,
    breaker: Option<Breaker>,
    backoff_stream: RngStream,
    slo: Option<SimDuration>,
    /// Calls ended, and those that ended well within the objective.
    ended: u64,
    met: u64,
    /// Successes in the current second, and that second.
    second: u64,
    in_second: u64,
    metrics: Option<CallerMetrics>,
}

#[derive(Debug)]
struct Client {
    config: ClientConfig,
    caller: u32,
    rate: f64,
    sent: u64,
    /// The epoch of the arrival scheduled: bumped when the rate changes.
    epoch: u32,
    /// Draws its requests' keys and operations.
    keys_stream: RngStream,
    stream: RngStream,
}

/// The services, their clients and everything in flight between them.
#[derive(Debug)]
pub struct Cloud {
    services: Vec<Service>,
    instances: Vec<Instance>,
    clients: Vec<Client>,
    callers: Vec<Caller>,
    changes: Vec<RateChange>,
    calls: Slab<Call>,
    rpcs: Slab<Rpc>,
    net_stream: RngStream,
    /// The names of the streams above, registered with the run when it starts.
    stream_names: Vec<String>,
    /// The functions' platform (one account), if the scenario has functions.
    platform: Option<Platform>,
    /// Hosts' reserved shares, reported at the start.
    allocations: Vec<(String, f64, f64)>,
    /// Reused for the balancer's view of the healthy instances.
    view: Vec<u32>,
    view_index: Vec<u32>,
}

/// The components' random streams, each derived from the seed and its name, and the names, so
/// that the run registers every one of them and no other component's can collide.
struct Streams {
    seed: u64,
    names: Vec<String>,
}

impl Streams {
    fn derive(&mut self, name: String) -> RngStream {
        let stream = RngStream::derive(self.seed, &name);
        self.names.push(name);
        stream
    }
}

fn ns(d: &Dist, rng: &mut RngStream) -> SimDuration {
    SimDuration::from_nanos_f64(d.sample(rng).max(0.0))
}

impl Cloud {
    pub fn new(config: CloudConfig, seed: u64) -> Result<Self, String> {
        let n = config.services.len() as u32;
        let mut instances = Vec::new();
        let mut services = Vec::new();
        let mut callers = Vec::new();
        let mut streams = Streams {
            seed,
            names: Vec::new(),
        };
        for (s, sc) in config.services.into_iter().enumerate() {
            if sc.instances.is_empty() {
                return Err(format!("service `{}` has no instances", sc.name));
            }
            let first = instances.len() as u32;
            let scaler = match &sc.autoscale {
                Some(a) => Some(
                    AutoScaler::new(a.config.clone())
                        .map_err(|e| format!("service `{}`: {e}", sc.name))?,
                ),
                None => None,
            };
            let initial = match &sc.autoscale {
                Some(a) => a.config.initial as usize,
                None => sc.instances.len(),
            };
            for (k, host) in sc.instances.iter().enumerate() {
                let on = k < initial;
                instances.push(Instance {
                    service: s as u32,
                    host: *host,
                    up: true,
                    healthy: true,
                    active: on,
                    launched: on,
                    scaled: (on && scaler.is_some()).then_some(k as InstanceId),
                    serving: Vec::with_capacity(sc.concurrency.min(1024) as usize),
                    queue: VecDeque::new(),
                    epoch: 0,
                    workers: if sc.consumes.is_some() {
                        vec![None; sc.concurrency as usize]
                    } else {
                        Vec::new()
                    },
                });
            }
            services.push(Service {
                stream: streams.derive(format!("{}.service", sc.name)),
                balance_stream: streams.derive(format!("{}.balance", sc.name)),
                unoffered: (sc.instances.len() - initial) as u32,
                scaler,
                busy_area: 0.0,
                busy_since: SimTime::ZERO,
                instance_ns: 0.0,
                launched_since: SimTime::ZERO,
                launched: initial as u32,
                due: None,
                served: 0,
                mailbox: match &sc.durable {
                    Some(q) => Some(Mailbox {
                        queue: Queue::new(q.clone())
                            .map_err(|e| format!("queue `{}`: {e}", sc.name))?,
                        waiting: VecDeque::new(),
                        wake_at: None,
                        metrics: None,
                    }),
                    None => None,
                },
                downstream: None,
                function: None,
                topic_metrics: None,
                table: match &sc.table {
                    Some(t) => Some(
                        Table::new(t.clone(), SimTime::ZERO)
                            .map_err(|e| format!("table `{}`: {e}", sc.name))?,
                    ),
                    None => None,
                },
                table_metrics: None,
                store: match &sc.bucket {
                    Some(latency) => {
                        let mut store = ObjectStore::new(latency.clone());
                        store
                            .create_bucket(BUCKET, false)
                            .map_err(|e| format!("bucket `{}`: {e}", sc.name))?;
                        Some(store)
                    }
                    None => None,
                },
                store_metrics: None,
                busy_total: 0.0,
                config: sc,
                first,
                queued: 0,
                busy: 0,
                metrics: None,
            });
        }
        let caller = |name: &str,
                      target: u32,
                      policy: &CallPolicy,
                      slo,
                      services: &[Service],
                      streams: &mut Streams| {
            let t = &services[target as usize];
            Caller {
                name: name.to_string(),
                target,
                policy: policy.clone(),
                balancer: Balancer::new(t.config.balance),
                outstanding: vec![0; t.config.instances.len()],
                budget: policy.budget.map(RetryBudget::new),
                breaker: policy.breaker.map(Breaker::new),
                backoff_stream: streams.derive(format!("{name}.backoff")),
                slo,
                ended: 0,
                met: 0,
                second: 0,
                in_second: 0,
                metrics: None,
            }
        };
        let mut platform = None;
        for svc in &mut services {
            if let Some(spec) = svc.config.function.clone() {
                let p = match platform.as_mut() {
                    Some(p) => p,
                    None => platform
                        .insert(Platform::new(ACCOUNT_CONCURRENCY).map_err(|e| e.to_string())?),
                };
                svc.function = Some(
                    p.add(spec)
                        .map_err(|e| format!("function `{}`: {e}", svc.config.name))?,
                );
            }
        }
        let mut clients = Vec::new();
        for c in config.clients {
            if c.service >= n {
                return Err(format!(
                    "client `{}` calls a service that does not exist",
                    c.name
                ));
            }
            callers.push(caller(
                &c.name,
                c.service,
                &c.policy,
                c.slo,
                &services,
                &mut streams,
            ));
            clients.push(Client {
                caller: callers.len() as u32 - 1,
                rate: c.rate,
                sent: 0,
                epoch: 0,
                keys_stream: streams.derive(format!("{}.keys", c.name)),
                stream: streams.derive(format!("{}.interarrival", c.name)),
                config: c,
            });
        }
        for s in 0..services.len() {
            if let Some(d) = services[s].config.calls.clone() {
                if d.service >= n {
                    return Err(format!(
                        "service `{}` calls a service that does not exist",
                        services[s].config.name
                    ));
                }
                let name = services[s].config.name.clone();
                callers.push(caller(
                    &name,
                    d.service,
                    &d.policy,
                    None,
                    &services,
                    &mut streams,
                ));
                services[s].downstream = Some(callers.len() as u32 - 1);
            }
        }
        Ok(Cloud {
            services,
            instances,
            clients,
            callers,
            changes: config.changes,
            calls: Slab::new(),
            rpcs: Slab::new(),
            net_stream: streams.derive("cloud.network".to_string()),
            stream_names: streams.names,
            platform,
            allocations: config.allocations,
            view: Vec::new(),
            view_index: Vec::new(),
        })
    }

    pub fn start<E: From<CloudEv> + TraceEvent>(
        &mut self,
        ctx: &mut Ctx<'_, E>,
    ) -> Result<(), SimError> {
        let setup = |e: simcore::metrics::MetricError| SimError::Setup(e.to_string());
        // The streams are the components' own (drawn from without borrowing the context);
        // their names are registered so that no other component's can collide with them.
        for n in &self.stream_names {
            ctx.stream(n)?;
        }
        for s in &mut self.services {
            let n = s.config.name.clone();
            let m = ctx.metrics();
            if let Some(mb) = s.mailbox.as_mut() {
                mb.metrics = Some(MailboxMetrics {
                    sent: m.counter(&n, "sent").map_err(setup)?,
                    received: m.counter(&n, "received").map_err(setup)?,
                    redelivered: m.counter(&n, "redelivered").map_err(setup)?,
                    deleted: m.counter(&n, "deleted").map_err(setup)?,
                    dead_lettered: m.counter(&n, "dead_lettered").map_err(setup)?,
                    depth: m.gauge(&n, "depth").map_err(setup)?,
                    age: m.histogram(&n, "age", Unit::Ns).map_err(setup)?,
                });
                continue;
            }
            if s.store.is_some() {
                s.store_metrics = Some(StoreMetrics {
                    gets: m.counter(&n, "gets").map_err(setup)?,
                    puts: m.counter(&n, "puts").map_err(setup)?,
                    not_found: m.counter(&n, "not_found").map_err(setup)?,
                    bytes_in: m.counter(&n, "bytes_in").map_err(setup)?,
                    bytes_out: m.counter(&n, "bytes_out").map_err(setup)?,
                    stored: m.gauge(&n, "stored").map_err(setup)?,
                });
                continue;
            }
            if let Some(t) = &s.table {
                let tm = TableMetrics {
                    reads: m.counter(&n, "reads").map_err(setup)?,
                    writes: m.counter(&n, "writes").map_err(setup)?,
                    throttled: m.counter(&n, "throttled").map_err(setup)?,
                    splits: m.counter(&n, "splits").map_err(setup)?,
                    partitions: m.gauge(&n, "partitions").map_err(setup)?,
                    requests: m.heatmap(&n, "heatmap").map_err(setup)?,
                    throttles: m.heatmap(&n, "throttle_map").map_err(setup)?,
                };
                m.set(tm.partitions, SimTime::ZERO, t.live().len() as f64);
                s.table_metrics = Some(tm);
                continue;
            }
            if s.config.topic.is_some() {
                s.topic_metrics = Some((
                    m.counter(&n, "published").map_err(setup)?,
                    m.counter(&n, "delivered").map_err(setup)?,
                ));
                continue;
            }
            let metrics = ServiceMetrics {
                served: m.counter(&n, "served").map_err(setup)?,
                rejected: m.counter(&n, "rejected").map_err(setup)?,
                wasted: m.counter(&n, "wasted").map_err(setup)?,
                sojourn: m.histogram(&n, "sojourn", Unit::Ns).map_err(setup)?,
                queue_len: m.gauge(&n, "queue_len").map_err(setup)?,
                busy: m.gauge(&n, "busy").map_err(setup)?,
                instances: m.gauge(&n, "instances").map_err(setup)?,
                instance_hours: m.gauge(&n, "instance_hours").map_err(setup)?,
                cost: m.gauge(&n, "cost").map_err(setup)?,
                cold_starts: match s.function {
                    Some(_) => Some(m.counter(&n, "cold_starts").map_err(setup)?),
                    None => None,
                },
            };
            m.set(metrics.instances, SimTime::ZERO, s.launched as f64);
            s.metrics = Some(metrics);
        }
        for c in &mut self.callers {
            let n = c.name.clone();
            let m = ctx.metrics();
            c.metrics = Some(CallerMetrics {
                requests: m.counter(&n, "requests").map_err(setup)?,
                ok: m.counter(&n, "ok").map_err(setup)?,
                failed: m.counter(&n, "failed").map_err(setup)?,
                latency: m.histogram(&n, "latency", Unit::Ns).map_err(setup)?,
                attempts: m.counter(&n, "attempts").map_err(setup)?,
                retries: m.counter(&n, "retries").map_err(setup)?,
                hedges: m.counter(&n, "hedges").map_err(setup)?,
                timeouts: m.counter(&n, "timeouts").map_err(setup)?,
                short_circuited: m.counter(&n, "short_circuited").map_err(setup)?,
                budget_denied: m.counter(&n, "budget_denied").map_err(setup)?,
                goodput: m.gauge(&n, "goodput").map_err(setup)?,
                slo: match c.slo {
                    Some(_) => Some(m.gauge(&n, "slo_attainment").map_err(setup)?),
                    None => None,
                },
            });
        }
        for i in 0..self.clients.len() {
            self.schedule_arrival(i as u32, ctx);
        }
        for (s, svc) in self.services.iter().enumerate() {
            if let Some(every) = svc.config.health_check {
                ctx.schedule_in(every, CloudEv::Health { service: s as u32 }.into());
            }
        }
        for (i, c) in self.changes.iter().enumerate() {
            ctx.schedule_at(c.at, CloudEv::Change { index: i as u32 }.into());
        }
        for (s, svc) in self.services.iter().enumerate() {
            if let Some(a) = &svc.config.autoscale {
                ctx.schedule_in(a.config.period, CloudEv::Scale { service: s as u32 }.into());
            }
        }
        for i in 0..self.instances.len() {
            self.start_workers(i as u32, ctx);
        }
        for (host, cpu, memory) in &self.allocations {
            let m = ctx.metrics();
            let c = m.gauge(host, "cpu_allocated").map_err(setup)?;
            m.set(c, SimTime::ZERO, *cpu);
            let g = m.gauge(host, "memory_allocated").map_err(setup)?;
            m.set(g, SimTime::ZERO, *memory);
        }
        Ok(())
    }

    /// The run ends: each service's instance-hours and cost so far.
    pub fn finish<E: From<CloudEv> + TraceEvent>(&mut self, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        for s in 0..self.services.len() {
            self.report_cost(s, now, ctx);
            self.report_heatmaps(s, ctx);
        }
    }

    /// A table's request and throttle heatmaps: a row per partition ever (by creation, labelled
    /// with the share of the hashed key space it held), a column per time bucket.
    fn report_heatmaps<E: TraceEvent>(&self, s: usize, ctx: &mut Ctx<'_, E>) {
        let svc = &self.services[s];
        let (Some(table), Some(m), Some(config)) =
            (&svc.table, &svc.table_metrics, &svc.config.table)
        else {
            return;
        };
        let labels: Vec<String> = table
            .partitions()
            .iter()
            .map(|p| {
                let share = |k: u64| k as f64 / u64::MAX as f64;
                format!("p{} {:.3}..{:.3}", p.id, share(p.lo), share(p.hi))
            })
            .collect();
        let rows = |grid: Vec<Vec<u64>>| labels.iter().cloned().zip(grid).collect::<Vec<_>>();
        let metrics = ctx.metrics();
        metrics.set_heatmap(m.requests, rows(table.heatmap()), config.bucket);
        metrics.set_heatmap(m.throttles, rows(table.throttle_map()), config.bucket);
    }

    fn report_cost<E: TraceEvent>(&self, s: usize, now: SimTime, ctx: &mut Ctx<'_, E>) {
        let svc = &self.services[s];
        if let Some(m) = &svc.metrics {
            let (hours, cost) = svc.cost(now, svc.served);
            let metrics = ctx.metrics();
            metrics.set(m.instance_hours, now, hours);
            metrics.set(m.cost, now, cost);
        }
    }

    /// Schedules client `client`'s next request: Poisson arrivals, so the gap is exponential
    /// whenever it is drawn (a rate change draws it again from the change, which memorylessness
    /// makes exact).
    fn schedule_arrival<E: From<CloudEv> + TraceEvent>(
        &mut self,
        client: u32,
        ctx: &mut Ctx<'_, E>,
    ) {
        let c = &mut self.clients[client as usize];
        if c.rate <= 0.0 || c.config.requests.is_some_and(|n| c.sent >= n) {
            return;
        }
        let gap = -c.stream.next_f64_open0().ln() / c.rate;
        let epoch = c.epoch;
        ctx.schedule_in(
            SimDuration::from_nanos_f64(gap * 1e9),
            CloudEv::Arrive { client, epoch }.into(),
        );
    }

    pub fn handle<E: From<CloudEv> + TraceEvent>(
        &mut self,
        ev: CloudEv,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        match ev {
            CloudEv::Arrive { client, epoch } => {
                let c = &mut self.clients[client as usize];
                if c.epoch != epoch {
                    return; // drawn before a rate change
                }
                c.sent += 1;
                let (caller, from) = (c.caller, c.config.host);
                // A key and an operation, drawn only for a table (so other runs draw as before).
                let target = &self.services[c.config.service as usize];
                let key = if target.table.is_some() || target.store.is_some() {
                    let key = c.config.keys.sample(&mut c.keys_stream).max(0.0) as u64;
                    let write = c.keys_stream.chance(c.config.writes);
                    (key, write)
                } else {
                    (0, false)
                };
                self.schedule_arrival(client, ctx);
                self.new_call(caller, Origin::Client(client), from, key, ctx, links);
            }
            CloudEv::Deliver { rpc, epoch } => self.deliver(rpc, epoch, ctx, links),
            CloudEv::Done { rpc, epoch } => self.done(rpc, epoch, ctx, links),
            CloudEv::Reply { rpc, epoch, ok } => self.reply(rpc, epoch, ok, ctx, links),
            CloudEv::Timeout { rpc, epoch } => self.timeout(rpc, epoch, ctx, links),
            CloudEv::Retry { call, epoch } => {
                if self.calls.get(call, epoch).is_some() {
                    self.attempt((call, epoch), None, ctx, links);
                }
            }
            CloudEv::Hedge { call, epoch } => {
                let Some(c) = self.calls.get(call, epoch) else {
                    return;
                };
                // Only while the first attempt is the one outstanding.
                if c.hedged || c.live_count() != 1 {
                    return;
                }
                c.hedged = true;
                let avoid = c.live.iter().flatten().next().copied();
                let avoid = avoid.and_then(|(r, g)| self.rpcs.get(r, g).map(|r| r.instance));
                let caller = c.caller as usize;
                let sent = self.attempt((call, epoch), avoid, ctx, links);
                if sent && let Some(m) = &self.callers[caller].metrics {
                    ctx.metrics().add(m.hedges, 1);
                }
            }
            CloudEv::Health { service } => {
                let s = &self.services[service as usize];
                let (first, n) = (s.first as usize, s.config.instances.len());
                let every = s.config.health_check;
                for inst in &mut self.instances[first..first + n] {
                    inst.healthy = inst.up;
                }
                self.refresh_offered(service as usize);
                if let Some(every) = every {
                    ctx.schedule_in(every, CloudEv::Health { service }.into());
                }
            }
            CloudEv::Scale { service } => self.scale(service as usize, ctx, links),
            CloudEv::ScaleDue { service } => {
                let s = service as usize;
                let now = ctx.now();
                self.services[s].due = None;
                let actions = match self.services[s].scaler.as_mut() {
                    Some(sc) => sc.advance(now),
                    None => return,
                };
                for a in actions {
                    self.apply(s, a, ctx);
                }
                self.schedule_due(s, ctx);
            }
            CloudEv::Processed {
                instance,
                worker,
                epoch,
            } => self.processed(instance, worker, epoch, ctx),
            CloudEv::Wake { queue } => {
                let Some(mb) = self.services[queue as usize].mailbox.as_mut() else {
                    return;
                };
                mb.wake_at = None;
                let waiting: Vec<(u32, u32)> = mb.waiting.drain(..).collect();
                for (i, w) in waiting {
                    self.poll(i, w, ctx);
                }
            }
            CloudEv::Change { index } => {
                let Some(change) = self.changes.get(index as usize) else {
                    return;
                };
                let client = change.client;
                let c = &mut self.clients[client as usize];
                c.rate = change.rate;
                c.epoch = c.epoch.wrapping_add(1);
                self.schedule_arrival(client, ctx);
            }
        }
    }

    /// A new call from `caller` to its target service.
    fn new_call<E: From<CloudEv> + TraceEvent>(
        &mut self,
        caller: u32,
        origin: Origin,
        from: Option<u32>,
        (key, write): (u64, bool),
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        let now = ctx.now();
        let c = &mut self.callers[caller as usize];
        if let Some(m) = &c.metrics {
            ctx.metrics().add(m.requests, 1);
        }
        if let Some(b) = c.budget.as_mut() {
            b.request(now);
        }
        let call = self.calls.insert(Call {
            caller,
            origin,
            from,
            started: now,
            retries: 0,
            last_backoff: SimDuration::ZERO,
            live: [None, None],
            hedged: false,
            key,
            write,
        });
        if self.attempt(call, None, ctx, links)
            && let Some(h) = self.callers[caller as usize].policy.hedge
        {
            ctx.schedule_in(
                h,
                CloudEv::Hedge {
                    call: call.0,
                    epoch: call.1,
                }
                .into(),
            );
        }
    }

    /// Sends one attempt of `call` (avoiding instance `avoid` where there is another); false
    /// when the breaker refused it or no instance is offered, in which case a call with no
    /// other attempt outstanding has failed.
    fn attempt<E: From<CloudEv> + TraceEvent>(
        &mut self,
        call: (u32, u32),
        avoid: Option<u32>,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) -> bool {
        let now = ctx.now();
        let Some(c) = self.calls.get(call.0, call.1) else {
            return false;
        };
        let (ci, from, key, write) = (c.caller as usize, c.from, c.key, c.write);
        let caller = &mut self.callers[ci];
        if let Some(b) = caller.breaker.as_mut()
            && !b.allow(now)
        {
            if let Some(m) = &caller.metrics {
                ctx.metrics().add(m.short_circuited, 1);
            }
            self.end_if_idle(call, false, ctx, links);
            return false;
        }
        let target = caller.target as usize;
        let Some(offset) = self.pick(ci, target, avoid) else {
            self.end_if_idle(call, false, ctx, links);
            return false;
        };
        let instance = self.services[target].first + offset;
        let caller = &mut self.callers[ci];
        caller.outstanding[offset as usize] += 1;
        if let Some(m) = &caller.metrics {
            ctx.metrics().add(m.attempts, 1);
        }
        let timeout = caller.policy.timeout;
        let rpc = self.rpcs.insert(Rpc {
            call,
            instance,
            arrived: now,
            state: RpcState::OnWire,
            waiting: true,
            env: None,
            key,
            write,
            failed: false,
        });
        if let Some(c) = self.calls.get(call.0, call.1)
            && let Some(slot) = c.live.iter_mut().find(|s| s.is_none())
        {
            *slot = Some(rpc);
        }
        let to = self.instances[instance as usize].host;
        let ev = CloudEv::Deliver {
            rpc: rpc.0,
            epoch: rpc.1,
        };
        self.send(from, to, ev, ctx, links);
        if let Some(t) = timeout {
            ctx.schedule_in(
                t,
                CloudEv::Timeout {
                    rpc: rpc.0,
                    epoch: rpc.1,
                }
                .into(),
            );
        }
        true
    }

    /// The instance (an offset into the target's) that caller `ci` sends to, among those its
    /// balancer is offered: the healthy ones, without `avoid` where another is healthy.
    fn pick(&mut self, ci: usize, target: usize, avoid: Option<u32>) -> Option<u32> {
        let s = &mut self.services[target];
        let first = s.first as usize;
        let n = s.config.instances.len();
        let caller = &mut self.callers[ci];
        let rng = &mut s.balance_stream;
        if s.unoffered == 0 && avoid.is_none() {
            return caller
                .balancer
                .pick(&caller.outstanding, rng)
                .map(|i| i as u32);
        }
        self.view.clear();
        self.view_index.clear();
        for (k, inst) in self.instances[first..first + n].iter().enumerate() {
            if inst.active && inst.healthy && Some((first + k) as u32) != avoid {
                self.view.push(caller.outstanding[k]);
                self.view_index.push(k as u32);
            }
        }
        if self.view.is_empty()
            && let Some(a) = avoid
            && self.instances[a as usize].active
            && self.instances[a as usize].healthy
        {
            return Some(a - first as u32); // the only one offered
        }
        let i = caller.balancer.pick(&self.view, rng)?;
        self.view_index.get(i).copied()
    }

    /// Sends `ev` from host `from` to host `to` over the network, or hands it over at once when
    /// either is unplaced or both are the same; a lost message is simply not delivered.
    fn send<E: From<CloudEv> + TraceEvent>(
        &mut self,
        from: Option<u32>,
        to: Option<u32>,
        ev: CloudEv,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        let now = ctx.now();
        match (from, to) {
            (Some(a), Some(b)) if a != b => {
                let rng = &mut self.net_stream;
                if let Fate::Delivered(at) = links.send(now, a, b, MESSAGE_SIZE, rng) {
                    for t in at.iter() {
                        ctx.schedule_at(*t, ev.into());
                    }
                }
            }
            // Handled at once rather than through the event queue: two of a call's five events
            // were these (a fifth fewer instructions per call in the cloud bench).
            _ => self.handle(ev, ctx, links),
        }
    }

    fn deliver<E: From<CloudEv> + TraceEvent>(
        &mut self,
        rpc: u32,
        epoch: u32,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        let now = ctx.now();
        let Some(r) = self.rpcs.get(rpc, epoch) else {
            return;
        };
        if r.state != RpcState::OnWire {
            return; // a duplicate
        }
        let inst = &mut self.instances[r.instance as usize];
        if !inst.up || !inst.launched {
            r.state = RpcState::Over;
            if !r.waiting {
                self.rpcs.remove(rpc);
            }
            return;
        }
        r.arrived = now;
        let (i, s) = (r.instance, inst.service as usize);
        if self.services[s].mailbox.is_some() {
            self.enqueue(s, now, ctx);
            self.respond((rpc, epoch), true, ctx, links);
            return;
        }
        if let Some(f) = self.services[s].function {
            self.invoke(s, f, (rpc, epoch), ctx, links);
            return;
        }
        if self.services[s].table.is_some() {
            let (key, write) = (r.key, r.write);
            self.table_request(s, (rpc, epoch), key, write, ctx, links);
            return;
        }
        if self.services[s].store.is_some() {
            let (key, write, call) = (r.key, r.write, r.call);
            // The sizes are the calling client's (only clients call buckets).
            let sizes = self
                .calls
                .get(call.0, call.1)
                .map(|c| c.caller)
                .and_then(|ci| self.clients.iter().find(|c| c.caller == ci))
                .map_or((1 << 20, None), |c| {
                    (c.config.object_size, c.config.part_size)
                });
            self.object_request(s, (rpc, epoch), key, write, sizes, ctx);
            return;
        }
        if let Some(queues) = self.services[s].config.topic.clone() {
            if let Some((published, delivered)) = self.services[s].topic_metrics {
                let metrics = ctx.metrics();
                metrics.add(published, 1);
                metrics.add(delivered, queues.len() as u64);
            }
            for q in queues {
                self.enqueue(q as usize, now, ctx);
            }
            self.respond((rpc, epoch), true, ctx, links);
            return;
        }
        let svc = &self.services[s];
        if (inst.serving.len() as u32) < svc.config.concurrency {
            self.serve(i, (rpc, epoch), ctx);
        } else if svc
            .config
            .queue_limit
            .is_some_and(|l| inst.queue.len() as u64 >= l)
        {
            // Rejected at once: an error response.
            if let Some(m) = &svc.metrics {
                ctx.metrics().add(m.rejected, 1);
            }
            self.respond((rpc, epoch), false, ctx, links);
        } else {
            r.state = RpcState::Queued;
            inst.queue.push_back((rpc, epoch));
            let svc = &mut self.services[s];
            svc.queued += 1;
            if let Some(m) = &svc.metrics {
                ctx.metrics().set(m.queue_len, now, svc.queued as f64);
            }
        }
    }

    /// A request to table `s` for `key`: admitted by its partition's token bucket and answered
    /// after the service time, or throttled at once (an error, as DynamoDB's
    /// ProvisionedThroughputExceeded; the caller's retries are the SDK's).
    fn table_request<E: From<CloudEv> + TraceEvent>(
        &mut self,
        s: usize,
        rpc: (u32, u32),
        key: u64,
        write: bool,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        let now = ctx.now();
        let svc = &mut self.services[s];
        let Some(table) = svc.table.as_mut() else {
            return;
        };
        let op = if write { Op::Write } else { Op::Read };
        // Partition keys are hashed, as DynamoDB hashes them.
        let access = table.request(now, key_hash(key), op, 1);
        let live = table.live().len();
        if let Some(m) = &svc.table_metrics {
            let metrics = ctx.metrics();
            metrics.add(if write { m.writes } else { m.reads }, 1);
            if !access.admitted {
                metrics.add(m.throttled, 1);
            }
            if access.split.is_some() {
                metrics.add(m.splits, 1);
                metrics.set(m.partitions, now, live as f64);
            }
        }
        if !access.admitted {
            self.respond(rpc, false, ctx, links);
            return;
        }
        let d = svc.service_time();
        if let Some(r) = self.rpcs.get(rpc.0, rpc.1) {
            r.state = RpcState::Serving;
        }
        ctx.schedule_in(
            d,
            CloudEv::Done {
                rpc: rpc.0,
                epoch: rpc.1,
            }
            .into(),
        );
    }

    /// A get or put of `key` on bucket `s`: it takes effect now, and its answer comes after the
    /// store's latency for its kind and bytes. A put larger than `part_size` is a multipart
    /// upload: initiate, the parts in parallel (the slowest decides), complete.
    fn object_request<E: From<CloudEv> + TraceEvent>(
        &mut self,
        s: usize,
        rpc: (u32, u32),
        key: u64,
        write: bool,
        (size, part): (u64, Option<u64>),
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let svc = &mut self.services[s];
        let Some(store) = svc.store.as_mut() else {
            return;
        };
        let rng = &mut svc.stream;
        let name = key.to_string();
        let (done_at, ok) = if write {
            match part.filter(|&p| p > 0 && size > p) {
                Some(p) => {
                    let parts = size.div_ceil(p);
                    let latency = store.latency().clone();
                    let mut slowest = SimDuration::ZERO;
                    for k in 0..parts {
                        let bytes = p.min(size - k * p);
                        slowest = slowest.max(latency.sample(OpKind::Multipart, bytes, rng));
                    }
                    let initiate = latency.sample(OpKind::Multipart, 0, rng);
                    let complete = latency.sample(OpKind::Multipart, 0, rng);
                    // The object's metadata is what a put of the same bytes stores.
                    let put = store.put(now, rng, BUCKET, &name, size.min(MAX_PUT), key);
                    let total = initiate.saturating_add(slowest).saturating_add(complete);
                    (now.saturating_add(total), put.result.is_ok())
                }
                None => {
                    let put = store.put(now, rng, BUCKET, &name, size, key);
                    (put.done_at, put.result.is_ok())
                }
            }
        } else {
            let got = store.get(now, rng, BUCKET, &name, None);
            match &got.result {
                Ok(meta) => {
                    if let Some(m) = &svc.store_metrics {
                        ctx.metrics().add(m.bytes_out, meta.size);
                    }
                    (got.done_at, true)
                }
                Err(S3Error::NoSuchKey(_)) => {
                    if let Some(m) = &svc.store_metrics {
                        ctx.metrics().add(m.not_found, 1);
                    }
                    // A 404 is an answer: the call succeeds.
                    (got.done_at, true)
                }
                Err(_) => (got.done_at, false),
            }
        };
        let stored = store.stored_bytes(BUCKET).unwrap_or(0);
        if let Some(m) = &svc.store_metrics {
            let metrics = ctx.metrics();
            if write {
                metrics.add(m.puts, 1);
                if ok {
                    metrics.add(m.bytes_in, size);
                }
                metrics.set(m.stored, now, stored as f64);
            } else {
                metrics.add(m.gets, 1);
            }
        }
        if let Some(r) = self.rpcs.get(rpc.0, rpc.1) {
            r.state = RpcState::Serving;
            r.failed = !ok;
        }
        ctx.schedule_at(
            done_at,
            CloudEv::Done {
                rpc: rpc.0,
                epoch: rpc.1,
            }
            .into(),
        );
    }

    /// Function `f` (service `s`) is invoked for `rpc`: it runs on a warm environment, or on a
    /// new one after its cold start, or is throttled (an error at once).
    fn invoke<E: From<CloudEv> + TraceEvent>(
        &mut self,
        s: usize,
        f: FunctionId,
        rpc: (u32, u32),
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        let now = ctx.now();
        let Some(platform) = self.platform.as_mut() else {
            return;
        };
        let svc = &mut self.services[s];
        let (env, start) = match platform.invoke(f, now, &mut svc.stream) {
            Invoke::Throttled => {
                if let Some(m) = &svc.metrics {
                    ctx.metrics().add(m.rejected, 1);
                }
                self.respond(rpc, false, ctx, links);
                return;
            }
            Invoke::Warm { env } => (env, now),
            Invoke::Cold { env, ready_at } => {
                if let Some(c) = svc.metrics.as_ref().and_then(|m| m.cold_starts) {
                    ctx.metrics().add(c, 1);
                }
                (env, ready_at)
            }
        };
        svc.set_busy(now, svc.busy + 1);
        let environments = platform.stats(f).environments;
        let d = svc.service_time();
        if let Some(m) = &svc.metrics {
            let metrics = ctx.metrics();
            metrics.set(m.busy, now, svc.busy as f64);
            metrics.set(m.instances, now, environments as f64);
        }
        if let Some(r) = self.rpcs.get(rpc.0, rpc.1) {
            r.state = RpcState::Serving;
            r.env = Some(env);
        }
        ctx.schedule_at(
            start.saturating_add(d),
            CloudEv::Done {
                rpc: rpc.0,
                epoch: rpc.1,
            }
            .into(),
        );
    }

    /// A function's invocation ended: its environment goes idle, and the answer goes back.
    fn invoked<E: From<CloudEv> + TraceEvent>(
        &mut self,
        s: usize,
        rpc: (u32, u32),
        env: EnvId,
        waiting: bool,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        let now = ctx.now();
        if let Some(p) = self.platform.as_mut() {
            p.finish(env, now);
        }
        let svc = &mut self.services[s];
        svc.set_busy(now, svc.busy - 1);
        svc.served += 1;
        if let Some(m) = &svc.metrics {
            let metrics = ctx.metrics();
            metrics.add(m.served, 1);
            if !waiting {
                metrics.add(m.wasted, 1);
            }
            metrics.set(m.busy, now, svc.busy as f64);
        }
        let ok = !svc.fails();
        self.respond(rpc, ok, ctx, links);
    }

    /// Instance `i` starts serving `rpc`.
    fn serve<E: From<CloudEv> + TraceEvent>(
        &mut self,
        i: u32,
        rpc: (u32, u32),
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let inst = &mut self.instances[i as usize];
        inst.serving.push(rpc);
        let svc = &mut self.services[inst.service as usize];
        svc.set_busy(now, svc.busy + 1);
        let d = svc.service_time();
        if let Some(m) = &svc.metrics {
            ctx.metrics().set(m.busy, now, svc.busy as f64);
        }
        if let Some(r) = self.rpcs.get(rpc.0, rpc.1) {
            r.state = RpcState::Serving;
        }
        ctx.schedule_in(
            d,
            CloudEv::Done {
                rpc: rpc.0,
                epoch: rpc.1,
            }
            .into(),
        );
    }

    fn done<E: From<CloudEv> + TraceEvent>(
        &mut self,
        rpc: u32,
        epoch: u32,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        let now = ctx.now();
        let Some(r) = self.rpcs.get(rpc, epoch) else {
            return;
        };
        if r.state != RpcState::Serving {
            return; // lost with its instance
        }
        let (i, waiting) = (r.instance, r.waiting);
        if let Some(env) = r.env {
            let s = self.instances[i as usize].service as usize;
            self.invoked(s, (rpc, epoch), env, waiting, ctx, links);
            return;
        }
        let managed = &self.services[self.instances[i as usize].service as usize];
        if managed.table.is_some() || managed.store.is_some() {
            let ok = !r.failed;
            self.respond((rpc, epoch), ok, ctx, links);
            return;
        }
        let inst = &mut self.instances[i as usize];
        inst.serving.retain(|x| *x != (rpc, epoch));
        let s = inst.service;
        let next = inst.queue.pop_front();
        let idle = next.is_none() && inst.serving.is_empty() && !inst.active;
        let scaled = inst.scaled;
        let svc = &mut self.services[s as usize];
        svc.set_busy(now, svc.busy - 1);
        svc.served += 1;
        if let Some(m) = &svc.metrics {
            let metrics = ctx.metrics();
            metrics.add(m.served, 1);
            if !waiting {
                metrics.add(m.wasted, 1);
            }
            metrics.set(m.busy, now, svc.busy as f64);
        }
        if let Some(n) = next {
            svc.queued -= 1;
            if let Some(m) = &svc.metrics {
                ctx.metrics().set(m.queue_len, now, svc.queued as f64);
            }
            self.serve(i, n, ctx);
        }
        // A draining instance with nothing left leaves the group.
        if idle
            && let Some(id) = scaled
            && let Some(a) = self.services[s as usize]
                .scaler
                .as_mut()
                .and_then(|sc| sc.drained(id, now))
        {
            self.apply(s as usize, a, ctx);
        }
        let svc = &self.services[s as usize];
        match svc.config.calls.as_ref().map(|d| d.fanout) {
            Some(fanout) if fanout > 0 => {
                if let Some(r) = self.rpcs.get(rpc, epoch) {
                    r.state = RpcState::Children {
                        pending: fanout,
                        failed: false,
                    };
                }
                let Some(caller) = self.services[s as usize].downstream else {
                    return;
                };
                let from = self.instances[i as usize].host;
                for _ in 0..fanout {
                    self.new_call(
                        caller,
                        Origin::Parent(rpc, epoch),
                        from,
                        (0, false),
                        ctx,
                        links,
                    );
                }
            }
            _ => {
                let svc = &mut self.services[s as usize];
                let ok = !svc.fails();
                self.respond((rpc, epoch), ok, ctx, links);
            }
        }
    }

    /// A message is stored in durable queue `s` at `now`; one waiting consumer is woken.
    fn enqueue<E: From<CloudEv> + TraceEvent>(
        &mut self,
        s: usize,
        now: SimTime,
        ctx: &mut Ctx<'_, E>,
    ) {
        let Some(mb) = self.services[s].mailbox.as_mut() else {
            return;
        };
        let sent = mb.queue.send(now, now, None, None).is_ok();
        debug_assert!(
            sent,
            "a standard queue takes every send without a delay of its own"
        );
        if let Some(m) = &mb.metrics {
            let metrics = ctx.metrics();
            metrics.add(m.sent, 1);
            metrics.set(m.depth, now, mb.queue.len() as f64);
        }
        if let Some((i, w)) = mb.waiting.pop_front() {
            self.poll(i, w, ctx);
        }
    }

    /// Worker `w` of consumer instance `i` asks its queue for a message: it processes one, or
    /// waits for one (woken by the next send, or when a message becomes visible again).
    fn poll<E: From<CloudEv> + TraceEvent>(&mut self, i: u32, w: u32, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        let inst = &self.instances[i as usize];
        if !(inst.up && inst.active) || inst.workers.get(w as usize).is_none_or(Option::is_some) {
            return; // down, draining or busy: it takes no message
        }
        let s = inst.service as usize;
        let epoch = inst.epoch;
        let Some(q) = self.services[s].config.consumes.map(|q| q as usize) else {
            return;
        };
        let Some(mb) = self.services[q].mailbox.as_mut() else {
            return;
        };
        let Ok(got) = mb.queue.receive(now, 1) else {
            return;
        };
        if let Some(m) = &mb.metrics {
            let metrics = ctx.metrics();
            metrics.add(m.dead_lettered, got.dead_lettered.len() as u64);
            metrics.add(m.received, got.messages.len() as u64);
            let again = got.messages.iter().filter(|d| d.receive_count > 1).count();
            metrics.add(m.redelivered, again as u64);
            if !got.dead_lettered.is_empty() {
                metrics.set(m.depth, now, mb.queue.len() as f64);
            }
        }
        let Some(d) = got.messages.into_iter().next() else {
            mb.waiting.push_back((i, w));
            if let Some(at) = mb.queue.next_visible_at(now)
                && mb.wake_at.is_none_or(|t| at < t)
            {
                mb.wake_at = Some(at);
                ctx.schedule_at(at, CloudEv::Wake { queue: q as u32 }.into());
            }
            return;
        };
        self.instances[i as usize].workers[w as usize] = Some((d.receipt, d.sent_at));
        let svc = &mut self.services[s];
        svc.set_busy(now, svc.busy + 1);
        let took = svc.service_time();
        if let Some(m) = &svc.metrics {
            ctx.metrics().set(m.busy, now, svc.busy as f64);
        }
        ctx.schedule_in(
            took,
            CloudEv::Processed {
                instance: i,
                worker: w,
                epoch,
            }
            .into(),
        );
    }

    /// A consumer's worker finished its message: it deletes it (unless the processing failed,
    /// when the message comes back after its visibility timeout) and asks for the next.
    fn processed<E: From<CloudEv> + TraceEvent>(
        &mut self,
        i: u32,
        w: u32,
        epoch: u32,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let inst = &mut self.instances[i as usize];
        if inst.epoch != epoch {
            return; // lost with its instance
        }
        let Some((receipt, sent_at)) = inst.workers.get_mut(w as usize).and_then(Option::take)
        else {
            return;
        };
        let idle = !inst.active && inst.workers.iter().all(Option::is_none);
        let scaled = inst.scaled;
        let s = inst.service as usize;
        let svc = &mut self.services[s];
        svc.set_busy(now, svc.busy - 1);
        svc.served += 1;
        let failed = svc.fails();
        if let Some(m) = &svc.metrics {
            let metrics = ctx.metrics();
            metrics.add(m.served, 1);
            metrics.set(m.busy, now, svc.busy as f64);
        }
        if !failed
            && let Some(q) = svc.config.consumes
            && let Some(mb) = self.services[q as usize].mailbox.as_mut()
        {
            if mb.queue.delete(now, receipt) == Delete::Deleted
                && let Some(m) = &mb.metrics
            {
                let metrics = ctx.metrics();
                metrics.add(m.deleted, 1);
                metrics.set(m.depth, now, mb.queue.len() as f64);
                metrics.record_duration(m.age, now.saturating_since(sent_at));
            }
        }
        if idle
            && let Some(id) = scaled
            && let Some(a) = self.services[s]
                .scaler
                .as_mut()
                .and_then(|sc| sc.drained(id, now))
        {
            self.apply(s, a, ctx);
            return;
        }
        self.poll(i, w, ctx);
    }

    /// Instance `i`'s workers (a consumer's) start asking for messages.
    fn start_workers<E: From<CloudEv> + TraceEvent>(&mut self, i: u32, ctx: &mut Ctx<'_, E>) {
        for w in 0..self.instances[i as usize].workers.len() {
            self.poll(i, w as u32, ctx);
        }
    }

    /// The instance answers `rpc`: its response goes back to the caller (if it still waits),
    /// and the instance is done with it.
    fn respond<E: From<CloudEv> + TraceEvent>(
        &mut self,
        rpc: (u32, u32),
        ok: bool,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        let now = ctx.now();
        let Some(r) = self.rpcs.get(rpc.0, rpc.1) else {
            return;
        };
        r.state = RpcState::Over;
        let (i, call, waiting, arrived) = (r.instance, r.call, r.waiting, r.arrived);
        let inst = &self.instances[i as usize];
        let (host, s) = (inst.host, inst.service as usize);
        if ok && let Some(m) = &self.services[s].metrics {
            ctx.metrics()
                .record_duration(m.sojourn, now.saturating_since(arrived));
        }
        if !waiting {
            self.rpcs.remove(rpc.0);
            return;
        }
        let to = self.calls.get(call.0, call.1).and_then(|c| c.from);
        let ev = CloudEv::Reply {
            rpc: rpc.0,
            epoch: rpc.1,
            ok,
        };
        self.send(host, to, ev, ctx, links);
    }

    /// The caller stops waiting for `rpc` (answered, timed out, or its call ended): the
    /// balancer's count goes down, and the call no longer lists it. Returns the call.
    fn stop_waiting(&mut self, rpc: (u32, u32)) -> Option<(u32, u32)> {
        let r = self.rpcs.get(rpc.0, rpc.1)?;
        if !r.waiting {
            return None;
        }
        r.waiting = false;
        let (call, instance, over) = (r.call, r.instance, r.state == RpcState::Over);
        if over {
            self.rpcs.remove(rpc.0);
        }
        let s = self.instances[instance as usize].service as usize;
        let offset = (instance - self.services[s].first) as usize;
        let c = self.calls.get(call.0, call.1)?;
        if let Some(slot) = c.live.iter_mut().find(|x| **x == Some(rpc)) {
            *slot = None;
        }
        let caller = &mut self.callers[c.caller as usize];
        debug_assert!(
            caller.outstanding[offset] > 0,
            "an outstanding count went below 0"
        );
        caller.outstanding[offset] = caller.outstanding[offset].saturating_sub(1);
        Some(call)
    }

    fn reply<E: From<CloudEv> + TraceEvent>(
        &mut self,
        rpc: u32,
        epoch: u32,
        ok: bool,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        let Some(call) = self.stop_waiting((rpc, epoch)) else {
            // Given up on already (its record went with the caller's interest), or a copy.
            return;
        };
        self.attempt_ended(call, ok, ctx, links);
    }

    fn timeout<E: From<CloudEv> + TraceEvent>(
        &mut self,
        rpc: u32,
        epoch: u32,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        let Some(call) = self.stop_waiting((rpc, epoch)) else {
            return;
        };
        if let Some(c) = self.calls.get(call.0, call.1)
            && let Some(m) = &self.callers[c.caller as usize].metrics
        {
            ctx.metrics().add(m.timeouts, 1);
        }
        self.attempt_ended(call, false, ctx, links);
    }

    /// One attempt of `call` ended well or not: the breaker learns it; a success ends the
    /// call; a failure with no other attempt outstanding is retried if the policy and the
    /// budget allow, else ends the call.
    fn attempt_ended<E: From<CloudEv> + TraceEvent>(
        &mut self,
        call: (u32, u32),
        ok: bool,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        let now = ctx.now();
        let Some(c) = self.calls.get(call.0, call.1) else {
            return;
        };
        let caller = &mut self.callers[c.caller as usize];
        if let Some(b) = caller.breaker.as_mut() {
            b.outcome(now, ok);
        }
        if ok {
            self.end(call, true, ctx, links);
            return;
        }
        if c.live_count() > 0 {
            return; // its hedge may still answer
        }
        let retry = c.retries + 1;
        if retry > caller.policy.retries {
            self.end(call, false, ctx, links);
            return;
        }
        if let Some(b) = caller.budget.as_mut()
            && !b.try_retry(now)
        {
            if let Some(m) = &caller.metrics {
                ctx.metrics().add(m.budget_denied, 1);
            }
            self.end(call, false, ctx, links);
            return;
        }
        let wait = caller
            .policy
            .backoff
            .delay(retry, c.last_backoff, &mut caller.backoff_stream);
        c.retries = retry;
        c.last_backoff = wait;
        if let Some(m) = &caller.metrics {
            ctx.metrics().add(m.retries, 1);
        }
        ctx.schedule_in(
            wait,
            CloudEv::Retry {
                call: call.0,
                epoch: call.1,
            }
            .into(),
        );
    }

    /// Ends `call` if no attempt of it is outstanding (a refused attempt).
    fn end_if_idle<E: From<CloudEv> + TraceEvent>(
        &mut self,
        call: (u32, u32),
        ok: bool,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        if self
            .calls
            .get(call.0, call.1)
            .is_some_and(|c| c.live_count() == 0)
        {
            self.end(call, ok, ctx, links);
        }
    }

    /// `call` ended: its outstanding attempts are abandoned, its caller counts the outcome, and
    /// whoever waits for it learns it.
    fn end<E: From<CloudEv> + TraceEvent>(
        &mut self,
        call: (u32, u32),
        ok: bool,
        ctx: &mut Ctx<'_, E>,
        links: &mut Links,
    ) {
        let now = ctx.now();
        let Some(c) = self.calls.get(call.0, call.1) else {
            return;
        };
        let live = c.live;
        let (ci, origin, started) = (c.caller as usize, c.origin, c.started);
        for rpc in live.into_iter().flatten() {
            self.stop_waiting(rpc);
        }
        self.calls.remove(call.0);
        let caller = &mut self.callers[ci];
        let latency = now.saturating_since(started);
        caller.ended += 1;
        if ok && caller.slo.is_none_or(|slo| latency <= slo) {
            caller.met += 1;
        }
        // Goodput: successes per second, over the last whole second.
        let second = now.as_nanos() / 1_000_000_000;
        let mut goodput = None;
        if second != caller.second {
            goodput = Some(if second == caller.second + 1 {
                caller.in_second
            } else {
                0
            });
            caller.second = second;
            caller.in_second = 0;
        }
        if ok {
            caller.in_second += 1;
        }
        if let Some(m) = &caller.metrics {
            let metrics = ctx.metrics();
            if ok {
                metrics.add(m.ok, 1);
                metrics.record_duration(m.latency, latency);
            } else {
                metrics.add(m.failed, 1);
            }
            if let Some(g) = goodput {
                metrics.set(m.goodput, now, g as f64);
            }
            if let Some(slo) = m.slo {
                metrics.set(slo, now, caller.met as f64 / caller.ended as f64);
            }
        }
        if let Origin::Parent(rpc, epoch) = origin {
            let Some(r) = self.rpcs.get(rpc, epoch) else {
                return;
            };
            if let RpcState::Children { pending, failed } = r.state {
                let failed = failed || !ok;
                if pending <= 1 {
                    self.respond((rpc, epoch), !failed, ctx, links);
                } else {
                    r.state = RpcState::Children {
                        pending: pending - 1,
                        failed,
                    };
                }
            }
        }
    }

    /// Host `host` crashed: its instances lose what they queued and were serving, and refuse
    /// requests until it restarts.
    pub fn crash<E: From<CloudEv> + TraceEvent>(&mut self, host: u32, ctx: &mut Ctx<'_, E>) {
        let now = ctx.now();
        for i in 0..self.instances.len() {
            let inst = &mut self.instances[i];
            if inst.host != Some(host) || !inst.up {
                continue;
            }
            inst.up = false;
            self.lose_work(i, now, ctx);
        }
        // Requests waiting for downstream calls on the host are lost too: their calls' answers
        // find them over.
        let mut gone = Vec::new();
        for (i, (_, item)) in self.rpcs.items.iter_mut().enumerate() {
            if let Some(r) = item
                && matches!(r.state, RpcState::Children { .. })
                && self.instances[r.instance as usize].host == Some(host)
            {
                r.state = RpcState::Over;
                if !r.waiting {
                    gone.push(i as u32);
                }
            }
        }
        for i in gone {
            self.rpcs.remove(i);
        }
        self.count_up(now, ctx);
    }

    /// Instance `i` loses what it queued and was serving (a crash, or its removal).
    fn lose_work<E: TraceEvent>(&mut self, i: usize, now: SimTime, ctx: &mut Ctx<'_, E>) {
        let inst = &mut self.instances[i];
        inst.epoch = inst.epoch.wrapping_add(1);
        // A consumer's messages in processing are not deleted: they come back to the queue
        // when their visibility timeout passes.
        let mut serving = inst.workers.iter_mut().filter_map(Option::take).count() as u64;
        let lost: Vec<(u32, u32)> = inst.serving.drain(..).chain(inst.queue.drain(..)).collect();
        let s = inst.service as usize;
        if let Some(q) = self.services[s].config.consumes
            && let Some(mb) = self.services[q as usize].mailbox.as_mut()
        {
            mb.waiting.retain(|(x, _)| *x != i as u32);
        }
        let mut queued = 0;
        for rpc in lost {
            if let Some(r) = self.rpcs.get(rpc.0, rpc.1) {
                match r.state {
                    RpcState::Queued => queued += 1,
                    RpcState::Serving => serving += 1,
                    _ => {}
                }
                r.state = RpcState::Over;
                if !r.waiting {
                    self.rpcs.remove(rpc.0);
                }
            }
        }
        let svc = &mut self.services[s];
        svc.queued -= queued;
        svc.set_busy(now, svc.busy - serving);
        if let Some(m) = &svc.metrics {
            let metrics = ctx.metrics();
            metrics.set(m.queue_len, now, svc.queued as f64);
            metrics.set(m.busy, now, svc.busy as f64);
        }
    }

    /// The instances of service `s` the balancers do not offer, counted again after a change.
    fn refresh_offered(&mut self, s: usize) {
        let svc = &mut self.services[s];
        let first = svc.first as usize;
        let n = svc.config.instances.len();
        svc.unoffered = self.instances[first..first + n]
            .iter()
            .filter(|i| !(i.active && i.healthy))
            .count() as u32;
    }

    /// Service `s`'s autoscaling group is evaluated on the metric it tracks over the period
    /// just ended.
    fn scale<E: From<CloudEv> + TraceEvent>(
        &mut self,
        s: usize,
        ctx: &mut Ctx<'_, E>,
        _links: &mut Links,
    ) {
        let now = ctx.now();
        let svc = &mut self.services[s];
        let Some(a) = svc.config.autoscale.as_ref() else {
            return;
        };
        let (on, period) = (a.on, a.config.period);
        let first = svc.first as usize;
        let n = svc.config.instances.len();
        let active = self.instances[first..first + n]
            .iter()
            .filter(|i| i.active)
            .count() as f64;
        svc.set_busy(now, svc.busy);
        let metric = match on {
            ScaleOn::Cpu => {
                let workers = active * svc.config.concurrency as f64;
                svc.busy_area / (workers * period.as_nanos() as f64)
            }
            ScaleOn::Queue => {
                // A consumer tracks its queue's backlog per instance (AWS's advice for SQS
                // workers); a service, its own requests waiting.
                let backlog = match svc.config.consumes {
                    Some(q) => self.services[q as usize]
                        .mailbox
                        .as_ref()
                        .map_or(0, |mb| mb.queue.len()) as f64,
                    None => svc.queued as f64,
                };
                backlog / active
            }
        };
        let svc = &mut self.services[s];
        svc.busy_area = 0.0;
        let Some(scaler) = svc.scaler.as_mut() else {
            return;
        };
        let evaluation = scaler.evaluate(now, metric);
        ctx.schedule_at(
            evaluation.next_at,
            CloudEv::Scale { service: s as u32 }.into(),
        );
        for action in evaluation.actions {
            self.apply(s, action, ctx);
        }
        self.schedule_due(s, ctx);
    }

    /// Schedules the group's next boot completion or drain deadline, if any.
    fn schedule_due<E: From<CloudEv> + TraceEvent>(&mut self, s: usize, ctx: &mut Ctx<'_, E>) {
        let svc = &mut self.services[s];
        let Some(at) = svc.scaler.as_ref().and_then(|sc| sc.next_deadline()) else {
            return;
        };
        if svc.due.is_none_or(|d| at < d || d < ctx.now()) {
            svc.due = Some(at);
            ctx.schedule_at(at, CloudEv::ScaleDue { service: s as u32 }.into());
        }
    }

    /// Carries out one of an autoscaling group's actions on service `s`'s instances.
    fn apply<E: From<CloudEv> + TraceEvent>(
        &mut self,
        s: usize,
        action: Action,
        ctx: &mut Ctx<'_, E>,
    ) {
        let now = ctx.now();
        let svc = &self.services[s];
        let first = svc.first as usize;
        let n = svc.config.instances.len();
        let slot_of = |instances: &[Instance], id: InstanceId| {
            (first..first + n).find(|&i| instances[i].scaled == Some(id))
        };
        match action {
            Action::Launch { id, .. } => {
                let Some(i) = (first..first + n).find(|&i| !self.instances[i].launched) else {
                    debug_assert!(false, "a group launches at most its max");
                    return;
                };
                let inst = &mut self.instances[i];
                inst.launched = true;
                inst.scaled = Some(id);
                let svc = &mut self.services[s];
                svc.set_launched(now, svc.launched + 1);
            }
            Action::InService { id, .. } => {
                if let Some(i) = slot_of(&self.instances, id) {
                    let inst = &mut self.instances[i];
                    inst.active = true;
                    inst.healthy = inst.up;
                    self.start_workers(i as u32, ctx);
                }
            }
            Action::Drain { id, .. } => {
                if let Some(i) = slot_of(&self.instances, id) {
                    let inst = &mut self.instances[i];
                    inst.active = false;
                    if inst.serving.is_empty()
                        && inst.queue.is_empty()
                        && let Some(a) = self.services[s]
                            .scaler
                            .as_mut()
                            .and_then(|sc| sc.drained(id, now))
                    {
                        self.apply(s, a, ctx);
                    }
                }
            }
            Action::Remove { id, .. } => {
                if let Some(i) = slot_of(&self.instances, id) {
                    self.lose_work(i, now, ctx);
                    let inst = &mut self.instances[i];
                    inst.launched = false;
                    inst.active = false;
                    inst.scaled = None;
                    let svc = &mut self.services[s];
                    svc.set_launched(now, svc.launched - 1);
                }
            }
        }
        self.refresh_offered(s);
        self.count_up(now, ctx);
        self.report_cost(s, now, ctx);
    }

    /// Host `host` restarted: its instances serve again, empty.
    pub fn restart<E: From<CloudEv> + TraceEvent>(&mut self, host: u32, ctx: &mut Ctx<'_, E>) {
        for i in 0..self.instances.len() {
            let inst = &mut self.instances[i];
            if inst.host == Some(host) && !inst.up {
                inst.up = true;
                self.start_workers(i as u32, ctx);
            }
        }
        self.count_up(ctx.now(), ctx);
    }

    fn count_up<E: TraceEvent>(&mut self, now: SimTime, ctx: &mut Ctx<'_, E>) {
        for s in &self.services {
            let first = s.first as usize;
            let n = s.config.instances.len();
            let up = self.instances[first..first + n]
                .iter()
                .filter(|i| i.up && i.active)
                .count();
            if let Some(m) = &s.metrics {
                ctx.metrics().set(m.instances, now, up as f64);
            }
        }
    }

    /// Whether host `host` has an instance that is up (a host without instances is not this
    /// family's to say).
    pub fn host_is_up(&self, host: u32) -> bool {
        self.instances.iter().any(|i| i.host == Some(host) && i.up)
    }

    /// Calls and attempts in flight (for tests of what is kept).
    pub fn in_flight(&self) -> (usize, usize) {
        (self.calls.live(), self.rpcs.live())
    }
}
