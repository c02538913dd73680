//! Definition sensitivity: HLH incidence under a documented grid of definitions, so a
//! reader sees how much the number depends on the definition (issue 9, item 4).
//!
//! The grid is every criteria set of the study as configured, plus variants of the
//! built-in sets that the literature uses or that the AML setting makes plausible:
//!
//! | variant | of | why |
//! |---|---|---|
//! | at least 4 of 8 criteria | `hlh2004` | ICU and AML cohorts (Knaak 2020, Bichon 2021) |
//! | ferritin ≥ 1,000 / 3,000 / 10,000 µg/L | `hlh2004` | O-HLH-2004 style; ICU cut-offs (Knaak 2020: 3,000; Allen 2008 and the ICU-modified criteria: 10,000) |
//! | cytopenia not evaluable during aplasia | `hlh2004` | planned chemotherapy aplasia (Zoref-Lorenz 2022; Delavigne 2014) |
//! | 14-day windows for laboratory criteria | `hlh2004` | sparse outpatient sampling |
//! | cut-off 200 | `hscore` | optimal cut-off in the Alberta validation (Bilston/Croden 2022) |
//! | one criterion fewer / more | every count-rule set of the study other than `hlh2004` | threshold sensitivity |
//! | score cut-off one point lower / higher | every score-rule set of the study other than `hscore` (e.g. `hlh_aml`) | threshold sensitivity |
//!
//! A variant is named `<set>[<variation>]` and appears under that name in every grid table.
//! Sources and numbers: `../shared/clinical/README.md`, `aml-confounders.md` §2.4, §7.

use crate::hlh::{CriteriaSet, CytopeniaMode, RuleKind};

/// One definition of the grid.
#[derive(Debug, Clone)]
pub struct GridDefinition {
    /// Name in the tables (`hlh2004`, `hlh2004[min=4]`, ...).
    pub name: String,
    /// The set it derives from.
    pub base: String,
    /// What was changed (`as configured` for the study's own sets).
    pub variation: String,
    /// The criteria set to detect with.
    pub set: CriteriaSet,
}

/// The grid for a study whose criteria sets are `sets` (the study's sets come first, as configured).
pub fn default_grid(sets: &[CriteriaSet]) -> Vec<GridDefinition> {
    let mut grid: Vec<GridDefinition> = sets
        .iter()
        .map(|s| GridDefinition { name: s.name.clone(), base: s.name.clone(), variation: "as configured".into(), set: s.clone() })
        .collect();
    let base = |name: &str| sets.iter().find(|s| s.name == name).cloned().or_else(|| CriteriaSet::builtin(name));
    if let Some(h) = base("hlh2004") {
        grid.push(variant(&h, "min=4", "at least 4 criteria", |s| set_min(s, 4)));
        for f in [1000.0, 3000.0, 10000.0] {
            grid.push(variant(&h, &format!("ferritin>={f}"), &format!("ferritin threshold {f} µg/L"), |s| {
                s.adaptations.ferritin_threshold = Some(f);
            }));
        }
        grid.push(variant(&h, "cytopenia=aplasia_aware", "cytopenia not evaluable during intensive-chemotherapy aplasia", |s| {
            s.adaptations.cytopenia_mode = CytopeniaMode::IgnoreDuringAplasia;
        }));
        grid.push(variant(&h, "window=14d", "14-day look-back windows for laboratory criteria", |s| widen_lab_windows(s, 14)));
    }
    if let Some(h) = base("hscore") {
        if matches!(h.rule.kind, RuleKind::Score { .. }) {
            grid.push(variant(&h, "cutoff=200", "HScore cut-off 200", |s| s.rule.kind = RuleKind::Score { cutoff: 200.0 }));
        }
    }
    for s in sets.iter().filter(|s| s.name != "hlh2004" && s.name != "hscore") {
        if let RuleKind::Score { cutoff } = s.rule.kind {
            for (tag, c) in [("lower", cutoff - 1.0), ("higher", cutoff + 1.0)] {
                grid.push(variant(s, &format!("cutoff={c}"), &format!("score cut-off one point {tag}"), |v| {
                    v.rule.kind = RuleKind::Score { cutoff: c }
                }));
            }
        }
        if !s.rule.at_least_one_of.is_empty() {
            grid.push(variant(s, "no_specific_feature", "without the at-least-one-of requirement", |v| {
                v.rule.at_least_one_of.clear()
            }));
        }
        if let RuleKind::Count { min } = s.rule.kind {
            if min > 1 {
                grid.push(variant(s, &format!("min={}", min - 1), "one criterion fewer", |v| set_min(v, min - 1)));
            }
            if (min as usize) < s.criteria.len() {
                grid.push(variant(s, &format!("min={}", min + 1), "one criterion more", |v| set_min(v, min + 1)));
            }
        }
    }
    // A user's set may share a variant's name: keep the first of equal names.
    let mut seen = std::collections::BTreeSet::new();
    grid.retain(|g| seen.insert(g.name.clone()));
    grid
}

fn variant(base: &CriteriaSet, tag: &str, what: &str, change: impl FnOnce(&mut CriteriaSet)) -> GridDefinition {
    let mut set = base.clone();
    change(&mut set);
    set.name = format!("{}[{tag}]", base.name);
    GridDefinition { name: set.name.clone(), base: base.name.clone(), variation: what.to_string(), set }
}

fn set_min(s: &mut CriteriaSet, min: u32) {
    if let RuleKind::Count { .. } = s.rule.kind {
        s.rule.kind = RuleKind::Count { min };
    }
}

/// Laboratory criteria and sub-conditions (not findings) look back `days` instead of their own window.
fn widen_lab_windows(s: &mut CriteriaSet, days: u32) {
    use crate::hlh::{CriterionKind, Test};
    for c in &mut s.criteria {
        match &mut c.kind {
            CriterionKind::Single(Test::Lab { .. }) | CriterionKind::LabPoints { .. } => c.window_days = Some(days),
            CriterionKind::CountOf { conditions, .. } => {
                for k in conditions.iter_mut().filter(|k| matches!(k.test, Test::Lab { .. })) {
                    k.window_days = Some(days);
                }
            }
            CriterionKind::Single(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_has_the_study_sets_first_and_unique_names() {
        let sets: Vec<CriteriaSet> = ["hlh2004", "hscore", "ohi"].iter().map(|n| CriteriaSet::builtin(n).unwrap()).collect();
        let grid = default_grid(&sets);
        assert_eq!(grid.iter().take(3).map(|g| g.name.as_str()).collect::<Vec<_>>(), ["hlh2004", "hscore", "ohi"]);
        assert!(grid.len() >= 10, "{} definitions", grid.len());
        let names: std::collections::BTreeSet<_> = grid.iter().map(|g| &g.name).collect();
        assert_eq!(names.len(), grid.len());
        let min4 = grid.iter().find(|g| g.name == "hlh2004[min=4]").unwrap();
        assert_eq!(min4.set.rule.kind, RuleKind::Count { min: 4 });
        assert_eq!(min4.set.name, "hlh2004[min=4]");
    }

    #[test]
    fn a_set_with_at_least_one_of_gets_a_variant_without_it() {
        let aml = CriteriaSet::builtin("hlh_aml").unwrap();
        assert!(!aml.rule.at_least_one_of.is_empty());
        let grid = default_grid(std::slice::from_ref(&aml));
        let v = grid.iter().find(|g| g.name == "hlh_aml[no_specific_feature]").unwrap();
        assert!(v.set.rule.at_least_one_of.is_empty());
        assert_eq!(v.set.rule.kind, aml.rule.kind);
        assert_eq!(v.base, "hlh_aml");
    }
}
