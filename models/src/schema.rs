//! What each model family offers a scenario: block kinds with typed properties, the metrics they
//! produce, the actions they react to and the properties they can check.
//!
//! The scenario checker validates every block against these schemas and `sim models` prints them,
//! so adding a model means adding a [`ModelSpec`] to [`crate::MODELS`], with no grammar change.

/// The type of a property, as a user writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PropType {
    /// A duration such as `150ms`.
    Duration,
    /// A range of durations such as `150ms..300ms` (a single duration is a range of one).
    DurationRange,
    /// A distribution of durations: `exp(1s)`, `exp(0.9/s)`, `uniform(1ms, 5ms)`,
    /// `normal(10ms, 2ms)`, `lognormal(10ms, 0.5)`, `pareto(1ms, 2.5)`, or a bare duration.
    DurationDist,
    /// A distribution of whole numbers: `zipf(1000, 0.99)`, `uniform(1, 100)`, or a number.
    CountDist,
    /// A size such as `4KiB`.
    Size,
    /// A rate such as `200/s`.
    Rate,
    /// A probability: a percentage (`0.5%`) or a number from 0 to 1.
    Probability,
    /// A whole number from `min` to `max`.
    Count {
        min: u64,
        max: u64,
    },
    /// A number from `min` to `max`.
    Float {
        min: f64,
        max: f64,
    },
    Bool,
    Str,
    /// One of the listed words.
    Choice(&'static [&'static str]),
    /// Node names: `n1..n5` or `[a, b, c]`. The nodes become targets for actions.
    Nodes,
    /// Where a service's servers run, one host each: host names written as `Nodes` are
    /// (`db1`, `db1..db5`, `[a, b]`), each declared by a `host` block
    /// ([`crate::world::schema::HOST`]). A placement property whose need is not
    /// [`Need::Default`] must be given when the scenario declares any host.
    Hosts,
    /// Where a service runs: the name of one declared host (placement, as [`PropType::Hosts`]).
    Host,
    /// A reference to another block: the name of a block of one of `kinds`, or one of the
    /// words `also`. Checked against the scenario's blocks, so a wrong name or kind is a
    /// located error rather than a surprise when the scenario is wired.
    Ref {
        kinds: &'static [&'static str],
        also: &'static [&'static str],
    },
    /// Where something goes: the name of a component of kind `kind`, one of `also`, or a
    /// weighted list of them (`[a 30%, b 70%]`); each name is checked as a [`PropType::Ref`].
    Route {
        kind: &'static str,
        also: &'static [&'static str],
    },
    /// A weighted mix of the listed words: `[get 60%, put 30%, cas 10%]`.
    Mix(&'static [&'static str]),
    /// A fraction of either sign: a percentage (`0.01%`) or a number (`-0.0001`).
    Fraction,
}

impl PropType {
    /// What a value of this type looks like, for "expected ..." messages and `sim models`.
    pub fn describe(&self) -> String {
        match self {
            PropType::Duration => "a duration such as 150ms".into(),
            PropType::DurationRange => "a duration range such as 150ms..300ms".into(),
            PropType::DurationDist => {
                "a duration distribution such as exp(1s) or uniform(1ms, 5ms)".into()
            }
            PropType::CountDist => {
                "a distribution of whole numbers such as zipf(1000, 0.99)".into()
            }
            PropType::Size => "a size such as 4KiB".into(),
            PropType::Rate => "a rate such as 200/s".into(),
            PropType::Probability => "a probability such as 0.5% or 0.005".into(),
            PropType::Count { min, max } if *max == u64::MAX => {
                format!("a whole number of at least {min}")
            }
            PropType::Count { min, max } => format!("a whole number from {min} to {max}"),
            PropType::Float { min, max } => format!("a number from {min} to {max}"),
            PropType::Bool => "true or false".into(),
            PropType::Str => "a string in double quotes".into(),
            PropType::Choice(words) => format!("one of {}", words.join(", ")),
            PropType::Nodes => "node names such as n1..n5 or [a, b, c]".into(),
            PropType::Hosts => "host names such as db1..db5 or [a, b], one per server".into(),
            PropType::Host => "the name of a host".into(),
            PropType::Ref { kinds, also } => format!("the name of {}", one_of(kinds, also)),
            PropType::Route { kind, also } => {
                let mut s = format!("a {kind} name");
                for a in *also {
                    s.push_str(", ");
                    s.push_str(a);
                }
                s.push_str(", or a weighted list such as [a 30%, b 70%]");
                s
            }
            PropType::Mix(words) => format!(
                "a weighted list of {} such as [{} 60%, {} 40%]",
                words.join(", "),
                words.first().unwrap_or(&"a"),
                words.get(1).unwrap_or(&"b")
            ),
            PropType::Fraction => "a fraction such as 0.01% or -0.0001".into(),
        }
    }

    /// What the property refers to when its value names other blocks (`host names`, `a raft`,
    /// `a station or exit`), for `sim models`; `None` for a plain value.
    pub fn refers_to(&self) -> Option<String> {
        match self {
            PropType::Hosts => Some("host names".into()),
            PropType::Host => Some("a host".into()),
            PropType::Ref { kinds, also } => Some(one_of(kinds, also)),
            PropType::Route { kind, also } => Some(format!(
                "{}, or a weighted list of them",
                one_of(std::slice::from_ref(kind), also)
            )),
            _ => None,
        }
    }

    /// The kinds of block a value of this type names (`host` for placement), empty for a plain
    /// value.
    pub fn ref_kinds(&self) -> &'static [&'static str] {
        match self {
            PropType::Hosts | PropType::Host => &[crate::world::schema::HOST],
            PropType::Ref { kinds, .. } => kinds,
            _ => &[],
        }
    }

    /// Whether the property places its block on hosts (`on`).
    pub fn places(&self) -> bool {
        matches!(self, PropType::Hosts | PropType::Host)
    }
}

/// `a raft`, `a raft or a station`, `a station or exit`: the blocks (with an article) and the
/// words a reference may name.
pub fn one_of(kinds: &[&str], also: &[&str]) -> String {
    let names: Vec<String> = kinds
        .iter()
        .map(|k| format!("{} {k}", article(k)))
        .chain(also.iter().map(|w| w.to_string()))
        .collect();
    match names.split_last() {
        None => "nothing".into(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// `a` or `an`, by the word's first letter.
pub fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Whether a property must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    /// Optional; the text says what applies when it is left out ("1", "unlimited").
    Default(&'static str),
    /// Exactly one of this property and the named one must be given.
    OneOf(&'static str),
    /// A placement (`on`) that must be given when the scenario declares hosts; where it
    /// declares none, the block runs on an implicit host of its own, so old scenarios run on.
    Placed,
    /// A reference that may be left out when the scenario has exactly one block of the kind it
    /// takes (it then names that one), and must be given when it has several.
    Sole,
}

/// One property of a block kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PropSpec {
    pub name: &'static str,
    pub ty: PropType,
    pub need: Need,
    /// Whether `load COMPONENT PROPERTY VALUE` may change it during a run.
    pub live: bool,
    pub doc: &'static str,
}

/// What a metric counts, so checks and reports know how to show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A histogram of durations (nanoseconds).
    Latency,
    Counter,
    /// A time-weighted value.
    Gauge,
    /// Points y against x, set once when known (a miss ratio against cache size); checks take
    /// its number of points (`count`) and its y values' `min`, `max` and `last`.
    Curve,
    /// Counts per row and time bucket, set once when known (requests per partition per second);
    /// checks take its number of rows (`count`), its hottest cell (`max`), its coldest (`min`)
    /// and the mean of its cells (`mean`).
    Heatmap,
}

/// A metric a component produces, named `component.name` in a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricSpec {
    pub name: &'static str,
    pub kind: MetricKind,
    pub doc: &'static str,
}

/// One kind of block a model provides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KindSpec {
    pub kind: &'static str,
    pub doc: &'static str,
    pub props: &'static [PropSpec],
    pub metrics: &'static [MetricSpec],
}

/// A family of models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelSpec {
    pub name: &'static str,
    pub doc: &'static str,
    pub kinds: &'static [KindSpec],
    /// Metrics of the whole model, with their full names (`system.response`).
    pub global_metrics: &'static [MetricSpec],
    /// The action verbs this model reacts to (`load`, `crash`, `partition`, ...), with the
    /// arguments each takes: the parser splits actions and the checker types them by these, so a
    /// new verb needs no grammar change.
    pub verbs: &'static [VerbSpec],
    /// Properties `expect NAME` can check (`linearizable`), with a doc line each.
    pub properties: &'static [(&'static str, &'static str)],
    /// Events `expect EVENT within T` can wait for (`leader`), with a doc line each.
    pub events: &'static [(&'static str, &'static str)],
    /// The charts `sim report` draws for a run of this family.
    pub charts: &'static [ChartSpec],
}

impl ModelSpec {
    pub fn kind(&self, kind: &str) -> Option<&'static KindSpec> {
        self.kinds.iter().find(|k| k.kind == kind)
    }

    pub fn verb(&self, name: &str) -> Option<&'static VerbSpec> {
        self.verbs.iter().find(|v| v.name == name)
    }
}

/// The words every family with nodes understands as a target, besides a node's name.
pub const TARGET_WORDS: &[&str] = &["leader", "random-node", "minority", "majority", "all"];

/// An action verb a model reacts to, and the arguments it takes in order (`at 5s crash leader`:
/// verb `crash`, one [`ArgSpec::Target`]). Each argument is one value of the scenario's syntax
/// (a name, a call, a list, a number ...), except [`ArgSpec::Shape`], which may be several lists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerbSpec {
    pub name: &'static str,
    pub doc: &'static str,
    pub args: &'static [ArgSpec],
}

impl VerbSpec {
    /// How the action is written, for `sim models` and hints: `clock skew|drift TARGET by VALUE`.
    pub fn usage(&self) -> String {
        let mut s = self.name.to_string();
        for a in self.args {
            s.push(' ');
            s.push_str(&a.usage());
        }
        s
    }
}

/// One argument of a verb.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArgSpec {
    /// Whom the action affects: a node's name, one of [`TARGET_WORDS`], `random(k)` (k nodes
    /// picked at random) or a list of nodes `[n1, n2]`, `[n1..n3]`.
    Target,
    /// How to cut the network: one of the listed shapes, or two or more lists of nodes
    /// (`[n1, n2] [n3, n4, n5]`).
    Shape(&'static [&'static str]),
    /// One of the listed words (`skew`, `drift`).
    Word(&'static [&'static str]),
    /// Exactly this word, written for the reader (`by`).
    Keyword(&'static str),
    /// A value of this type.
    Value(PropType),
    /// A value whose type depends on which word of the verb's [`ArgSpec::Word`] was given:
    /// `(word, type)` pairs.
    ValueOf(&'static [(&'static str, PropType)]),
    /// One of a set of forms, each a word (`full`) or a call with one typed argument
    /// (`slow(5ms)`); `name` says what they are in messages ("disk fault").
    Form {
        name: &'static str,
        forms: &'static [FormSpec],
    },
    /// The name of one of the scenario's components.
    Component,
    /// A property of that component that may change during a run ([`PropSpec::live`]).
    Property,
    /// A value of that property's type.
    PropertyValue,
}

impl ArgSpec {
    /// The argument as `sim models` shows it in a verb's usage.
    pub fn usage(&self) -> String {
        match self {
            ArgSpec::Target => "TARGET".into(),
            ArgSpec::Shape(shapes) => format!("{}|[GROUP] [GROUP]...", shapes.join("|")),
            ArgSpec::Word(words) => words.join("|"),
            ArgSpec::Keyword(word) => (*word).into(),
            ArgSpec::Value(_) | ArgSpec::ValueOf(_) | ArgSpec::PropertyValue => "VALUE".into(),
            ArgSpec::Form { forms, .. } => forms
                .iter()
                .map(|f| f.example)
                .collect::<Vec<_>>()
                .join("|"),
            ArgSpec::Component => "COMPONENT".into(),
            ArgSpec::Property => "PROPERTY".into(),
        }
    }

    /// What the argument looks like, for "needs ..." messages.
    pub fn describe(&self) -> String {
        match self {
            ArgSpec::Target => format!(
                "a target: a node, {}, random(k) or a list [n1, n2]",
                TARGET_WORDS.join(", ")
            ),
            ArgSpec::Shape(shapes) => format!(
                "a partition shape ({}) or two or more groups such as [n1, n2] [n3]",
                shapes.join(", ")
            ),
            ArgSpec::Word(words) => format!("one of {}", words.join(", ")),
            ArgSpec::Keyword(word) => format!("`{word}`"),
            ArgSpec::Value(ty) => ty.describe(),
            ArgSpec::ValueOf(_) | ArgSpec::PropertyValue => "a value".into(),
            ArgSpec::Form { name, forms } => format!(
                "a {name}: {}",
                forms
                    .iter()
                    .map(|f| f.example)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ArgSpec::Component => "a component's name".into(),
            ArgSpec::Property => "a property that can change during a run".into(),
        }
    }
}

/// One form of an [`ArgSpec::Form`]: a bare word when `arg` is None, else a call with one
/// argument of that type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FormSpec {
    pub name: &'static str,
    pub arg: Option<PropType>,
    /// The form as a user would write it (`slow(5ms)`), for usage lines and hints.
    pub example: &'static str,
}

/// `load COMPONENT PROPERTY VALUE`: the verb of every family whose components have properties
/// that may change during a run ([`live_prop`]).
pub const LOAD: VerbSpec = VerbSpec {
    name: "load",
    doc: "Sets a property of a component (one `sim models` marks \"can change during a run\") from then on.",
    args: &[
        ArgSpec::Component,
        ArgSpec::Property,
        ArgSpec::PropertyValue,
    ],
};

impl KindSpec {
    pub fn prop(&self, name: &str) -> Option<&'static PropSpec> {
        self.props.iter().find(|p| p.name == name)
    }

    /// The property that places a block of this kind on hosts (`on`), if it has one.
    pub fn placement(&self) -> Option<&'static PropSpec> {
        self.props.iter().find(|p| p.ty.places())
    }
}

impl PropSpec {
    /// Whether it must be given, or what applies when it is left out, for `sim models`.
    pub fn need_text(&self) -> String {
        match self.need {
            Need::Required => "required".to_string(),
            Need::Default(d) => format!("default: {d}"),
            Need::OneOf(other) => format!("this or `{other}`"),
            Need::Placed => {
                "required when the scenario declares hosts; else a host of its own".to_string()
            }
            Need::Sole => format!(
                "default: the scenario's only {}",
                self.ty.ref_kinds().join(" or ")
            ),
        }
    }
}

/// A property spec, for schema tables.
pub const fn prop(name: &'static str, ty: PropType, need: Need, doc: &'static str) -> PropSpec {
    PropSpec {
        name,
        ty,
        need,
        live: false,
        doc,
    }
}

/// A property that `load` may change during a run.
pub const fn live_prop(
    name: &'static str,
    ty: PropType,
    need: Need,
    doc: &'static str,
) -> PropSpec {
    PropSpec {
        name,
        ty,
        need,
        live: true,
        doc,
    }
}

/// A metric spec, for schema tables.
pub const fn metric(name: &'static str, kind: MetricKind, doc: &'static str) -> MetricSpec {
    MetricSpec { name, kind, doc }
}

/// A chart a model family can draw from a recorded run (`sim report`): declared here as data, so
/// the report needs no model-specific code. Metric patterns are globs over full metric names in
/// which `*` matches any run of characters (`*.queue_len`, `*.commit_index_*`) and a leading
/// `{KIND}` stands for the name of any block of that kind (`{cpu}.response` is the machine's
/// metric, not a job's, though both end in `.response`); timeline sources
/// name a track group and mark categories (each model's `record` conventions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartSpec {
    /// A short name, unique within the family: the chart's file name (`queue-length`).
    pub id: &'static str,
    pub title: &'static str,
    /// One sentence for the gallery: what the chart shows and what to look for.
    pub doc: &'static str,
    pub source: ChartSource,
}

/// Where a chart's data comes from, and so which kind of chart it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChartSource {
    /// A line per gauge or series metric matching `metrics`, over simulated time, named by what
    /// the pattern's last wildcard matched (`n1`); in a sweep, a line per metric and variant.
    /// A line is broken while a span of one of the `breaks` categories lasts on the timeline
    /// track named as the line (a node's commit index while it is `down`).
    Series {
        metrics: &'static str,
        y_name: &'static str,
        y_unit: &'static str,
        breaks: &'static [&'static str],
    },
    /// The empirical CDF of each histogram matching `metrics` (durations); in a sweep, a line
    /// per variant. When some variants have samples and others none, the others keep a legend
    /// entry that says `none` ("never"), unless `none` is empty.
    Cdf {
        metrics: &'static str,
        x_name: &'static str,
        none: &'static str,
    },
    /// A histogram of each histogram metric matching `metrics` (durations) over `bins` equal
    /// bins (equal on a log axis where the values span decades; `reports::chart::Chart`), with
    /// the true count of every value; in a sweep, one set of bars per variant.
    Histogram {
        metrics: &'static str,
        x_name: &'static str,
        bins: usize,
    },
    /// A line per curve metric matching `metrics` (y against x in the order the model gave the
    /// points: a miss ratio against cache size), named by what the pattern's last wildcard
    /// matched or its `{KIND}` block; in a sweep, a line per metric and variant. The x axis is
    /// logarithmic where the x values span more than two decades (as a CDF's), the y axis starts
    /// at zero when no value is negative. A unit of `ns` marks a duration and one of `B` a size,
    /// drawn in the unit (s, ms, us, ns; B, KiB, MiB, GiB, TiB) the largest value needs.
    Curve {
        metrics: &'static str,
        x_name: &'static str,
        x_unit: &'static str,
        y_name: &'static str,
        y_unit: &'static str,
    },
    /// A grid of coloured cells for a heatmap metric matching `metrics` (a pattern as for
    /// `Curve`, `{KIND}` allowed): a row per row of the heatmap (`y_name` names them: a
    /// partition), a column per time bucket along a time axis (`x_name`, in the run's time
    /// unit), each cell's count (`value_name`: requests) on a sequential scale from light (the
    /// scale's minimum, zero for counts) to dark (the hottest cell), with the scale's ends in the
    /// legend. A chart per matching metric; in a sweep, a chart per metric and variant (the first
    /// six, as for a Gantt chart).
    Heatmap {
        metrics: &'static str,
        y_name: &'static str,
        x_name: &'static str,
        value_name: &'static str,
    },
    /// One gauge against another as dots: for each pair of gauges matching `x` and `y` that
    /// name the same thing (what each pattern's last wildcard matched, or its `{KIND}` block:
    /// `spinning` for `{disk}.seek_distance` and `{disk}.seek`), their recorded histories
    /// paired at equal times (`reports::chart::paired`); in a sweep, a set of dots per variant.
    /// The two gauges must be set together, at the same instants, every time: a history keeps
    /// time-weighted means over buckets that widen as the run grows (`simcore::history`), and
    /// only gauges set together share every bucket and weight each change alike, so that a
    /// point pairs values of the same moments (a bucket spanning several changes gives their
    /// weighted mean). A unit of `ns` marks a duration, drawn in s, ms, us or ns as the values
    /// need.
    Scatter {
        x: &'static str,
        y: &'static str,
        x_name: &'static str,
        x_unit: &'static str,
        y_name: &'static str,
        y_unit: &'static str,
    },
    /// Spans of `category` on the tracks of `group`: rows are tracks, colours are span names
    /// (a job on a CPU). One chart per run.
    Gantt {
        group: &'static str,
        category: &'static str,
        row_axis: &'static str,
    },
    /// The tracks of `group` as rows of spans of `categories` (coloured by the span name's first
    /// word, labelled by the rest: `leader t3`), spans of `row_bands` shaded on their row (from
    /// a track of any group named as the row: a node's side of a partition), spans of
    /// `global_bands` (any group) shaded across all rows, and instants of `markers` as
    /// vertical lines. One chart per run.
    Timeline {
        group: &'static str,
        categories: &'static [&'static str],
        row_bands: &'static [&'static str],
        global_bands: &'static [&'static str],
        markers: &'static str,
        row_axis: &'static str,
    },
    /// Spans of `category` in `group` whose name ends with `suffix`, counted per window of
    /// simulated time (1/100 of the run, at least 1 ms), as a rate per second.
    Rate {
        group: &'static str,
        category: &'static str,
        suffix: &'static str,
        y_name: &'static str,
    },
    /// Grouped bars of statistic `stat` of the histograms named `COMPONENT.M` for each `M` of
    /// `metrics`: one group per component (a job), one bar per metric. One chart per run.
    Bars {
        metrics: &'static [&'static str],
        stat: &'static str,
        y_name: &'static str,
    },
    /// Only in a sweep: for each metric matching one of `metrics`, statistic `stat` per variant
    /// as grouped bars (a group per variant, a bar per metric); durations in time units, other
    /// values (a gauge's last value) as they are. A variant with no sample at all
    /// says `none` ("never") in its slot, unless `none` is empty.
    SweepBars {
        metrics: &'static [&'static str],
        stats: &'static [&'static str],
        y_name: &'static str,
        none: &'static str,
    },
}

/// Whether `name` matches the glob `pattern`, in which `*` matches any run of characters.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    glob_captures(pattern, name).is_some()
}

/// What each `*` of `pattern` matched in `name` (each the shortest that lets the rest match,
/// but the last, which takes what is left before the final literal), or None when `name` does
/// not match. A chart names a line by what its pattern's wildcards matched (`n1` of
/// `cluster.commit_index_n1` under `*.commit_index_*`), not by the whole metric name.
pub fn glob_captures<'a>(pattern: &str, name: &'a str) -> Option<Vec<&'a str>> {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let mut rest = name.strip_prefix(first)?;
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty().then(Vec::new);
    };
    let mut captures = Vec::with_capacity(parts.len());
    for p in middle {
        let i = rest.find(p)?;
        captures.push(&rest[..i]);
        rest = &rest[i + p.len()..];
    }
    if rest.len() < last.len() || !rest.ends_with(last) {
        return None;
    }
    captures.push(&rest[..rest.len() - last.len()]);
    Some(captures)
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs_match_as_a_shell_would() {
        assert!(glob_matches("*.queue_len", "server.queue_len"));
        assert!(!glob_matches("*.queue_len", "server.queue_len2"));
        assert!(glob_matches("*.commit_index_*", "cluster.commit_index_n1"));
        assert!(!glob_matches("*.commit_index_*", "cluster.commits"));
        assert!(glob_matches("system.response", "system.response"));
        assert!(!glob_matches("system.response", "system.responses"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*a", "aa"));
        assert!(!glob_matches("a*a", "a"));
        assert!(glob_matches("*x*", "axb"));
    }

    #[test]
    fn captures_are_what_the_wildcards_matched() {
        use super::glob_captures;
        assert_eq!(
            glob_captures("*.commit_index_*", "cluster.commit_index_n1"),
            Some(vec!["cluster", "n1"])
        );
        assert_eq!(
            glob_captures("*.queue_len", "server.queue_len"),
            Some(vec!["server"])
        );
        assert_eq!(
            glob_captures("system.response", "system.response"),
            Some(vec![])
        );
        assert_eq!(glob_captures("*.commit_index_*", "cluster.commits"), None);
        assert_eq!(glob_captures("a*a", "aa"), Some(vec![""]));
    }
}
