//! `sweep component.property in [a, b, c]`: one run per value, and per combination when a
//! scenario sweeps several properties (the first sweep varies slowest).

use std::collections::BTreeMap;

use crate::ast::{Property, Scenario, Sweep};
use crate::diag::{Diagnostic, did_you_mean};
use crate::fmt::value_text;

/// The most runs one scenario's sweeps may expand to.
pub const MAX_VARIANTS: usize = 10_000;

/// One combination of swept values, applied to the scenario.
#[derive(Debug, Clone)]
pub struct Variant {
    /// `component.property=value` for each sweep, joined by spaces; empty without sweeps.
    pub label: String,
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

    /// Run `index` (0-based): the first sweep varies slowest.
    pub fn get(&self, index: usize) -> Variant {
        debug_assert!(index < self.total, "variant {index} of {}", self.total);
        if self.base.sweeps.is_empty() {
            return Variant {
                label: String::new(),
                scenario: self.base.clone(),
            };
        }
        let mut s = self.base.clone();
        s.sweeps.clear();
        let mut picks = vec![0; self.base.sweeps.len()];
        let mut rest = index;
        for (k, sw) in self.base.sweeps.iter().enumerate().rev() {
            picks[k] = rest % sw.values.len();
            rest /= sw.values.len();
        }
        let mut labels = Vec::new();
        for (k, sw) in self.base.sweeps.iter().enumerate() {
            let value = sw.values[picks[k]].clone();
            labels.push(format!("{}={}", sw.path.text, value_text(&value)));
            let (block, slot) = self.targets[k];
            s.blocks[block].props[slot].value = value;
        }
        Variant {
            label: labels.join(" "),
            scenario: s,
        }
    }

    /// Every run, in order.
    pub fn iter(&self) -> impl Iterator<Item = Variant> + '_ {
        (0..self.total).map(|i| self.get(i))
    }
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
