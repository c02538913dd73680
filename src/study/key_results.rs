//! The "Key results" section that opens the report: the few numbers a reader of an
//! HLH-in-AML paper looks for first, each read from the table the run wrote and linked to it
//! (issue 11, item 1).
//!
//! Every number is taken from the typed cells of its table (the same doubles its CSV holds)
//! and carries its table, row key and column in the HTML, where a test checks it.

use crate::report::html::{FactPart, KeyNumber};
use crate::table::{Cell, ResultTable};

use super::config::StudyConfig;
use super::outputs::RunOutputs;

/// The row whose `key` columns hold the given texts.
fn row<'a>(t: &'a ResultTable, key: &[(&str, &str)]) -> Option<&'a Vec<Cell>> {
    let idx: Vec<(usize, &str)> = key.iter().map(|(c, v)| Some((t.column_index(c)?, *v))).collect::<Option<_>>()?;
    t.rows.iter().find(|r| idx.iter().all(|(k, v)| r[*k].plain_text().is_some_and(|s| s == *v)))
}

/// A numeric cell of a row, with its link.
fn number(t: &ResultTable, key: &[(&str, &str)], column: &str, show: impl Fn(f64) -> String) -> Option<FactPart> {
    let r = row(t, key)?;
    let value = r[t.column_index(column)?].as_f64()?;
    let key = key.iter().map(|(c, v)| format!("{c}={v}")).collect::<Vec<_>>().join(";");
    Some(FactPart::Number(KeyNumber { text: show(value), table: t.name.clone(), key, column: column.to_string(), value }))
}

fn text(s: impl Into<String>) -> FactPart {
    FactPart::Text(s.into())
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn count(x: f64) -> String {
    format!("{x:.0}")
}

fn two(x: f64) -> String {
    format!("{x:.2}")
}

fn p_value(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".to_string()
    } else {
        format!("p = {p:.3}")
    }
}

/// The median of a Simon–Makuch curve: the time (as written) of the first row with survival
/// at or below one half (R's `survfit` median, without its sqrt(eps) tolerance), if reached.
fn simon_makuch_median(t: &ResultTable, set: &str, state: &str) -> Option<String> {
    let (cs, st, time, surv) =
        (t.column_index("criteria_set")?, t.column_index("state")?, t.column_index("time")?, t.column_index("surv")?);
    t.rows
        .iter()
        .filter(|r| r[cs].as_str() == Some(set) && r[st].as_str() == Some(state))
        .find(|r| r[surv].as_f64().is_some_and(|v| v <= 0.5))
        .and_then(|r| r[time].plain_text())
}

/// The key-results sentences of a run (a sentence is left out when its table is absent or its
/// numbers are NA; the list of analyses not computed says why).
pub(crate) fn key_results(cfg: &StudyConfig, outs: &RunOutputs, primary: &str) -> Vec<Vec<FactPart>> {
    let ci = super::run::ci_label(cfg.survival.conf_level);
    let mut facts = Vec::new();
    if let Some(flow) = outs.table("cohort_flow") {
        if let Some(n) = number(flow, &[("step", "study population")], "patients", count) {
            facts.push(vec![text("Study population: "), n, text(" patients.")]);
        }
    }
    if let Some(crude) = outs.table("hlh_incidence_crude") {
        for (grouping, group, label) in
            [("overall", "all", "all patients"), ("first_line_intensity", "intensive", "intensive first line")]
        {
            let key = [("criteria_set", primary), ("grouping", grouping), ("group", group)];
            let parts = (
                number(crude, &key, "with_hlh", count),
                number(crude, &key, "n", count),
                number(crude, &key, "proportion", pct),
                number(crude, &key, "exact_lower", pct),
                number(crude, &key, "exact_upper", pct),
            );
            if let (Some(x), Some(n), Some(p), Some(lo), Some(hi)) = parts {
                facts.push(vec![
                    text(format!("HLH incidence ({primary}), {label}: ")),
                    x,
                    text(" of "),
                    n,
                    text(" patients at risk, "),
                    p,
                    text(format!(" ({ci} ")),
                    lo,
                    text("–"),
                    hi,
                    text(")."),
                ]);
            }
        }
    }
    if let Some(cif) = outs.table("hlh_cumulative_incidence") {
        let mut parts =
            vec![text(format!("Cumulative incidence of a first HLH episode ({primary}, death without HLH competing): "))];
        let mut any = false;
        for day in [30.0f64, 90.0, 365.0] {
            let d = crate::table::format::Num(day).to_string();
            let key =
                [("criteria_set", primary), ("grouping", "overall"), ("group", "all"), ("cause", "hlh"), ("day", d.as_str())];
            if let Some(v) = number(cif, &key, "estimate", pct) {
                if any {
                    parts.push(text(", "));
                }
                parts.extend([v, text(format!(" at {d} days"))]);
                any = true;
            }
        }
        if any {
            parts.push(text("."));
            facts.push(parts);
        }
    }
    if let Some(cox) = outs.table("cox_hlh") {
        let td = [("criteria_set", primary), ("model", "time_dependent_adjusted"), ("term", "hlh")];
        if let (Some(hr), Some(lo), Some(hi), Some(p)) = (
            number(cox, &td, "hr", two),
            number(cox, &td, "hr_lower", two),
            number(cox, &td, "hr_upper", two),
            number(cox, &td, "p", p_value),
        ) {
            facts.push(vec![
                text(format!("Hazard ratio of HLH ({primary}) for death, time-dependent and adjusted: ")),
                hr,
                text(format!(" ({ci} ")),
                lo,
                text("–"),
                hi,
                text("; "),
                p,
                text(")."),
            ]);
        }
        let naive = [("criteria_set", primary), ("model", "naive_hlh_ever_BIASED"), ("term", "hlh_ever")];
        if let Some(hr) = number(cox, &naive, "hr", two) {
            facts.push(vec![
                text("The naive comparison of patients with HLH at any time against the others gives a hazard ratio of "),
                hr,
                text(
                    ": it is biased by immortal time (a patient must survive until HLH onset to be counted as exposed), \
                     which is why the time-dependent model is the estimate to report.",
                ),
            ]);
        }
    }
    if let Some(sm) = outs.table("os_simon_makuch_by_hlh") {
        let mut parts = vec![text(format!("Median overall survival by time-dependent HLH status ({primary}, Simon–Makuch): "))];
        for (k, state) in ["HLH", "no HLH"].into_iter().enumerate() {
            if k > 0 {
                parts.push(text(" vs "));
            }
            match simon_makuch_median(sm, primary, state) {
                Some(t) => parts.extend([
                    number(sm, &[("criteria_set", primary), ("state", state), ("time", t.as_str())], "time", count)
                        .unwrap_or_else(|| text("NA")),
                    text(format!(" days {}", if state == "HLH" { "with HLH" } else { "without" })),
                ]),
                None => parts.push(text(format!("not reached {}", if state == "HLH" { "with HLH" } else { "without" }))),
            }
        }
        parts.push(text("."));
        facts.push(parts);
    }
    if let Some(resp) = outs.table("response_by_line_regimen") {
        let mut parts = vec![text("First-line composite CR (CR + CRh + CRi) by regimen: ")];
        let regimens: Vec<String> = resp
            .rows
            .iter()
            .filter(|r| r[0].plain_text().is_some_and(|s| s == "1"))
            .filter_map(|r| r[1].as_str().map(str::to_string))
            .collect();
        let mut any = false;
        for reg in &regimens {
            let key = [("line", "1"), ("regimen", reg.as_str())];
            if let (Some(rate), Some(n)) = (number(resp, &key, "composite_cr_rate", pct), number(resp, &key, "n_treated", count))
            {
                if any {
                    parts.push(text("; "));
                }
                parts.extend([text(format!("{reg} ")), rate, text(" of "), n]);
                any = true;
            }
        }
        if any {
            parts.push(text("."));
            facts.push(parts);
        }
    }
    if let Some(v) = outs.table("hlh_validation") {
        let key = [("definition", primary)];
        if let (Some(se), Some(ppv)) = (number(v, &key, "sensitivity", two), number(v, &key, "ppv", two)) {
            facts.push(vec![
                text(format!("Against the cohort's truth table, {primary} has a patient-level sensitivity of ")),
                se,
                text(" and a PPV of "),
                ppv,
                text("."),
            ]);
        }
    }
    facts
}
