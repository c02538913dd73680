//! End-to-end: `hemosurv run` on the bundled sample cohort and on simulated
//! cohorts with known truth.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::files_under;
use hemosurv::simulate::{simulate, DeathModel, SimFormat, SimOptions};
use hemosurv::study::{run, RunOptions};

fn sample() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data-samples/aml-registry"))
}

/// A quiet run of `cohort` into `out` with the default options.
fn run_options(cohort: &Path, study: Option<PathBuf>, out: &Path) -> RunOptions {
    RunOptions {
        cohort_dir: cohort.to_path_buf(),
        study,
        out: out.to_path_buf(),
        force: false,
        quiet: true,
        quarantine: false,
        truth: None,
        identifiable: false,
        command: vec!["test".into()],
        part_rows: hemosurv::study::DEFAULT_PART_ROWS,
    }
}

fn run_to(cohort: &Path, study: Option<PathBuf>, out: &Path) {
    run(&run_options(cohort, study, out)).unwrap_or_else(|e| panic!("run failed: {e}"));
}

/// Study population size of a run (from its manifest).
fn m_population(out: &Path) -> usize {
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    m["row_counts"]["study_population"].as_u64().unwrap() as usize
}

fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines.map(|l| header.iter().cloned().zip(l.split(',').map(String::from)).collect()).collect()
}

fn svg_texts(svg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text") {
        rest = &rest[i..];
        let Some(gt) = rest.find('>') else { break };
        let Some(end) = rest.find("</text>") else { break };
        out.push(rest[gt + 1..end].trim().to_string());
        rest = &rest[end + 7..];
    }
    out
}

#[test]
fn sample_run_is_complete_reproducible_and_figures_match_tables() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run_to(&sample(), None, &a);
    run_to(&sample(), None, &b);

    // Everything the issue lists is there.
    for f in [
        "report.html",
        "manifest.json",
        "tables/cohort_flow.csv",
        "tables/hlh_incidence_crude.csv",
        "tables/hlh_cumulative_incidence.csv",
        "tables/hlh_incidence_rate.csv",
        "tables/cox_hlh.csv",
        "tables/os_simon_makuch_by_hlh.csv",
        "tables/response_by_line_regimen.csv",
        "tables/hlh_episode_course.csv",
        "tables/hlh_evidence.csv",
        "tables/hlh_episodes.csv",
        "tables/analyses_not_computed.csv",
        "tables/cir_from_cr1.csv",
        "tables/rfs_from_cr1_km.csv",
        "tables/os_by_first_line_intensity_km.parquet",
        "figures/km_os_by_first_line_intensity.svg",
        "figures/km_os_by_first_line_intensity.png",
        "figures/cif_hlh_by_first_line_intensity.svg",
        "figures/simon_makuch_os_by_hlh.svg",
        "figures/forest_cox_time_dependent.svg",
        "figures/response_rates_by_regimen.svg",
        "figures/swimmer_hlh_patients.svg",
        "figures/lab_trajectories_around_hlh_onset.svg",
    ] {
        assert!(a.join(f).exists(), "missing {f}");
    }
    // Byte-identical tables between runs.
    let mut n_tables = 0;
    for entry in std::fs::read_dir(a.join("tables")).unwrap() {
        let name = entry.unwrap().file_name();
        let x = std::fs::read(a.join("tables").join(&name)).unwrap();
        let y = std::fs::read(b.join("tables").join(&name)).unwrap();
        assert_eq!(x, y, "{name:?} differs between identical runs");
        n_tables += 1;
    }
    assert!(n_tables > 40);
    // Table 2 describes the patients the incidence table counts.
    let t2 = read_csv(&a.join("tables/hlh_episodes_characteristics.csv"));
    let crude = read_csv(&a.join("tables/hlh_incidence_crude.csv"));
    let overall = crude.iter().find(|r| r["grouping"] == "overall" && r["criteria_set"] == "hlh_aml").unwrap();
    let with_hlh = t2.iter().find(|r| r["characteristic"] == "patients with HLH").unwrap();
    assert_eq!(with_hlh["count"], overall["with_hlh"]);
    assert_eq!(with_hlh["denominator"], overall["n"]);
    assert!(t2.iter().any(|r| r["characteristic"] == "ferritin at onset (µg/L)" && !r["median"].is_empty()));
    // Publication-safe by default: no patient identifier and no patient-level calendar date of
    // the input in the report or any figure (the key is tables/patient_key.csv only).
    let mut published = vec![("report.html".to_string(), std::fs::read_to_string(a.join("report.html")).unwrap())];
    for entry in std::fs::read_dir(a.join("figures")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "svg") {
            published.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
        }
    }
    let mut ids = BTreeSet::new();
    let mut dates = BTreeSet::new();
    for table in ["patients", "treatments", "responses", "findings", "truth"] {
        for row in read_csv(&sample().join(format!("{table}.csv"))) {
            ids.insert(row["patient_id"].clone());
            for (k, v) in &row {
                if k.ends_with("date") && v.len() == 10 {
                    dates.insert(v.clone());
                }
            }
        }
    }
    assert!(ids.len() == 2000 && dates.len() > 1000, "{} ids, {} dates", ids.len(), dates.len());
    for (file, text) in &published {
        for id in &ids {
            assert!(!text.contains(id.as_str()), "{file} shows patient identifier {id}");
        }
        for d in &dates {
            assert!(!text.contains(d.as_str()), "{file} shows the patient-level date {d}");
        }
    }
    let key = read_csv(&a.join("tables/patient_key.csv"));
    assert_eq!(key.len(), m_population(&a));
    // tables/README.md documents every column of every table.
    let readme = std::fs::read_to_string(a.join("tables/README.md")).unwrap();
    assert!(!readme.contains("(not documented)"), "an undocumented column in tables/README.md");
    assert!(readme.contains("## hlh_episodes_characteristics.csv") && readme.contains("## cox_hlh.csv"));
    // Manifest: version, config, input checksums and row counts.
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(a.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["hemosurv_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["row_counts"]["patients"], 2000);
    assert!(m["inputs"].as_array().unwrap().iter().all(|i| i["sha256"].as_str().unwrap().len() == 64));
    assert!(m["study_config"]["detection"]["criteria"].is_array());
    // The naive comparison is labelled as biased.
    let cox = read_csv(&a.join("tables/cox_hlh.csv"));
    assert!(cox.iter().any(|r| r["model"] == "naive_hlh_ever_BIASED"));
    // Report inlines the figures.
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 10);

    // Risk table under the KM figure = n_risk of the KM table at the ticks (0, 6, ..., 36 months).
    let km = read_csv(&a.join("tables/os_by_first_line_intensity_km.csv"));
    let svg = std::fs::read_to_string(a.join("figures/km_os_by_first_line_intensity.svg")).unwrap();
    let texts = svg_texts(&svg);
    assert!(texts.iter().any(|t| t == "Months") && texts.iter().any(|t| t == "Overall survival"), "axis labels");
    let days_per_month = 365.25 / 12.0;
    let mut groups: Vec<String> = km.iter().map(|r| r["group"].clone()).collect();
    groups.dedup();
    for g in &groups {
        let rows: Vec<&BTreeMap<String, String>> = km.iter().filter(|r| &r["group"] == g).collect();
        let expected: Vec<String> = (0..=6)
            .map(|k| {
                let t = k as f64 * 6.0 * days_per_month;
                rows.iter()
                    .find(|r| r["time"].parse::<f64>().unwrap() >= t)
                    .map(|r| r["n_risk"].clone())
                    .unwrap_or_else(|| "0".into())
            })
            .collect();
        let table = texts.iter().position(|t| t == "Number at risk").expect("risk table heading");
        let start =
            table + texts[table..].iter().position(|t| t == g).unwrap_or_else(|| panic!("group label {g} not in the risk table"));
        let after: Vec<String> = texts[start..].iter().filter(|t| t.parse::<u64>().is_ok()).take(7).cloned().collect();
        assert_eq!(after, expected, "risk table of {g}");
    }
    // PNG parses, 300 dpi-sized.
    let png = image::open(a.join("figures/km_os_by_first_line_intensity.png")).unwrap();
    assert!(png.width() >= 1000);

    // Existing output is not overwritten without --force.
    let out = Command::new(env!("CARGO_BIN_EXE_hemosurv"))
        .args(["run", sample().to_str().unwrap(), "--out", a.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
}

#[test]
fn estimates_agree_with_planted_truth_and_naive_analysis_shows_immortal_time_bias() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    let mut opts = SimOptions::new(12_000, 7, &cohort, SimFormat::Parquet);
    opts.params.death_model = DeathModel::Proportional;
    // The clean model: detection by HLH-2004 recovers the planted episodes exactly, so the
    // estimated incidence and hazard ratio can be checked against the truth.
    opts.params.mimics = false;
    let truth_hr = opts.params.hlh_death_hr;
    simulate(&opts).unwrap();
    let study = dir.path().join("study.toml");
    std::fs::write(
        &study,
        "[population]\nfirst_line_intensity = [\"intensive\"]\ninclude_untreated = false\n\
         [detection]\ncriteria = [\"hlh2004\"]\nprimary = \"hlh2004\"\n\
         [survival]\ncovariates = [\"age_at_diagnosis\", \"eln_risk\"]\n[figures]\nenabled = false\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    run_to(&cohort, Some(study), &out);

    // Incidence among intensive patients vs the planted episodes (truth table).
    let crude = read_csv(&out.join("tables/hlh_incidence_crude.csv"));
    let row = crude.iter().find(|r| r["grouping"] == "overall").unwrap();
    let n: f64 = row["n"].parse().unwrap();
    let (lo, hi): (f64, f64) = (row["exact_lower"].parse().unwrap(), row["exact_upper"].parse().unwrap());
    let params: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cohort.join("truth_params.json")).unwrap()).unwrap();
    let planted = params["summary"]["hlh_patients_intensive"].as_f64().unwrap();
    let intensive = params["summary"]["first_line_intensive"].as_f64().unwrap();
    let truth_prop = planted / intensive;
    assert!(lo <= truth_prop && truth_prop <= hi, "planted incidence {truth_prop} outside CI [{lo}, {hi}] (n = {n})");
    let p = params["params"]["hlh_prob_intensive"].as_f64().unwrap();
    assert!((truth_prop - p).abs() < 0.02, "realised {truth_prop} vs planted probability {p}");

    // Time-dependent HR of HLH for death covers the planted HR; the naive one is biased low.
    let cox = read_csv(&out.join("tables/cox_hlh.csv"));
    let get = |model: &str, term: &str| {
        let r = cox.iter().find(|r| r["model"] == model && r["term"] == term).unwrap();
        (r["hr"].parse::<f64>().unwrap(), r["hr_lower"].parse::<f64>().unwrap(), r["hr_upper"].parse::<f64>().unwrap())
    };
    let (hr, lo, hi) = get("time_dependent_adjusted", "hlh");
    assert!(lo <= truth_hr && truth_hr <= hi, "time-dependent HR {hr} ({lo}-{hi}) does not cover the planted {truth_hr}");
    let (naive, _nlo, nhi) = get("naive_hlh_ever_BIASED", "hlh_ever");
    assert!(naive < hr && nhi < truth_hr, "naive HR {naive} (upper {nhi}) should be biased below the planted {truth_hr}");
}

/// Values of every `attr="..."` in `html`.
fn attribute_values(html: &str, attr: &str) -> Vec<String> {
    let key = format!(" {attr}=\"");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&key) {
        rest = &rest[i + key.len()..];
        let end = rest.find('"').expect("attribute value is closed");
        out.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    out
}

/// A Chromium-compatible browser: `HEMOSURV_BROWSER`, else `chromium` / `chromium-browser` /
/// `google-chrome` on the PATH.
fn browser() -> Option<PathBuf> {
    if let Some(b) = std::env::var_os("HEMOSURV_BROWSER") {
        return Some(PathBuf::from(b));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// The sample report has no broken anchor, link or image, and renders in headless Chromium; a
/// screenshot of its first screen is kept in the test's target folder for a person to look
/// at. Without a browser the static checks still run; `.ci/run` installs Chromium and sets
/// `HEMOSURV_REQUIRE_BROWSER=1`, which makes a missing browser a failure.
#[test]
fn report_has_no_broken_link_or_anchor_and_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    run_to(&sample(), None, &out);
    let report = out.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    let ids: BTreeSet<String> = attribute_values(&html, "id").into_iter().collect();
    let hrefs = attribute_values(&html, "href");
    assert!(hrefs.len() > 50, "{} links", hrefs.len());
    for href in &hrefs {
        if let Some(anchor) = href.strip_prefix('#') {
            assert!(ids.contains(anchor), "link to a missing anchor: {href}");
        } else if !href.starts_with("http://") && !href.starts_with("https://") {
            assert!(out.join(href).is_file(), "link to a missing file: {href}");
        }
    }
    for src in attribute_values(&html, "src") {
        assert!(src.starts_with("data:") || out.join(&src).is_file(), "broken image: {src}");
    }
    assert!(html.contains("<svg"), "figures are inlined");

    let Some(browser) = browser() else {
        assert!(
            std::env::var_os("HEMOSURV_REQUIRE_BROWSER").is_none(),
            "HEMOSURV_REQUIRE_BROWSER is set but no Chromium was found"
        );
        eprintln!("no Chromium found (set HEMOSURV_BROWSER): browser rendering not checked");
        return;
    };
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_first_screen.png");
    let _ = std::fs::remove_file(&shot);
    let url = format!("file://{}", report.canonicalize().unwrap().display());
    let profile = dir.path().join("chromium-profile");
    let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900"];
    let status = Command::new(&browser)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", browser.display()));
    assert!(status.status.success(), "chromium failed: {}", String::from_utf8_lossy(&status.stderr));
    let png = image::open(&shot).unwrap_or_else(|e| panic!("screenshot {}: {e}", shot.display()));
    assert_eq!((png.width(), png.height()), (1280, 900));
    // The first screen is not blank: some pixels are dark (text).
    let dark = png.to_luma8().pixels().filter(|p| p.0[0] < 100).count();
    assert!(dark > 1000, "the first screen looks blank ({dark} dark pixels)");
    // The DOM after rendering still holds the key results and every figure.
    let dom = Command::new(&browser)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("Key results"), "rendered DOM lacks the key results");
    assert_eq!(dom.matches("<svg").count(), html.matches("<svg").count(), "every inline figure is in the rendered DOM");
    eprintln!("screenshot of the report's first screen: {}", shot.display());
}

/// `hemosurv run` holds the measurements one part of the patients at a time: the sample's
/// 307,422 measurement rows in parts of about 20,000 rows (rounded up to whole 256-patient
/// detection chunks: 8 parts of 256 patients, so the trajectories and the labs at onset are
/// collected across parts and the evidence chunks are numbered on across them) give the same
/// tables, figures and report, byte for byte, as one part.
#[test]
fn the_measurement_part_size_changes_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let run_with = |part_rows: usize, name: &str| {
        let out = dir.path().join(name);
        run(&RunOptions { part_rows, ..run_options(&sample(), None, &out) }).unwrap_or_else(|e| panic!("run failed: {e}"));
        let mut files = files_under(&out);
        files.remove(Path::new("manifest.json")); // holds the output path and timings
        files
    };
    let one = run_with(hemosurv::study::DEFAULT_PART_ROWS, "one");
    let many = run_with(20_000, "many");
    assert!(one.keys().any(|p| p.starts_with("tables")) && one.keys().any(|p| p.starts_with("figures")));
    assert_eq!(one.keys().collect::<Vec<_>>(), many.keys().collect::<Vec<_>>());
    for (path, bytes) in &one {
        assert!(bytes == &many[path], "{} differs between 1 and 8 measurement parts", path.display());
    }
}
