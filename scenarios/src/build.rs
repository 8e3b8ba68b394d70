//! AST to a checked model configuration, with a diagnostic for every problem found.
//!
//! Each block kind has a schema: its properties, their types and a doc line. The checker reports
//! unknown kinds and properties (with the nearest name as a hint), missing and repeated
//! properties, wrong types and out-of-range values, all in one pass. `sim models` prints the
//! schemas. Today the one model family is the queueing network (`source` and `station` blocks).

use models::queueing::{MAX_SERVERS, QNetConfig, Route, SourceConfig, StationConfig, Target};
use simcore::Dist;

use crate::ast::{Block, Scenario, Span, Value, ValueKind};
use crate::diag::{Diagnostic, did_you_mean};

/// The type a property takes, as a user would say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropType {
    /// A distribution of durations: `exp(1s)`, `exp(2/s)`, `uniform(1ms, 5ms)`, a bare `10ms`...
    DurationDist,
    Rate,
    Count,
    /// A station name, `exit`, or a weighted list of them.
    Route,
}

impl PropType {
    pub fn describe(self) -> &'static str {
        match self {
            PropType::DurationDist => {
                "a duration distribution such as exp(1s) or uniform(1ms, 5ms)"
            }
            PropType::Rate => "a rate such as 0.9/s",
            PropType::Count => "a whole number such as 1000",
            PropType::Route => "a station name, exit, or a weighted list such as [a 30%, b 70%]",
        }
    }
}

/// One property of a block kind.
#[derive(Debug, Clone, Copy)]
pub struct PropSpec {
    pub name: &'static str,
    pub ty: PropType,
    pub required: bool,
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

/// One kind of block a model provides.
#[derive(Debug, Clone, Copy)]
pub struct KindSpec {
    pub kind: &'static str,
    pub model: &'static str,
    pub doc: &'static str,
    pub props: &'static [PropSpec],
}

const fn prop(
    name: &'static str,
    ty: PropType,
    required: bool,
    default: Option<&'static str>,
    doc: &'static str,
) -> PropSpec {
    PropSpec {
        name,
        ty,
        required,
        default,
        doc,
    }
}

/// Every block kind the scenario language knows.
pub const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "source",
        model: "queueing",
        doc: "Customers arriving into a queueing network.",
        props: &[
            prop(
                "rate",
                PropType::Rate,
                false,
                None,
                "Poisson arrivals at this rate (exponential interarrival times).",
            ),
            prop(
                "interarrival",
                PropType::DurationDist,
                false,
                None,
                "Time between arrivals (instead of rate).",
            ),
            prop(
                "customers",
                PropType::Count,
                false,
                Some("unlimited"),
                "Stop arriving after this many customers.",
            ),
            prop(
                "to",
                PropType::Route,
                true,
                None,
                "The station customers go to first.",
            ),
        ],
    },
    KindSpec {
        kind: "station",
        model: "queueing",
        doc: "A FIFO queue in front of k identical servers.",
        props: &[
            prop(
                "servers",
                PropType::Count,
                false,
                Some("1"),
                "Number of servers working in parallel.",
            ),
            prop(
                "service",
                PropType::DurationDist,
                true,
                None,
                "Service time of one customer.",
            ),
            prop(
                "to",
                PropType::Route,
                false,
                Some("exit"),
                "Where customers go after service.",
            ),
            prop(
                "queue_limit",
                PropType::Count,
                false,
                Some("unlimited"),
                "Most customers waiting; arrivals beyond it are dropped.",
            ),
        ],
    },
];

/// The statistics an `expect` line may take of a metric.
pub const STATS: &[&str] = &[
    "mean", "min", "max", "count", "p50", "p90", "p99", "p999", "value", "last",
];

/// A scenario's models, checked and ready to wire.
#[derive(Debug, Clone)]
pub struct Built {
    pub qnet: QNetConfig,
    /// A source that never stops, if any: the run then needs a duration or an event limit.
    pub endless_source: Option<Span>,
}

/// The typed properties of one block, consumed one by one so leftovers can be reported.
struct Props<'a> {
    file: &'a str,
    block: &'a Block,
    spec: &'static KindSpec,
    errors: &'a mut Vec<Diagnostic>,
}

impl<'a> Props<'a> {
    fn get(&mut self, name: &str) -> Option<&'a Value> {
        let block: &'a Block = self.block;
        let found = block
            .props
            .iter()
            .find(|p| p.key.text == name)
            .map(|p| &p.value);
        let spec = self
            .spec
            .props
            .iter()
            .find(|p| p.name == name)
            .expect("properties read are in the schema");
        if found.is_none() && spec.required {
            self.errors.push(
                Diagnostic::at(
                    self.file,
                    block.name.span,
                    format!(
                        "{} {} needs the property `{name}`",
                        self.spec.kind, block.name.text
                    ),
                )
                .hint(format!("add `{name}` followed by {}", spec.ty.describe())),
            );
        }
        found
    }

    fn wrong(&mut self, name: &str, v: &Value, ty: PropType) {
        self.errors.push(
            Diagnostic::at(
                self.file,
                v.span,
                format!(
                    "`{name}` expects {}, found {}",
                    ty.describe(),
                    v.kind.describe()
                ),
            )
            .hint(format!("expected {}", ty.describe())),
        );
    }

    fn count(&mut self, name: &str, min: i64) -> Option<u64> {
        let v = self.get(name)?;
        match v.kind {
            ValueKind::Integer(n) if n >= min => Some(n as u64),
            ValueKind::Integer(n) => {
                self.errors.push(Diagnostic::at(
                    self.file,
                    v.span,
                    format!("`{name}` must be at least {min}, found {n}"),
                ));
                None
            }
            _ => {
                self.wrong(name, v, PropType::Count);
                None
            }
        }
    }

    /// A count between `min` and `max`.
    fn count_at_most(&mut self, name: &str, min: i64, max: u64) -> Option<u64> {
        let n = self.count(name, min)?;
        if n > max {
            let span = self.get(name).map(|v| v.span)?;
            self.errors.push(Diagnostic::at(
                self.file,
                span,
                format!("`{name}` must be at most {max}, found {n}"),
            ));
            return None;
        }
        Some(n)
    }

    fn duration_dist(&mut self, name: &str) -> Option<Dist> {
        let v = self.get(name)?;
        match duration_dist(v) {
            Ok(d) => Some(d),
            Err(DistProblem::Type) => {
                self.wrong(name, v, PropType::DurationDist);
                None
            }
            Err(DistProblem::Other(d)) => {
                self.errors.push(Diagnostic {
                    file: self.file.to_string(),
                    ..d
                });
                None
            }
        }
    }
}

enum DistProblem {
    Type,
    Other(Diagnostic),
}

fn number(v: &Value) -> Option<f64> {
    match v.kind {
        ValueKind::Integer(n) => Some(n as f64),
        ValueKind::Float(f) => Some(f),
        _ => None,
    }
}

fn ns(v: &Value) -> Option<f64> {
    match v.kind {
        ValueKind::Duration(d) => Some(d.as_nanos() as f64),
        _ => None,
    }
}

/// A duration distribution, in nanoseconds.
fn duration_dist(v: &Value) -> Result<Dist, DistProblem> {
    let (name, args) = match &v.kind {
        ValueKind::Duration(d) => {
            return Ok(Dist::Constant {
                value: d.as_nanos() as f64,
            });
        }
        ValueKind::Call { name, args } => (name.as_str(), args.as_slice()),
        _ => return Err(DistProblem::Type),
    };
    let problem = |msg: String, hint: &str| {
        DistProblem::Other(Diagnostic::at("", v.span, msg).hint(hint.to_string()))
    };
    let dist = match (name, args) {
        ("constant", [a]) => ns(a).map(Dist::constant),
        ("exp", [a]) => match a.kind {
            ValueKind::Duration(_) => ns(a).map(Dist::exponential),
            ValueKind::Rate { per_sec } if per_sec > 0.0 => Some(Dist::exponential(1e9 / per_sec)),
            _ => None,
        },
        ("uniform", [a, b]) => ns(a).zip(ns(b)).map(|(a, b)| Dist::uniform(a, b)),
        ("normal", [a, b]) => ns(a).zip(ns(b)).map(|(a, b)| Dist::normal(a, b)),
        ("lognormal", [a, b]) => ns(a)
            .zip(number(b))
            .map(|(median, sigma)| Dist::lognormal_median(median, sigma)),
        ("pareto", [a, b]) => ns(a)
            .zip(number(b))
            .map(|(scale, shape)| Dist::pareto(scale, shape)),
        ("zipf", _) => {
            return Err(problem(
                "zipf draws ranks, not durations".into(),
                "use exp, uniform, normal, lognormal or pareto",
            ));
        }
        ("constant" | "exp" | "uniform" | "normal" | "lognormal" | "pareto", _) => None,
        (other, _) => {
            let hint = did_you_mean(
                other,
                [
                    "constant",
                    "exp",
                    "uniform",
                    "normal",
                    "lognormal",
                    "pareto",
                ],
            )
            .unwrap_or_else(|| "known: constant, exp, uniform, normal, lognormal, pareto".into());
            return Err(problem(format!("unknown distribution `{other}`"), &hint));
        }
    };
    match dist {
        Some(Ok(d)) => Ok(d),
        Some(Err(e)) => Err(problem(e.to_string(), "check the parameters")),
        None => Err(problem(
            format!("wrong arguments for `{name}`"),
            &format!("write {name}{}", example(name)),
        )),
    }
}

fn example(name: &str) -> &'static str {
    match name {
        "constant" => "(10ms)",
        "exp" => "(1s) for the mean or exp(0.9/s) for the rate",
        "uniform" => "(1ms, 5ms) for low and high",
        "normal" => "(10ms, 2ms) for the mean and standard deviation",
        "lognormal" => "(10ms, 0.5) for the median and sigma",
        "pareto" => "(1ms, 2.5) for the scale and shape",
        _ => "(...)",
    }
}

fn route(file: &str, v: &Value, stations: &[&str], errors: &mut Vec<Diagnostic>) -> Option<Route> {
    let target = |name: &str, span: Span, errors: &mut Vec<Diagnostic>| -> Option<Target> {
        if name == "exit" {
            Some(Target::Exit)
        } else if stations.contains(&name) {
            Some(Target::Station(name.to_string()))
        } else {
            let mut d = Diagnostic::at(file, span, format!("there is no station named `{name}`"));
            if let Some(h) = did_you_mean(name, stations.iter().copied().chain(["exit"])) {
                d = d.hint(h);
            }
            errors.push(d);
            None
        }
    };
    match &v.kind {
        ValueKind::Ident(name) => target(name, v.span, errors).map(Route::to),
        ValueKind::List(entries) if !entries.is_empty() => {
            let mut out = Vec::new();
            for e in entries {
                let ValueKind::Ident(name) = &e.value.kind else {
                    errors.push(Diagnostic::at(
                        file,
                        e.value.span,
                        "a route entry must be a station name or exit",
                    ));
                    continue;
                };
                let weight = match &e.weight {
                    None => 1.0,
                    Some(w) => match w.kind {
                        ValueKind::Percent(p) if p >= 0.0 => p,
                        ValueKind::Integer(n) if n >= 0 => n as f64,
                        ValueKind::Float(f) if f >= 0.0 => f,
                        _ => {
                            errors.push(Diagnostic::at(
                                file,
                                w.span,
                                "a route weight must be a percentage or a non-negative number",
                            ));
                            continue;
                        }
                    },
                };
                if let Some(t) = target(name, e.value.span, errors) {
                    out.push((t, weight));
                }
            }
            if !out.is_empty() && out.iter().all(|(_, w)| *w == 0.0) {
                errors.push(Diagnostic::at(
                    file,
                    v.span,
                    "every weight in this route is zero",
                ));
            }
            Some(Route(out))
        }
        _ => {
            errors.push(
                Diagnostic::at(
                    file,
                    v.span,
                    format!(
                        "`to` expects {}, found {}",
                        PropType::Route.describe(),
                        v.kind.describe()
                    ),
                )
                .hint("for example `to server` or `to [a 30%, b 70%]`"),
            );
            None
        }
    }
}

/// Checks every block of `scenario` and builds the models' configuration.
pub fn build(scenario: &Scenario) -> Result<Built, Vec<Diagnostic>> {
    let file = scenario.file.as_str();
    let mut errors = Vec::new();
    let mut seen_names: Vec<(&str, Span)> = Vec::new();
    for b in &scenario.blocks {
        if let Some((_, first)) = seen_names.iter().find(|(n, _)| *n == b.name.text) {
            errors.push(
                Diagnostic::at(
                    file,
                    b.name.span,
                    format!("`{}` is already the name of another component", b.name.text),
                )
                .hint(format!("first defined at line {}", first.line)),
            );
        } else if b.name.text == "system" {
            errors.push(
                Diagnostic::at(
                    file,
                    b.name.span,
                    "`system` is reserved for the network's own metrics",
                )
                .hint("choose another name"),
            );
        }
        seen_names.push((&b.name.text, b.name.span));
    }
    let stations: Vec<&str> = scenario
        .blocks
        .iter()
        .filter(|b| b.kind.text == "station")
        .map(|b| b.name.text.as_str())
        .collect();
    let mut qnet = QNetConfig::default();
    let mut endless_source = None;

    for block in &scenario.blocks {
        let Some(spec) = KINDS.iter().find(|k| k.kind == block.kind.text) else {
            let hint =
                did_you_mean(&block.kind.text, KINDS.iter().map(|k| k.kind)).unwrap_or_else(|| {
                    format!(
                        "known kinds: {}",
                        KINDS.iter().map(|k| k.kind).collect::<Vec<_>>().join(", ")
                    )
                });
            errors.push(
                Diagnostic::at(
                    file,
                    block.kind.span,
                    format!("unknown component kind `{}`", block.kind.text),
                )
                .hint(hint),
            );
            continue;
        };
        for (i, p) in block.props.iter().enumerate() {
            if !spec.props.iter().any(|s| s.name == p.key.text) {
                let mut d = Diagnostic::at(
                    file,
                    p.key.span,
                    format!("{} has no property `{}`", spec.kind, p.key.text),
                );
                d = d.hint(
                    did_you_mean(&p.key.text, spec.props.iter().map(|s| s.name)).unwrap_or_else(
                        || {
                            format!(
                                "{} takes: {}",
                                spec.kind,
                                spec.props
                                    .iter()
                                    .map(|s| s.name)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        },
                    ),
                );
                errors.push(d);
            } else if block.props[..i].iter().any(|q| q.key.text == p.key.text) {
                errors.push(Diagnostic::at(
                    file,
                    p.key.span,
                    format!("`{}` is given twice", p.key.text),
                ));
            }
        }
        let name = block.name.text.clone();
        let mut props = Props {
            file,
            block,
            spec,
            errors: &mut errors,
        };
        match spec.kind {
            "source" => {
                let rate = props.get("rate");
                let interarrival = props
                    .get("interarrival")
                    .is_some()
                    .then(|| props.duration_dist("interarrival"))
                    .flatten();
                let interarrival = match (rate, interarrival) {
                    (Some(r), None) => match r.kind {
                        ValueKind::Rate { per_sec } if per_sec > 0.0 && per_sec.is_finite() => {
                            Dist::exponential(1e9 / per_sec).ok()
                        }
                        ValueKind::Rate { .. } => {
                            props.errors.push(Diagnostic::at(
                                file,
                                r.span,
                                "the rate must be positive",
                            ));
                            None
                        }
                        _ => {
                            props.wrong("rate", r, PropType::Rate);
                            None
                        }
                    },
                    (None, Some(d)) => Some(d),
                    (Some(r), Some(_)) => {
                        props.errors.push(Diagnostic::at(
                            file,
                            r.span,
                            "give either `rate` or `interarrival`, not both",
                        ));
                        None
                    }
                    (None, None) => {
                        if props.get("interarrival").is_none() {
                            props.errors.push(
                                Diagnostic::at(
                                    file,
                                    block.name.span,
                                    format!("source {name} needs `rate` or `interarrival`"),
                                )
                                .hint("for example `rate 0.9/s`"),
                            );
                        }
                        None
                    }
                };
                let customers = props.count("customers", 1);
                let to = props
                    .get("to")
                    .and_then(|v| route(file, v, &stations, props.errors));
                if customers.is_none()
                    && props.get("customers").is_none()
                    && endless_source.is_none()
                {
                    endless_source = Some(block.name.span);
                }
                if let (Some(interarrival), Some(route)) = (interarrival, to) {
                    qnet.sources.push(SourceConfig {
                        name,
                        interarrival,
                        customers,
                        route,
                    });
                }
            }
            "station" => {
                let servers = match props.get("servers") {
                    Some(_) => props.count_at_most("servers", 1, u64::from(MAX_SERVERS)),
                    None => Some(1),
                };
                let servers = servers.and_then(|s| u32::try_from(s).ok());
                let service = props.duration_dist("service");
                let to = match props.get("to") {
                    Some(v) => route(file, v, &stations, props.errors),
                    None => Some(Route::to(Target::Exit)),
                };
                let queue_limit = props
                    .get("queue_limit")
                    .is_some()
                    .then(|| props.count("queue_limit", 0))
                    .flatten();
                if let (Some(servers), Some(service), Some(route)) = (servers, service, to) {
                    qnet.stations.push(StationConfig {
                        name,
                        servers,
                        service,
                        route,
                        queue_limit,
                    });
                }
            }
            other => unreachable!("KINDS has no builder for {other}"),
        }
    }
    if errors.is_empty() {
        let sources = scenario.blocks.iter().any(|b| b.kind.text == "source");
        if !sources || stations.is_empty() {
            let span = scenario
                .blocks
                .first()
                .map(|b| b.kind.span)
                .unwrap_or(Span {
                    start: 0,
                    end: 0,
                    line: 1,
                    col: 1,
                });
            errors.push(
                Diagnostic::at(
                    file,
                    span,
                    "the scenario needs at least one `source` and one `station`",
                )
                .hint("see scenarios/mm1.scn for a complete example"),
            );
        }
    }
    for e in &scenario.expects {
        if !STATS.contains(&e.stat.text.as_str()) {
            let hint = did_you_mean(&e.stat.text, STATS.iter().copied())
                .unwrap_or_else(|| format!("known: {}", STATS.join(", ")));
            errors.push(
                Diagnostic::at(
                    file,
                    e.stat.span,
                    format!("unknown statistic `{}`", e.stat.text),
                )
                .hint(hint),
            );
        }
        if !matches!(
            e.bound.kind,
            ValueKind::Duration(_)
                | ValueKind::Integer(_)
                | ValueKind::Float(_)
                | ValueKind::Percent(_)
        ) {
            errors.push(
                Diagnostic::at(
                    file,
                    e.bound.span,
                    format!(
                        "a check compares with a number or a duration, found {}",
                        e.bound.kind.describe()
                    ),
                )
                .hint("for example `expect mean(server.wait) < 10s`"),
            );
        }
    }
    if errors.is_empty() {
        Ok(Built {
            qnet,
            endless_source,
        })
    } else {
        Err(errors)
    }
}
