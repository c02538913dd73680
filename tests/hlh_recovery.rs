//! Detection on a simulated cohort recovers every planted HLH episode (onset
//! within the lookback window) and finds none in patients without planted HLH.

use std::collections::HashMap;
use std::path::Path;

use hemosurv::cohort::{iso_to_day, load_cohort, LoadOptions};
use hemosurv::hlh::{detect, CriteriaSet};

#[test]
fn sample_cohort_planted_episodes_are_recovered_without_false_positives() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data-samples/aml-registry"));
    let loaded = load_cohort(dir, &LoadOptions::default()).unwrap();
    let truth = std::fs::read_to_string(dir.join("truth.csv")).unwrap();
    // patient_id -> planted onset days
    let mut planted: HashMap<String, Vec<i32>> = HashMap::new();
    for line in truth.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        planted.entry(f[0].to_string()).or_default().push(iso_to_day(f[2]).unwrap());
    }
    assert!(planted.len() > 50, "the sample has planted episodes");
    for name in ["hlh2004", "hscore", "ohi"] {
        let set = CriteriaSet::builtin(name).unwrap();
        let d = detect(&loaded.cohort, &set);
        let mut found: HashMap<&str, Vec<i32>> = HashMap::new();
        for e in &d.episodes {
            found.entry(e.patient_id.as_str()).or_default().push(e.onset);
        }
        for (pid, onsets) in &found {
            assert!(planted.contains_key(*pid), "{name}: false positive in patient {pid} without planted HLH");
            let _ = onsets;
        }
        for (pid, onsets) in &planted {
            let got = found.get(pid.as_str()).unwrap_or_else(|| panic!("{name}: planted HLH of {pid} missed"));
            for o in onsets {
                assert!(
                    got.iter().any(|g| (*g - *o).abs() <= 7),
                    "{name}: planted onset {o} of {pid} not matched within 7 days by {got:?}"
                );
            }
        }
    }
}
