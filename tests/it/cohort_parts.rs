//! Measurements on disk by patient range (`cohort::MeasurementParts`, what `hemosurv run` uses
//! so that its memory does not grow with the measurement rows): loading in parts and detecting
//! part by part gives exactly what the in-memory path gives, whatever the part size and the
//! input order.

use std::path::Path;

use hemosurv::cohort::{load_cohort, load_cohort_in_parts, LoadOptions, PartOptions};
use std::collections::BTreeMap;
use std::sync::Mutex;

use hemosurv::hlh::{detect_many, CriteriaSet, DetectOptions, Evidence, EvidenceSink, PartwiseDetection, ALL_BUILTIN_NAMES};
use hemosurv::simulate::{simulate, SimFormat, SimOptions};

/// Keeps every evidence chunk by (set, chunk number).
#[derive(Default)]
struct Chunks(Mutex<BTreeMap<(usize, usize), Vec<Evidence>>>);

impl EvidenceSink for Chunks {
    fn take(&self, set: usize, chunk: usize, rows: &[Evidence]) -> std::io::Result<()> {
        let old = self.0.lock().unwrap().insert((set, chunk), rows.to_vec());
        assert!(old.is_none(), "chunk ({set}, {chunk}) numbered twice");
        Ok(())
    }
}

fn sets() -> Vec<CriteriaSet> {
    ALL_BUILTIN_NAMES.iter().map(|n| CriteriaSet::builtin(n).expect("built-in set")).collect()
}

/// Load `dir` whole and in parts of about `rows_per_part` rows (multiples of `align` patients),
/// detect under every built-in set both ways (part by part with chunks of 3 patients), and
/// require the same validation, measurements and detections.
fn parts_agree_with_memory(dir: &Path, work: &Path, rows_per_part: usize, align: usize) {
    let opts = LoadOptions::default();
    let whole = load_cohort(dir, &opts).expect("loads");
    let part_opts = PartOptions { dir: work.join("parts"), rows_per_part, align_patients: align, max_parts: 10_000 };
    let (mut parted, parts) = load_cohort_in_parts(dir, &opts, &part_opts).expect("loads in parts");
    let parts = parts.expect("the cohort has a measurements table");
    assert_eq!(parted.report, whole.report, "validation must not depend on where the rows go");
    assert!(parted.cohort.measurements.is_empty());
    assert_eq!(parts.total_rows() as usize, whole.cohort.measurements.len());
    assert!(parts.len() >= 4, "the test needs several parts, got {}", parts.len());

    let sets = sets();
    let expected = detect_many(&whole.cohort, &sets);
    let sink = Chunks::default();
    let mut run = PartwiseDetection::new(&sets);
    let mut primary_by_part = Vec::new();
    let (last, mut taken) = (sets.len() - 1, Vec::new());
    let mut covered = 0usize;
    for k in 0..parts.len() {
        let range = parts.patients(k);
        assert_eq!(range.start as usize, covered, "parts are consecutive");
        assert_eq!(range.start as usize % align, 0, "parts start at a multiple of the alignment");
        covered = range.end as usize;
        parted.cohort.set_measurement_part(range.clone(), parts.read(k).expect("reads back"));
        for p in range.clone() {
            assert_eq!(parted.cohort.measurements_of(p), whole.cohort.measurements_of(p), "patient {p}");
        }
        if range.start > 0 {
            assert!(parted.cohort.measurements_of(range.start - 1).is_empty(), "only the part's patients are held");
        }
        let opts = DetectOptions { chunk_patients: 3, sink: Some(&sink), ..Default::default() };
        run.detect_patients(&parted.cohort, range.start as usize..range.end as usize, &opts).expect("the sink keeps rows");
        primary_by_part.extend(run.last_range_episodes(0).cloned());
        // the last set's episodes are taken out part by part (as `run` keeps only the grid
        // variants' onsets)
        taken.extend(run.take_last_range_episodes(last));
    }
    assert_eq!(covered, whole.cohort.patients.len(), "the parts cover every patient");
    assert_eq!(primary_by_part, expected[0].episodes, "each part's episodes, in order, are the detection's");
    let mut got = run.finish(covered);
    assert!(expected.iter().any(|d| !d.episodes.is_empty() && !d.evidence.is_empty()), "the test needs episodes");
    assert!(!taken.is_empty(), "the test needs episodes of the last set");
    assert!(got[last].episodes.is_empty(), "taken episodes are not in the detection");
    assert_eq!(got[last].summary, expected[last].summary, "but still counted in its summary");
    assert_eq!(taken, expected[last].episodes, "taken in patient order");
    got[last].episodes = taken;
    // the evidence went to the sink, numbered on across the parts: in chunk order it is the
    // in-memory evidence of each set
    let chunks = sink.0.into_inner().unwrap();
    for (k, d) in got.iter_mut().enumerate() {
        assert!(d.evidence.is_empty());
        d.evidence = chunks.range((k, 0)..(k + 1, 0)).flat_map(|(_, rows)| rows.iter().cloned()).collect();
    }
    assert_eq!(got, expected);

    let dir = parts.dir().to_path_buf();
    assert!(dir.exists());
    drop(parts);
    assert!(!dir.exists(), "the part files are removed with the parts");
}

#[test]
fn detection_part_by_part_equals_detection_in_memory_on_shuffled_csv() {
    // The sample with its measurement rows in reverse order: every part receives its rows out
    // of order and must sort them as the in-memory cohort does.
    let work = tempfile::tempdir().unwrap();
    let cohort = work.path().join("cohort");
    std::fs::create_dir(&cohort).unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples/aml-registry");
    for t in ["patients", "treatments", "responses", "findings"] {
        std::fs::copy(sample.join(format!("{t}.csv")), cohort.join(format!("{t}.csv"))).unwrap();
    }
    let text = std::fs::read_to_string(sample.join("measurements.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1..].reverse();
    std::fs::write(cohort.join("measurements.csv"), lines.join("\n") + "\n").unwrap();
    parts_agree_with_memory(&cohort, work.path(), 20_000, 5);
}

#[test]
fn detection_part_by_part_equals_detection_in_memory_on_parquet() {
    // Several Parquet row groups (a chunk of 40 simulated patients each).
    let work = tempfile::tempdir().unwrap();
    let cohort = work.path().join("cohort");
    let mut opts = SimOptions::new(300, 20_261_203, &cohort, SimFormat::Parquet);
    opts.chunk_size = 40;
    simulate(&opts).expect("simulates");
    parts_agree_with_memory(&cohort, work.path(), 5_000, 7);
}
