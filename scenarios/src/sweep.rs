//! `sweep component.property in [a, b, c]`: one run per value, and per combination when a
//! scenario sweeps several properties (the first sweep varies slowest).

use std::collections::BTreeMap;

use crate::ast::{Property, Scenario, Sweep};
use crate::diag::{Diagnostic, did_you_mean};
use crate::fmt::value_text;

/// The most runs one scenario's sweeps may expand to.
pub const MAX_VARIANTS: usize = 10_000;

/// The most variants an error message lists; the rest are counted.
const LISTED_MAX: usize = 12;

/// One combination of swept values, applied to the scenario.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Its number, from 1, in sweep order (the first sweep varies slowest): what `--variant N`
    /// chooses and the N of the files a sweep writes (`FILE-N`). 1 without sweeps.
    pub number: usize,
    /// `component.property=value` for each sweep, joined by spaces; empty without sweeps.
    pub label: String,
    /// The command-line flags that choose this run again, one `--variant component.property=value`
    /// per sweep, each with a space before it and shell-quoted where the value needs it; empty
    /// without sweeps. Replay commands carry them, so each variant has its own.
    pub flags: String,
    pub scenario: Scenario,
}

/// A scenario's runs, made one at a time as they are asked for, so that a sweep of thousands of
/// combinations never holds thousands of copies of the scenario.
#[derive(Debug, Clone)]
pub struct Variants {
    base: Scenario,
    /// For each sweep, the block it sets and the index of the property in that block.
    targets: Vec<(usize, usize)>,
    total: usize,
}

impl Variants {
    /// How many runs.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Whether the scenario sweeps (so each run is a variant with a label and flags).
    pub fn swept(&self) -> bool {
        !self.base.sweeps.is_empty()
    }

    /// Run `index` (0-based; its [`Variant::number`] is `index + 1`): the first sweep varies
    /// slowest.
    pub fn get(&self, index: usize) -> Variant {
        debug_assert!(index < self.total, "variant {index} of {}", self.total);
        if self.base.sweeps.is_empty() {
            return Variant {
                number: 1,
                label: String::new(),
                flags: String::new(),
                scenario: self.base.clone(),
            };
        }
        let mut s = self.base.clone();
        s.sweeps.clear();
        let mut labels = Vec::new();
        let mut flags = String::new();
        for (k, (sw, pick)) in self.base.sweeps.iter().zip(self.picks(index)).enumerate() {
            let value = sw.values[pick].clone();
            let pair = format!("{}={}", sw.path.text, value_text(&value));
            flags.push_str(&format!(" --variant {}", shell_word(&pair)));
            labels.push(pair);
            let (block, slot) = self.targets[k];
            s.blocks[block].props[slot].value = value;
        }
        Variant {
            number: index + 1,
            label: labels.join(" "),
            flags,
            scenario: s,
        }
    }

    /// Which value of each sweep run `index` takes (indices into each sweep's values).
    fn picks(&self, index: usize) -> Vec<usize> {
        let mut picks = vec![0; self.base.sweeps.len()];
        let mut rest = index;
        for (k, sw) in self.base.sweeps.iter().enumerate().rev() {
            picks[k] = rest % sw.values.len();
            rest /= sw.values.len();
        }
        picks
    }

    /// The runs `--variant` chooses (0-based, in order): every run for no choice; the run of a
    /// number (`2`, counted from 1); or the runs with the given values (`server.servers=2`, one
    /// `NAME=VALUE` per flag, NAME a swept `component.property` or, when no other sweep shares
    /// it, the property alone). A sweep not named keeps all its values, so naming every sweep
    /// chooses exactly one run.
    pub fn select(&self, specs: &[String]) -> Result<Vec<usize>, VariantError> {
        if specs.is_empty() {
            return Ok((0..self.total).collect());
        }
        if !self.swept() {
            return Err(VariantError::NotSwept {
                file: self.base.file.clone(),
            });
        }
        if let Some(number) = specs.iter().find_map(|s| number(s)) {
            if specs.len() > 1 {
                return Err(VariantError::NumberAndValues);
            }
            if number == 0 || number > self.total {
                return Err(VariantError::NoSuchNumber {
                    number,
                    file: self.base.file.clone(),
                    total: self.total,
                    listing: self.listing(),
                });
            }
            return Ok(vec![number - 1]);
        }
        // For each sweep, the value it must take (None: any).
        let mut wanted: Vec<Option<usize>> = vec![None; self.base.sweeps.len()];
        for spec in specs {
            let (k, value) = self.pair(spec)?;
            if wanted[k].replace(value).is_some() {
                return Err(VariantError::Twice {
                    path: self.base.sweeps[k].path.text.clone(),
                });
            }
        }
        Ok((0..self.total)
            .filter(|&i| {
                self.picks(i)
                    .iter()
                    .zip(&wanted)
                    .all(|(p, w)| w.is_none_or(|w| w == *p))
            })
            .collect())
    }

    /// The one run `--variant` chooses, for a command that runs one: as [`Variants::select`],
    /// and an error naming the flag and the variants when the choice is missing or leaves
    /// several runs. Without sweeps, the scenario's one run (and no flag is needed).
    pub fn select_one(&self, specs: &[String]) -> Result<usize, VariantError> {
        if specs.is_empty() && self.swept() {
            return Err(VariantError::Unchosen {
                file: self.base.file.clone(),
                total: self.total,
                listing: self.listing(),
            });
        }
        let chosen = self.select(specs)?;
        match chosen[..] {
            [one] => Ok(one),
            _ => Err(VariantError::Several {
                count: chosen.len(),
                listing: self.listing_of(&chosen),
            }),
        }
    }

    /// `--variant NAME=VALUE`: the sweep it names and the index of the value.
    fn pair(&self, spec: &str) -> Result<(usize, usize), VariantError> {
        let sweeps = &self.base.sweeps;
        let Some((name, value)) = spec.split_once('=') else {
            return Err(VariantError::Malformed {
                spec: spec.to_string(),
                total: self.total,
                example: shell_word(&format!(
                    "{}={}",
                    sweeps[0].path.text,
                    value_text(&sweeps[0].values[0])
                )),
            });
        };
        let (name, value) = (name.trim(), value.trim());
        let whole: Vec<usize> = (0..sweeps.len())
            .filter(|&k| sweeps[k].path.text == name)
            .collect();
        let named: Vec<usize> = if whole.is_empty() {
            (0..sweeps.len())
                .filter(|&k| sweeps[k].path.text.split_once('.').map(|p| p.1) == Some(name))
                .collect()
        } else {
            whole
        };
        let paths = |ks: &mut dyn Iterator<Item = usize>| {
            ks.map(|k| format!("`{}`", sweeps[k].path.text))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let k = match named[..] {
            [k] => k,
            [] => {
                return Err(VariantError::UnknownName {
                    spec: spec.to_string(),
                    name: name.to_string(),
                    file: self.base.file.clone(),
                    swept: paths(&mut (0..sweeps.len())),
                });
            }
            _ => {
                return Err(VariantError::Ambiguous {
                    spec: spec.to_string(),
                    name: name.to_string(),
                    paths: paths(&mut named.iter().copied()),
                });
            }
        };
        let sweep = &sweeps[k];
        let found =
            canonical(value).and_then(|v| sweep.values.iter().position(|x| value_text(x) == v));
        found
            .map(|i| (k, i))
            .ok_or_else(|| VariantError::NoSuchValue {
                spec: spec.to_string(),
                value: value.to_string(),
                path: sweep.path.text.clone(),
                file: self.base.file.clone(),
                values: sweep
                    .values
                    .iter()
                    .map(value_text)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Every variant as `N: label`, the first [`LISTED_MAX`] of them, for error messages.
    pub fn listing(&self) -> String {
        self.listing_of(&(0..self.total).collect::<Vec<_>>())
    }

    fn listing_of(&self, indices: &[usize]) -> String {
        let mut shown: Vec<String> = indices
            .iter()
            .take(LISTED_MAX)
            .map(|&i| {
                let v = self.get(i);
                format!("{}: {}", v.number, v.label)
            })
            .collect();
        if indices.len() > LISTED_MAX {
            shown.push(format!("and {} more", indices.len() - LISTED_MAX));
        }
        shown.join(", ")
    }

    /// Every run, in order.
    pub fn iter(&self) -> impl Iterator<Item = Variant> + '_ {
        (0..self.total).map(|i| self.get(i))
    }
}

/// `2` in `--variant 2`: a whole number, or None for anything else.
fn number(spec: &str) -> Option<usize> {
    let t = spec.trim();
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // Digits too many for a usize are past every variant.
    Some(t.parse().unwrap_or(usize::MAX))
}

/// A value as the scenario language reads it, in its canonical spelling (`1000ms` -> `1s`), or
/// None when it is not one value.
fn canonical(text: &str) -> Option<String> {
    let probe = format!("scenario \"variant\" {{ sweep a.b in [{text}] }}");
    let parsed = crate::parse::parse("--variant", &probe).ok()?;
    match &parsed.sweeps[..] {
        [one] if one.values.len() == 1 => Some(value_text(&one.values[0])),
        _ => None,
    }
}

/// `word` as one shell word: as it is when it holds only characters no shell treats specially,
/// else in single quotes (a `'` inside written `'\''`).
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.,:/=+%@".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Why `--variant` chooses no run. Each reads as one line naming the flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariantError {
    #[error("--variant: {file} has no `sweep`, so it has one run; drop --variant")]
    NotSwept { file: String },
    #[error(
        "{file} sweeps, so it has {total} variants; choose one with --variant N (from 1) or --variant NAME=VALUE: {listing}"
    )]
    Unchosen {
        file: String,
        total: usize,
        listing: String,
    },
    #[error("--variant {number}: {file} has {total} variants, numbered from 1: {listing}")]
    NoSuchNumber {
        number: usize,
        file: String,
        total: usize,
        listing: String,
    },
    #[error(
        "--variant {spec}: write a variant's number (1 to {total}) or NAME=VALUE, such as --variant {example}"
    )]
    Malformed {
        spec: String,
        total: usize,
        example: String,
    },
    #[error("--variant {spec}: `{name}` is not swept in {file}; it sweeps {swept}")]
    UnknownName {
        spec: String,
        name: String,
        file: String,
        swept: String,
    },
    #[error("--variant {spec}: `{name}` could be {paths}; write the whole name")]
    Ambiguous {
        spec: String,
        name: String,
        paths: String,
    },
    #[error("--variant {spec}: {file} sweeps {path} over [{values}]; `{value}` is not one of them")]
    NoSuchValue {
        spec: String,
        value: String,
        path: String,
        file: String,
        values: String,
    },
    #[error("--variant names {path} twice")]
    Twice { path: String },
    #[error("--variant: a number chooses one whole run; give it alone, without NAME=VALUE")]
    NumberAndValues,
    #[error(
        "--variant chooses {count} runs and this runs one; name a value for every sweep ({listing})"
    )]
    Several { count: usize, listing: String },
}

impl<'a> IntoIterator for &'a Variants {
    type Item = Variant;
    type IntoIter = Box<dyn Iterator<Item = Variant> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// The scenario's runs: itself when it sweeps nothing, else one variant per combination.
pub fn variants(scenario: &Scenario) -> Result<Variants, Vec<Diagnostic>> {
    if scenario.sweeps.is_empty() {
        return Ok(Variants {
            base: scenario.clone(),
            targets: Vec::new(),
            total: 1,
        });
    }
    let mut errors = Vec::new();
    let mut targets = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for s in &scenario.sweeps {
        if !seen.insert(s.path.text.as_str()) {
            errors.push(Diagnostic::at(
                &s.file,
                s.path.span,
                format!("`{}` is swept twice", s.path.text),
            ));
            continue;
        }
        match locate(scenario, s) {
            Ok(t) => targets.push(t),
            Err(d) => errors.push(d),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let total = scenario
        .sweeps
        .iter()
        .try_fold(1usize, |acc, s| acc.checked_mul(s.values.len()))
        .unwrap_or(usize::MAX);
    if total > MAX_VARIANTS {
        let s = &scenario.sweeps[0];
        return Err(vec![Diagnostic::at(
            &s.file,
            s.span,
            format!("these sweeps make {total} runs; at most {MAX_VARIANTS}"),
        )]);
    }
    // Give every swept property a slot in the base scenario now (the first value stands in), so
    // that making a variant writes by index instead of searching the block's properties.
    let mut base = scenario.clone();
    let mut slots = Vec::with_capacity(targets.len());
    let mut index: BTreeMap<(usize, String), usize> = BTreeMap::new();
    for (b, block) in base.blocks.iter().enumerate() {
        for (p, prop) in block.props.iter().enumerate() {
            index.entry((b, prop.key.text.clone())).or_insert(p);
        }
    }
    for (k, (block, key)) in targets.iter().enumerate() {
        let slot = *index.entry((*block, key.text.clone())).or_insert_with(|| {
            let props = &mut base.blocks[*block].props;
            props.push(Property {
                key: key.clone(),
                value: scenario.sweeps[k].values[0].clone(),
            });
            props.len() - 1
        });
        slots.push((*block, slot));
    }
    Ok(Variants {
        base,
        targets: slots,
        total,
    })
}

/// The block index and property key a sweep's path names.
fn locate(scenario: &Scenario, s: &Sweep) -> Result<(usize, crate::ast::Ident), Diagnostic> {
    let Some((component, prop)) = s.path.text.split_once('.') else {
        return Err(Diagnostic::at(
            &s.file,
            s.path.span,
            format!("`{}` names no property", s.path.text),
        )
        .hint("write component.property, such as server.service"));
    };
    let Some(i) = scenario
        .blocks
        .iter()
        .position(|b| b.name().text == component)
    else {
        let hint = did_you_mean(
            component,
            scenario.blocks.iter().map(|b| b.name().text.as_str()),
        )
        .unwrap_or_else(|| "name a component of this scenario".into());
        return Err(Diagnostic::at(
            &s.file,
            s.path.span,
            format!("there is no component `{component}`"),
        )
        .hint(hint));
    };
    let key = crate::ast::Ident {
        text: prop.to_string(),
        span: s.path.span,
    };
    Ok((i, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"scenario "two" {
  source a { rate 1/s  customers 10  to s }
  station s { servers 1  service exp(1s) }
  sweep s.servers in [1, 2, 3]
  sweep s.service in [exp(1s), uniform(100ms, 2s)]
}
"#;

    fn variants_of(text: &str) -> Variants {
        variants(&crate::parse::parse("two.scn", text).unwrap()).unwrap()
    }

    fn pick(v: &Variants, specs: &[&str]) -> Result<Vec<usize>, VariantError> {
        v.select(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn variants_are_numbered_from_1_with_flags_that_choose_them_again() {
        let v = variants_of(TWO);
        let labels: Vec<(usize, String)> = v.iter().map(|x| (x.number, x.label)).collect();
        assert_eq!(labels[0], (1, "s.servers=1 s.service=exp(1s)".into()));
        assert_eq!(
            labels[5],
            (6, "s.servers=3 s.service=uniform(100ms, 2s)".into())
        );
        let last = v.get(5);
        assert_eq!(
            last.flags,
            " --variant s.servers=3 --variant 's.service=uniform(100ms, 2s)'"
        );
        for x in v.iter() {
            let specs: Vec<String> = x
                .label
                .split(" s.service")
                .enumerate()
                .map(|(k, p)| {
                    if k == 0 {
                        p.to_string()
                    } else {
                        format!("s.service{p}")
                    }
                })
                .collect();
            assert_eq!(v.select(&specs), Ok(vec![x.number - 1]), "{}", x.label);
        }
    }

    #[test]
    fn a_choice_by_number_by_values_or_by_some_values() {
        let v = variants_of(TWO);
        assert_eq!(pick(&v, &[]), Ok((0..6).collect()));
        assert_eq!(pick(&v, &["4"]), Ok(vec![3]));
        // The short name, and the same value spelt otherwise (1000ms is 1s).
        assert_eq!(pick(&v, &["servers=2", "service=exp(1000ms)"]), Ok(vec![2]));
        assert_eq!(pick(&v, &["servers = 3"]), Ok(vec![4, 5]));
        assert_eq!(
            pick(&v, &["s.service=uniform(100ms,2s)"]),
            Ok(vec![1, 3, 5])
        );
        assert_eq!(v.select_one(&["2".into()]), Ok(1));
    }

    #[test]
    fn a_choice_that_is_not_there_says_what_is() {
        let v = variants_of(TWO);
        let err = |specs: &[&str]| pick(&v, specs).unwrap_err().to_string();
        assert!(err(&["7"]).contains("6 variants, numbered from 1: 1: s.servers=1"));
        assert!(err(&["0"]).contains("numbered from 1"));
        assert!(err(&["servers=4"]).contains("sweeps s.servers over [1, 2, 3]; `4` is not"));
        assert!(err(&["servers=(("]).contains("`((` is not one of them"));
        assert!(err(&["quantum=1"]).contains("`quantum` is not swept"));
        assert!(err(&["big"]).contains("such as --variant s.servers=1"));
        assert!(err(&["servers=1", "s.servers=2"]).contains("twice"));
        assert!(err(&["2", "servers=1"]).contains("alone"));
        // Values that would make a second sweep or list are not one value.
        assert!(err(&["servers=1] sweep s.x in [2"]).contains("is not one of them"));
        let none = v.select_one(&[]).unwrap_err().to_string();
        assert!(
            none.contains("--variant N") && none.contains("6: s.servers=3"),
            "{none}"
        );
        let several = v.select_one(&["servers=1".into()]).unwrap_err().to_string();
        assert!(several.contains("chooses 2 runs"), "{several}");
        let plain = variants_of(&TWO.replace("  sweep", "  # sweep"));
        assert!(!plain.swept());
        assert_eq!(plain.select_one(&[]), Ok(0));
        assert!(matches!(
            plain.select(&["1".into()]),
            Err(VariantError::NotSwept { .. })
        ));
    }

    #[test]
    fn ambiguous_short_names_ask_for_the_whole_name() {
        let text = r#"scenario "amb" {
  source a { rate 1/s  customers 10  to s }
  station s { servers 1  service exp(1s)  to t }
  station t { servers 1  service exp(1s) }
  sweep s.servers in [1, 2]
  sweep t.servers in [1, 2]
}
"#;
        let v = variants_of(text);
        let e = pick(&v, &["servers=1"]).unwrap_err().to_string();
        assert!(e.contains("could be `s.servers`, `t.servers`"), "{e}");
        assert_eq!(pick(&v, &["t.servers=2", "s.servers=1"]), Ok(vec![1]));
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("a.b=150ms..300ms"), "a.b=150ms..300ms");
        assert_eq!(shell_word("a.b=exp(1s)"), "'a.b=exp(1s)'");
        assert_eq!(shell_word("a.b=\"x y\""), "'a.b=\"x y\"'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
