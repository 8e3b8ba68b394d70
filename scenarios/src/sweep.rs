//! `sweep component.property in [a, b, c]`: one run per value, and per combination when a
//! scenario sweeps several properties (the first sweep varies slowest).

use crate::ast::{Property, Scenario, Sweep, Value};
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

/// The scenario's runs: itself when it sweeps nothing, else one variant per combination.
pub fn variants(scenario: &Scenario) -> Result<Vec<Variant>, Vec<Diagnostic>> {
    if scenario.sweeps.is_empty() {
        return Ok(vec![Variant {
            label: String::new(),
            scenario: scenario.clone(),
        }]);
    }
    let mut errors = Vec::new();
    let mut targets = Vec::new();
    for (i, s) in scenario.sweeps.iter().enumerate() {
        if scenario.sweeps[..i]
            .iter()
            .any(|o| o.path.text == s.path.text)
        {
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
    let mut out = Vec::with_capacity(total);
    for index in 0..total {
        let mut s = scenario.clone();
        s.sweeps.clear();
        let mut labels = Vec::new();
        let mut rest = index;
        let mut picks = vec![0; scenario.sweeps.len()];
        for (k, sw) in scenario.sweeps.iter().enumerate().rev() {
            picks[k] = rest % sw.values.len();
            rest /= sw.values.len();
        }
        for (k, sw) in scenario.sweeps.iter().enumerate() {
            let value = sw.values[picks[k]].clone();
            labels.push(format!("{}={}", sw.path.text, value_text(&value)));
            let (block, key) = &targets[k];
            set(&mut s, *block, key, value);
        }
        out.push(Variant {
            label: labels.join(" "),
            scenario: s,
        });
    }
    Ok(out)
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

/// Sets (or adds) a block's property. The checker then types the value against the schema and
/// points at the sweep's value when it does not fit.
fn set(s: &mut Scenario, block: usize, key: &crate::ast::Ident, value: Value) {
    let b = &mut s.blocks[block];
    match b.props.iter_mut().find(|p| p.key.text == key.text) {
        Some(p) => p.value = value,
        None => b.props.push(Property {
            key: key.clone(),
            value,
        }),
    }
}
