//! The study's definitions on hand-made cohorts (issue 10, items 1–11): each test pins one
//! convention of `docs/study.md` that an earlier version got wrong.

use std::path::Path;
use std::process::Command;

use hemosurv::cohort::{iso_to_day, load_cohort, Cohort, LoadOptions};
use hemosurv::study::dataset::Dataset;
use hemosurv::study::exposure::Exposure;
use hemosurv::study::{incidence, response, StudyConfig};

/// Write a cohort folder: `patients` rows (id, diagnosis, last contact, death), and
/// optional `treatments` and `responses` rows given as CSV lines without the header.
fn write_cohort(dir: &Path, patients: &[&str], treatments: &[&str], responses: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut p = String::from("patient_id,diagnosis_date,last_contact_date,death_date,sex,age_at_diagnosis\n");
    for r in patients {
        p.push_str(r);
        p.push('\n');
    }
    std::fs::write(dir.join("patients.csv"), p).unwrap();
    if !treatments.is_empty() {
        let mut t = String::from("patient_id,line,regimen,intensity,start_date,end_date\n");
        for r in treatments {
            t.push_str(r);
            t.push('\n');
        }
        std::fs::write(dir.join("treatments.csv"), t).unwrap();
    }
    if !responses.is_empty() {
        let mut t = String::from("patient_id,line,date,response\n");
        for r in responses {
            t.push_str(r);
            t.push('\n');
        }
        std::fs::write(dir.join("responses.csv"), t).unwrap();
    }
}

fn load(dir: &Path) -> Cohort {
    load_cohort(dir, &LoadOptions { quarantine: false }).unwrap_or_else(|e| panic!("{e}")).cohort
}

fn config(toml: &str) -> StudyConfig {
    StudyConfig::from_toml_str(toml, "test.toml").unwrap()
}

fn day(s: &str) -> i32 {
    iso_to_day(s).unwrap()
}

fn ids(cohort: &Cohort, d: &Dataset) -> Vec<String> {
    d.patients.iter().map(|p| cohort.patients[p.idx as usize].id.to_string()).collect()
}

/// Item 1: `include_untreated` decides about untreated patients, whatever the intensity filter.
#[test]
fn include_untreated_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    write_cohort(
        dir.path(),
        &["A,2020-01-01,2021-01-01,,F,50", "B,2020-01-01,2021-01-01,,M,70", "C,2020-01-01,2021-01-01,,M,80"],
        &["A,1,7+3,intensive,2020-01-03,2020-02-01", "B,1,aza+ven,low_intensity,2020-01-05,"],
        &[],
    );
    let c = load(dir.path());
    let pop = |toml: &str| ids(&c, &Dataset::build(&c, &config(toml)));
    assert_eq!(pop(""), ["A", "B", "C"]);
    assert_eq!(pop("[population]\ninclude_untreated = false\n"), ["A", "B"]);
    assert_eq!(pop("[population]\nfirst_line_intensity = [\"intensive\"]\n"), ["A"]);
    assert_eq!(pop("[population]\nfirst_line_intensity = [\"intensive\"]\ninclude_untreated = true\n"), ["A", "C"]);
}

/// Item 3: refractory disease (EFS event at day 1) is judged at the end of induction only.
#[test]
fn efs_refractory_only_at_end_of_induction() {
    let dir = tempfile::tempdir().unwrap();
    write_cohort(
        dir.path(),
        &[
            // day-14 marrow without CR, dies in aplasia on day 24: event on the death date
            "EARLY,2020-01-01,2020-01-25,2020-01-25,F,60",
            // end-of-induction assessment (day 30 of the line) without CR: refractory, day 1
            "REFR,2020-01-01,2020-12-31,,M,60",
            // day-14 PR, day-30 CR, relapse on 2020-06-01: EFS = relapse
            "CR,2020-01-01,2020-12-31,,M,60",
        ],
        &["EARLY,1,7+3,intensive,2020-01-01,", "REFR,1,7+3,intensive,2020-01-01,", "CR,1,7+3,intensive,2020-01-01,"],
        &[
            "EARLY,1,2020-01-15,MLFS",
            "REFR,1,2020-01-31,PR",
            "CR,1,2020-01-15,PR",
            "CR,1,2020-01-31,CR",
            "CR,1,2020-06-01,relapse",
        ],
    );
    let c = load(dir.path());
    let d = Dataset::build(&c, &StudyConfig::default());
    let efs: Vec<(f64, bool, bool)> = d.patients.iter().map(|p| (p.efs_time, p.efs_event, p.refractory)).collect();
    assert_eq!(efs[0], (24.0, true, false), "death before the end-of-induction assessment");
    assert_eq!(efs[1], (1.0, true, true), "refractory at the end of induction");
    assert_eq!(efs[2], ((day("2020-06-01") - day("2020-01-01")) as f64, true, false), "relapse after CR1");
}

fn dataset_of(dir: &Path, patients: &[&str], treatments: &[&str], responses: &[&str]) -> (Cohort, Dataset) {
    write_cohort(dir, patients, treatments, responses);
    let c = load(dir);
    let d = Dataset::build(&c, &StudyConfig::default());
    (c, d)
}

/// Items 4 and 5: prevalent HLH leaves the incidence risk set; an onset on the day of death
/// is an unexposed death everywhere, an onset on the last-contact day of a censored patient counts.
#[test]
fn prevalent_hlh_and_onset_on_the_day_of_death() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, d) = dataset_of(
        dir.path(),
        &[
            "PREV,2020-01-01,2020-12-31,,F,60",
            "DEATHDAY,2020-01-01,2020-02-20,2020-02-20,M,60",
            "LASTDAY,2020-01-01,2020-03-01,,M,60",
            "INC,2020-01-01,2020-12-31,,F,60",
            "NONE,2020-01-01,2020-12-31,,F,60",
        ],
        &[],
        &[],
    );
    let onsets = [(0u32, day("2019-12-30")), (1, day("2020-02-20")), (2, day("2020-03-01")), (3, day("2020-01-11"))];
    let ex = Exposure::from_onsets(&d, "x", onsets);
    assert_eq!(ex.prevalent, [true, false, false, false, false]);
    assert_eq!(ex.onset, [Some(0.0), None, Some(60.0), Some(10.0), None]);
    assert_eq!(ex.onset_on_death_day, 1);
    let groups = [incidence::GroupVar { name: "overall", labels: vec!["all".into(); 5] }];
    let crude = incidence::crude_table(std::slice::from_ref(&ex), &groups, 0.95);
    let col = |name: &str| crude.columns.iter().position(|c| c == name).unwrap();
    let row = &crude.rows[0];
    assert_eq!(row[col("n")], 4i64.into(), "prevalent patient is not at risk");
    assert_eq!(row[col("with_hlh")], 2i64.into(), "LASTDAY and INC; not DEATHDAY");
    assert_eq!(row[col("prevalent_at_origin")], 1i64.into());
    let (time, cause, who) = incidence::competing_risk_data(&d, &ex);
    assert_eq!(who, [1, 2, 3, 4]);
    assert_eq!(cause, [2, 1, 1, 0], "the death-day onset is a death without HLH");
    assert_eq!(time, [50.0, 60.0, 10.0, 365.0]);
}

/// Item 6: response by HLH counts only HLH before the first response assessment of line 1.
#[test]
fn response_by_hlh_needs_hlh_before_the_assessment() {
    let dir = tempfile::tempdir().unwrap();
    let (c, d) = dataset_of(
        dir.path(),
        &["BEFORE,2020-01-01,2020-12-31,,F,60", "AFTER,2020-01-01,2020-12-31,,M,60", "NO,2020-01-01,2020-12-31,,M,60"],
        &["BEFORE,1,7+3,intensive,2020-01-02,", "AFTER,1,7+3,intensive,2020-01-02,", "NO,1,7+3,intensive,2020-01-02,"],
        &["BEFORE,1,2020-02-01,PR", "AFTER,1,2020-02-01,CR", "NO,1,2020-02-01,CR"],
    );
    // AFTER's HLH starts in remission, after the response it cannot have caused.
    let ex = Exposure::from_onsets(&d, "x", [(0u32, day("2020-01-20")), (1, day("2020-03-01"))]);
    let t = response::response_by_hlh(&c, &d, &[ex], 0.95);
    let n = t.columns.iter().position(|c| c == "n").unwrap();
    let x = t.columns.iter().position(|c| c == "composite_cr").unwrap();
    assert_eq!((t.rows[0][n].clone(), t.rows[0][x].clone()), (1i64.into(), 0i64.into()), "HLH before: BEFORE only");
    assert_eq!((t.rows[1][n].clone(), t.rows[1][x].clone()), (2i64.into(), 2i64.into()), "no HLH before: AFTER and NO");
}

/// Item 7: RFS is measured from the first-line CR (CR1) only, and a same-day relapse is kept.
#[test]
fn rfs_from_cr1_keeps_same_day_events_and_ignores_salvage_cr() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, d) = dataset_of(
        dir.path(),
        &[
            "SAME,2020-01-01,2020-12-31,,F,60",
            "SALVAGE,2020-01-01,2020-12-31,,M,60",
            "DIED,2020-01-01,2020-05-01,2020-05-01,M,60",
        ],
        &[
            "SAME,1,7+3,intensive,2020-01-02,",
            "SALVAGE,1,7+3,intensive,2020-01-02,2020-02-10",
            "SALVAGE,2,FLAG-Ida,intensive,2020-02-15,",
            "DIED,1,7+3,intensive,2020-01-02,",
        ],
        &[
            "SAME,1,2020-02-01,CR",
            "SAME,1,2020-02-01,relapse",
            "SALVAGE,1,2020-02-01,PR",
            "SALVAGE,2,2020-03-15,CR",
            "DIED,1,2020-02-01,CRi",
        ],
    );
    let a = response::after_cr1(&d);
    assert_eq!(a.who, [0, 2], "the salvage CR is not CR1");
    assert_eq!(a.time, [0.0, (day("2020-05-01") - day("2020-02-01")) as f64]);
    assert_eq!(a.cause, [1, 2], "same-day relapse kept; death in remission competes");
}

fn hemosurv() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hemosurv"))
}

fn sample_subset(dir: &Path) -> std::path::PathBuf {
    // 400 patients of the sample are enough for every analysis to be computable.
    let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data-samples/aml-registry"));
    let cohort = dir.join("cohort");
    std::fs::create_dir_all(&cohort).unwrap();
    let text = std::fs::read_to_string(src.join("patients.csv")).unwrap();
    let keep: std::collections::HashSet<&str> = text.lines().skip(1).take(400).map(|l| l.split(',').next().unwrap()).collect();
    for t in ["patients", "measurements", "findings", "treatments", "responses"] {
        let text = std::fs::read_to_string(src.join(format!("{t}.csv"))).unwrap();
        let mut lines = text.lines();
        let mut out = format!("{}\n", lines.next().unwrap());
        for l in lines.filter(|l| keep.contains(l.split(',').next().unwrap())) {
            out.push_str(l);
            out.push('\n');
        }
        std::fs::write(cohort.join(format!("{t}.csv")), out).unwrap();
    }
    cohort
}

/// Item 2: the primary set is matched by its name; an unknown name is an error.
#[test]
fn primary_set_is_matched_by_name_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = sample_subset(dir.path());
    let study = dir.path().join("bad.toml");
    std::fs::write(&study, "[detection]\ncriteria = [\"hlh2004\"]\nprimary = \"ohi\"\n").unwrap();
    let o = hemosurv()
        .args([
            "run",
            cohort.to_str().unwrap(),
            "--study",
            study.to_str().unwrap(),
            "--out",
            dir.path().join("o1").to_str().unwrap(),
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("detection.primary") && err.contains("ohi") && err.contains("hlh2004"), "{err}");

    // A custom file whose TOML name differs from its path is the primary under either.
    let text = String::from_utf8(hemosurv().args(["criteria", "show", "hscore"]).output().unwrap().stdout).unwrap();
    std::fs::write(dir.path().join("mine.toml"), text.replacen("name = \"hscore\"", "name = \"my_score\"", 1)).unwrap();
    for primary in ["my_score", "mine.toml"] {
        let study = dir.path().join("study.toml");
        std::fs::write(
            &study,
            format!(
                "[detection]\ncriteria = [\"hlh2004\", \"mine.toml\"]\nprimary = \"{primary}\"\n[figures]\nenabled = false\n"
            ),
        )
        .unwrap();
        let out = dir.path().join(format!("o_{primary}"));
        let o = hemosurv()
            .args([
                "run",
                cohort.to_str().unwrap(),
                "--study",
                study.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--quiet",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let course = std::fs::read_to_string(out.join("tables/hlh_episode_course.csv")).unwrap();
        assert!(course.lines().skip(1).all(|l| l.starts_with("my_score,")), "episode course under the primary set");
    }
}

/// Item 10: labels follow the configured confidence level and rate unit.
#[test]
fn labels_follow_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = sample_subset(dir.path());
    let study = dir.path().join("study.toml");
    std::fs::write(&study, "[incidence]\nrate_per_person_months = 1000.0\n[survival]\nconf_level = 0.9\n").unwrap();
    let out = dir.path().join("o");
    let o = hemosurv()
        .args(["run", cohort.to_str().unwrap(), "--study", study.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("90% CI") && !html.contains("95%"), "report labels follow conf_level");
    assert!(html.contains("per 1000 person-months") && !html.contains("100 person-months"), "rate unit");
    let rates = std::fs::read_to_string(out.join("tables/hlh_incidence_rate.csv")).unwrap();
    assert!(
        rates.starts_with("criteria_set,grouping,group,first_episodes,person_months,rate_per_1000_person_months,"),
        "{rates}"
    );
    for f in std::fs::read_dir(out.join("figures")).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|e| e == "svg") {
            let svg = std::fs::read_to_string(&p).unwrap();
            assert!(!svg.contains("95%"), "{} says 95%", p.display());
        }
    }
}

/// Item 11: `validate --quarantine` without `--rejects` is refused (rows are never dropped unseen).
#[test]
fn quarantine_without_rejects_file_is_refused() {
    let cohort = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cohorts/quarantine");
    let o = hemosurv().args(["validate", cohort, "--quarantine"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--rejects"));
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.csv");
    let o = hemosurv().args(["validate", cohort, "--quarantine", "--rejects", rejects.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(&rejects).unwrap().lines().count() > 1, "rejected rows written");
}

/// Item 9: a factor level with a comma is quoted in the Cox coefficient table.
#[test]
fn cox_terms_with_commas_are_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    let mut csv = String::from("time,status,grp\n");
    for i in 0..40 {
        let g = if i % 2 == 0 { "a" } else { "\"z,w\"" };
        csv.push_str(&format!("{},{},{}\n", 5 + (i * 7) % 31, u8::from(i % 3 != 0), g));
    }
    std::fs::write(&data, csv).unwrap();
    let prefix = dir.path().join("cox");
    let o = hemosurv()
        .args([
            "cox",
            data.to_str().unwrap(),
            "--time",
            "time",
            "--event",
            "status",
            "--covariates",
            "grp",
            "--out",
            prefix.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("cox"))
        .collect();
    let coef = written.iter().find(|p| p.extension().is_some_and(|e| e == "csv")).expect("coefficient CSV");
    let text = std::fs::read_to_string(coef).unwrap();
    let line = text.lines().nth(1).unwrap();
    assert!(line.starts_with('"') && line.contains("z,w\""), "{text}");
}

/// Fields of one CSV record (RFC 4180 quoting; no line breaks inside fields here).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

/// Issue 11, item 1: the report opens with key results, and every number there equals the
/// cell of the table it links to (and is shown as that value rounded).
#[test]
fn key_results_numbers_equal_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = sample_subset(dir.path());
    let out = dir.path().join("o");
    let o = hemosurv().args(["run", cohort.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let key_at = html.find("<ul class=\"key-results\">").expect("key results list");
    assert!(
        key_at < html.find("id=\"tab-1\"").unwrap_or(usize::MAX) && html[..key_at].contains("Key results"),
        "key results come first"
    );
    let section = &html[key_at..key_at + html[key_at..].find("</ul>").unwrap()];
    let attr = |tag: &str, name: &str| -> String {
        let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + tag[start..].find('"').unwrap();
        tag[start..end].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"")
    };
    let mut checked = 0;
    for piece in section.split("<a class=\"key\"").skip(1) {
        let tag = &piece[..piece.find('>').unwrap()];
        let shown = &piece[piece.find('>').unwrap() + 1..piece.find("</a>").unwrap()];
        let (table, key, column, value) =
            (attr(tag, "data-table"), attr(tag, "data-key"), attr(tag, "data-column"), attr(tag, "data-value"));
        assert!(html.contains(&format!("id=\"table-{table}\"")), "link target of {table}");
        let text = std::fs::read_to_string(out.join(format!("tables/{table}.csv"))).unwrap();
        let mut lines = text.lines();
        let header = csv_fields(lines.next().unwrap());
        let col = |c: &str| header.iter().position(|h| h == c).unwrap_or_else(|| panic!("{table}: no column {c}"));
        let wanted: Vec<(usize, String)> = key
            .split(';')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (col(k), v.to_string())
            })
            .collect();
        let rows: Vec<Vec<String>> = lines.map(csv_fields).filter(|r| wanted.iter().all(|(k, v)| &r[*k] == v)).collect();
        assert_eq!(rows.len(), 1, "{table} [{key}]: one row");
        let cell: f64 = rows[0][col(&column)].parse().unwrap();
        let value: f64 = value.parse().unwrap();
        assert_eq!(cell, value, "{table} [{key}] {column}");
        // The text shows the value rounded: the digits in it are within half a unit of the last digit shown.
        let digits: String = shown.chars().filter(|c| c.is_ascii_digit() || *c == '.').collect();
        let scale = if shown.ends_with('%') { 100.0 } else { 1.0 };
        if let Ok(x) = digits.parse::<f64>() {
            if !shown.contains('<') {
                let decimals = digits.split('.').nth(1).map_or(0, str::len) as i32;
                assert!((x - value * scale).abs() <= 0.5 * 10f64.powi(-decimals) + 1e-12, "{shown} vs {value}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} linked numbers");
}

/// Issue 9, item 5: with an `adjudications` table the run reports each definition's PPV against
/// the adjudicated cases and the reviewers' kappa, and `primary = "adjudicated"` uses confirmed
/// cases as the exposure; without the table that primary is refused.
#[test]
fn adjudicated_cases_are_reported_and_can_be_the_exposure() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = sample_subset(dir.path());
    let study = dir.path().join("study.toml");
    std::fs::write(&study, "[detection]\nprimary = \"adjudicated\"\n[figures]\nenabled = false\n").unwrap();
    let run = |out: &str| {
        hemosurv()
            .args([
                "run",
                cohort.to_str().unwrap(),
                "--study",
                study.to_str().unwrap(),
                "--out",
                dir.path().join(out).to_str().unwrap(),
                "--quiet",
            ])
            .output()
            .unwrap()
    };
    let o = run("o_without");
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("adjudications"));

    // Two reviewers: A confirms every truth episode, B agrees except on every third one.
    let truth = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data-samples/aml-registry/truth.csv")).unwrap();
    let patients = std::fs::read_to_string(cohort.join("patients.csv")).unwrap();
    let ids: std::collections::HashSet<&str> = patients.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    let mut adj = String::from("patient_id,onset_date,decision,reviewer\n");
    let mut n = 0;
    for l in truth.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if !ids.contains(f[0]) {
            continue;
        }
        adj.push_str(&format!("{},{},confirmed,A\n", f[0], f[2]));
        let b = if n % 3 == 2 { "uncertain" } else { "confirmed" };
        adj.push_str(&format!("{},{},{b},B\n", f[0], f[2]));
        n += 1;
    }
    assert!(n >= 5, "{n} truth episodes in the subset");
    std::fs::write(cohort.join("adjudications.csv"), adj).unwrap();
    let o = run("o_with");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("o_with/tables");
    let ppv = std::fs::read_to_string(out.join("hlh_ppv_adjudicated.csv")).unwrap();
    for set in ["hlh_aml", "hlh2004", "hscore", "ohi"] {
        assert!(ppv.lines().any(|l| l.starts_with(&format!("{set},7,"))), "PPV row of {set}: {ppv}");
    }
    let kappa = std::fs::read_to_string(out.join("reviewer_agreement.csv")).unwrap();
    assert!(kappa.lines().nth(1).is_some_and(|l| l.starts_with("A,B,")), "{kappa}");
    let cox = std::fs::read_to_string(out.join("cox_hlh.csv")).unwrap();
    assert!(cox.lines().any(|l| l.starts_with("adjudicated,time_dependent_adjusted,hlh,")), "adjudicated exposure analysed");
    let course = std::fs::read_to_string(out.join("hlh_episode_course.csv")).unwrap();
    assert!(course.lines().skip(1).all(|l| l.starts_with("adjudicated,")), "primary = adjudicated");
    // Confirmed cases only: uncertain consensus (A confirmed, B uncertain) is not HLH.
    let crude = std::fs::read_to_string(out.join("hlh_incidence_crude.csv")).unwrap();
    let row: Vec<&str> = crude.lines().find(|l| l.starts_with("adjudicated,overall,all,")).unwrap().split(',').collect();
    let confirmed_patients = (0..n).filter(|k| k % 3 != 2).count();
    assert!(row[4].parse::<usize>().unwrap() <= confirmed_patients, "{row:?}");
}

/// An invalid truth table is invalid input: `run` exits 2 (as `detect` does), naming the file's
/// row and column, and writes no output folder.
#[test]
fn run_with_invalid_truth_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = sample_subset(dir.path());
    let truth = dir.path().join("truth.csv");
    std::fs::write(&truth, "patient_id,episode,onset_date,resolution_date,line,regimen\nNOPE,1,2020-01-01,,1,7+3\n").unwrap();
    let out = dir.path().join("o");
    let o = hemosurv()
        .args(["run", cohort.to_str().unwrap(), "--truth", truth.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("row 1") && err.contains("patient_id"), "{err}");
    assert!(!out.exists());
}
