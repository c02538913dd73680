//! Detection on a cohort simulated with the clean model (`hemosurv simulate --clean`)
//! recovers every planted HLH episode on its planted onset day, finds no extra episode in
//! patients with planted HLH and none in patients without.
//!
//! Why the onset is checked exactly: in the clean model every criterion of HLH-2004, HScore
//! and OHI is met from the planted onset day on (fever, full signature labs, sCD25 and the
//! splenomegaly finding are all dated on the onset day), and none is met before it (the
//! 2-day prodrome has fever only; patients stay below the rules outside episodes), so a
//! detector that evaluates each day's look-back window fires exactly on the onset day.

use std::collections::BTreeMap;

use hemosurv::cohort::{iso_to_day, load_cohort, LoadOptions};
use hemosurv::hlh::{detect, CriteriaSet};
use hemosurv::simulate::{simulate, SimFormat, SimOptions};

#[test]
fn clean_cohort_planted_episodes_are_recovered_exactly_without_false_positives() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SimOptions::new(2000, 20261127, dir.path(), SimFormat::Csv);
    opts.params.mimics = false;
    simulate(&opts).unwrap();
    let loaded = load_cohort(dir.path(), &LoadOptions::default()).unwrap();
    let truth = std::fs::read_to_string(dir.path().join("truth.csv")).unwrap();
    // patient_id -> planted onset days, in order
    let mut planted: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for line in truth.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        planted.entry(f[0].to_string()).or_default().push(iso_to_day(f[2]).unwrap());
    }
    assert!(planted.len() > 50, "the cohort has planted episodes");
    for name in ["hlh2004", "hscore", "ohi"] {
        let set = CriteriaSet::builtin(name).unwrap();
        let d = detect(&loaded.cohort, &set);
        let mut found: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for e in &d.episodes {
            found.entry(e.patient_id.to_string()).or_default().push(e.onset);
        }
        for v in found.values_mut() {
            v.sort_unstable();
        }
        for pid in found.keys() {
            assert!(planted.contains_key(pid), "{name}: false positive in patient {pid} without planted HLH");
        }
        for (pid, onsets) in &planted {
            let got = found.get(pid).unwrap_or_else(|| panic!("{name}: planted HLH of {pid} missed"));
            assert_eq!(got, onsets, "{name}: {pid}: detected onsets {got:?} vs planted {onsets:?}");
        }
        assert_eq!(found.len(), planted.len(), "{name}");
    }
}
