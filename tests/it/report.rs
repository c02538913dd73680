//! Tests of the output folder, CSV writer, manifest and HTML report (`hemosurv::report`).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use hemosurv::report::html::{html_table, ShownTable};
use hemosurv::report::{
    sha256_file, tables_readme, write_atomic, write_csv_file, Exclusion, FigureRef, InputFile, ListedTable, Manifest, OutputDir,
    OutputFile, Report, ReportError, Section, StageTiming,
};
use hemosurv::table::{Cell, ColumnDoc, ResultTable, ResultTableError};

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

// ---------------------------------------------------------------- output folder

#[test]
fn output_dir_writes_to_hidden_temp_then_commits() {
    let root = tempfile::tempdir().unwrap();
    let final_dir = root.path().join("nested").join("run1");
    let out = OutputDir::create(&final_dir, false).unwrap();
    let tmp = out.path().to_path_buf();
    assert_eq!(tmp.parent().unwrap(), root.path().join("nested"));
    assert!(tmp.file_name().unwrap().to_string_lossy().starts_with(".run1.tmp-"), "{}", tmp.display());
    assert!(out.tables().is_dir() && out.figures().is_dir());
    assert_eq!(out.tables(), tmp.join("tables"));
    assert_eq!(out.figures(), tmp.join("figures"));
    assert!(!final_dir.exists(), "nothing at the final path before commit");
    fs::write(out.tables().join("a.csv"), "x\n1\n").unwrap();

    let committed = out.commit().unwrap();
    assert_eq!(committed, final_dir);
    assert_eq!(fs::read_to_string(final_dir.join("tables/a.csv")).unwrap(), "x\n1\n");
    assert!(final_dir.join("figures").is_dir());
    assert!(!tmp.exists());
    assert_eq!(names_in(&root.path().join("nested")), vec!["run1"]);
}

#[test]
fn output_dir_refuses_existing_without_force() {
    let root = tempfile::tempdir().unwrap();
    let final_dir = root.path().join("run");
    fs::create_dir(&final_dir).unwrap();
    fs::write(final_dir.join("manifest.json"), "{}").unwrap();
    let err = OutputDir::create(&final_dir, false).unwrap_err();
    assert!(matches!(err, ReportError::OutputExists { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&final_dir.display().to_string()), "{msg}");
    assert!(msg.contains("--force"), "{msg}");
    // Nothing was created or touched.
    assert_eq!(names_in(root.path()), vec!["run"]);
    assert_eq!(names_in(&final_dir), vec!["manifest.json"]);
}

#[test]
fn output_dir_force_replaces_previous_output_only_at_commit() {
    let root = tempfile::tempdir().unwrap();
    let final_dir = root.path().join("run");
    fs::create_dir_all(final_dir.join("tables")).unwrap();
    fs::write(final_dir.join("manifest.json"), "{\"old\":true}").unwrap();
    fs::write(final_dir.join("tables/old.csv"), "old\n").unwrap();

    let out = OutputDir::create(&final_dir, true).unwrap();
    fs::write(out.path().join("manifest.json"), "{\"new\":true}").unwrap();
    fs::write(out.tables().join("new.csv"), "new\n").unwrap();
    // The old output is intact until commit.
    assert!(final_dir.join("tables/old.csv").exists());
    out.commit().unwrap();

    assert_eq!(fs::read_to_string(final_dir.join("manifest.json")).unwrap(), "{\"new\":true}");
    assert_eq!(names_in(&final_dir.join("tables")), vec!["new.csv"]);
    assert_eq!(names_in(root.path()), vec!["run"], "no temp or old folder left behind");
}

#[test]
fn output_dir_force_replaces_empty_folder() {
    let root = tempfile::tempdir().unwrap();
    let final_dir = root.path().join("run");
    fs::create_dir(&final_dir).unwrap();
    let out = OutputDir::create(&final_dir, true).unwrap();
    fs::write(out.path().join("manifest.json"), "{}").unwrap();
    out.commit().unwrap();
    assert_eq!(names_in(&final_dir), vec!["figures", "manifest.json", "tables"]);
}

#[test]
fn output_dir_force_refuses_folder_that_is_not_an_output() {
    let root = tempfile::tempdir().unwrap();
    let precious = root.path().join("thesis");
    fs::create_dir(&precious).unwrap();
    fs::write(precious.join("chapter1.tex"), "important").unwrap();
    let err = OutputDir::create(&precious, true).unwrap_err();
    assert!(matches!(err, ReportError::UnsafeReplace { .. }), "{err}");
    assert!(err.to_string().contains("thesis"), "{err}");
    assert_eq!(fs::read_to_string(precious.join("chapter1.tex")).unwrap(), "important");

    let file = root.path().join("afile");
    fs::write(&file, "x").unwrap();
    let err = OutputDir::create(&file, true).unwrap_err();
    assert!(err.to_string().contains("not a folder"), "{err}");
    assert_eq!(names_in(root.path()), vec!["afile", "thesis"]);
}

#[test]
fn output_dir_drop_without_commit_removes_temp() {
    let root = tempfile::tempdir().unwrap();
    let final_dir = root.path().join("run");
    let tmp;
    {
        let out = OutputDir::create(&final_dir, false).unwrap();
        tmp = out.path().to_path_buf();
        fs::write(out.tables().join("partial.csv"), "a\n").unwrap();
        assert!(tmp.exists());
        // a failing run returns early here
    }
    assert!(!tmp.exists());
    assert!(!final_dir.exists());
    assert!(names_in(root.path()).is_empty());
}

#[test]
fn output_dir_failed_forced_run_keeps_previous_output() {
    let root = tempfile::tempdir().unwrap();
    let final_dir = root.path().join("run");
    fs::create_dir(&final_dir).unwrap();
    fs::write(final_dir.join("manifest.json"), "old").unwrap();
    {
        let out = OutputDir::create(&final_dir, true).unwrap();
        fs::write(out.path().join("manifest.json"), "new").unwrap();
    }
    assert_eq!(fs::read_to_string(final_dir.join("manifest.json")).unwrap(), "old");
    assert_eq!(names_in(root.path()), vec!["run"]);
}

#[test]
fn output_dir_commit_refuses_folder_that_appeared_meanwhile() {
    let root = tempfile::tempdir().unwrap();
    let final_dir = root.path().join("run");
    let out = OutputDir::create(&final_dir, false).unwrap();
    fs::create_dir(&final_dir).unwrap();
    let err = out.commit().unwrap_err();
    assert!(matches!(err, ReportError::OutputExists { .. }), "{err}");
    assert_eq!(names_in(root.path()), vec!["run"], "temp removed after failed commit");
}

#[test]
fn write_atomic_replaces_content() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path().join("x.txt");
    write_atomic(&p, b"first").unwrap();
    write_atomic(&p, b"second").unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"second");
    assert_eq!(names_in(root.path()), vec!["x.txt"]);
}

// ---------------------------------------------------------------- CSV

fn sample_table() -> ResultTable {
    let mut t = ResultTable::documented(
        "km_summary",
        "Kaplan-Meier summary per stratum",
        vec![
            ColumnDoc::new("stratum", "Group label"),
            ColumnDoc::new("n", "Patients at risk at time 0"),
            ColumnDoc::new("median", "Median survival, days; NA if not reached"),
        ],
    );
    t.push_row(vec![Cell::from("all"), Cell::from(120i64), Cell::from(Some(365.25))]);
    t.push_row(vec![Cell::from("age,<60"), Cell::Int(-3), Cell::from(None::<f64>)]);
    t.push_row(vec![Cell::from("say \"hi\""), Cell::Int(0), Cell::Num(-0.0)]);
    t.push_row(vec![Cell::from("two\nlines"), Cell::Int(1), Cell::Num(0.1 + 0.2)]);
    t.push_row(vec![Cell::from(""), Cell::Int(2), Cell::Num(1e-7)]);
    t
}

#[test]
fn csv_exact_bytes_quoting_na_and_numbers() {
    let t = sample_table();
    let mut buf = Vec::new();
    t.write_csv(&mut buf).unwrap();
    let expected = "stratum,n,median\n\
                    all,120,365.25\n\
                    \"age,<60\",-3,\n\
                    \"say \"\"hi\"\"\",0,0\n\
                    \"two\nlines\",1,0.30000000000000004\n\
                    \"\",2,1e-7\n";
    assert_eq!(String::from_utf8(buf).unwrap(), expected);
}

#[test]
fn csv_numbers_read_back_exactly() {
    let values = [1.0 / 3.0, 2.0 / 3.0, 1e-300, 6.02214076e23, -123.456, f64::EPSILON, 0.95];
    let mut t = ResultTable::new("nums", &["x"]);
    for v in values {
        t.push_row(vec![Cell::Num(v)]);
    }
    let text = String::from_utf8(t.to_csv_bytes().unwrap()).unwrap();
    let parsed: Vec<f64> = text.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    assert_eq!(parsed, values);
    assert!(!text.contains("NaN") && !text.contains("inf"));
    assert!(text.contains("1e-300") && text.contains("6.02214076e23"), "exponent outside [1e-4, 1e15): {text}");
}

#[test]
fn csv_nan_and_inf_are_errors_naming_table_row_column() {
    for (bad, shown) in [(f64::NAN, "NaN"), (f64::INFINITY, "inf"), (f64::NEG_INFINITY, "-inf")] {
        let mut t = sample_table();
        t.rows[2][2] = Cell::Num(bad);
        let mut buf = Vec::new();
        let err = t.write_csv(&mut buf).unwrap_err();
        match &err {
            ResultTableError::NonFinite { table, row, column, value } => {
                assert_eq!(table, "km_summary");
                assert_eq!(*row, 3);
                assert_eq!(column, "median");
                assert_eq!(value, shown);
            }
            other => panic!("unexpected error {other}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("km_summary") && msg.contains("row 3") && msg.contains("`median`"), "{msg}");
        assert!(buf.is_empty(), "nothing written when the table is invalid");
    }
}

#[test]
fn csv_row_length_mismatch_is_an_error() {
    let mut t = sample_table();
    t.push_row(vec![Cell::Int(1)]);
    let err = t.to_csv_bytes().unwrap_err();
    assert!(matches!(err, ResultTableError::RowLength { row: 6, expected: 3, found: 1, .. }), "{err}");
    assert!(err.to_string().contains("km_summary"));
}

#[test]
fn csv_is_deterministic_and_the_file_writer_matches() {
    let a = sample_table().to_csv_bytes().unwrap();
    let b = sample_table().to_csv_bytes().unwrap();
    assert_eq!(a, b);
    let dir = tempfile::tempdir().unwrap();
    let p1 = write_csv_file(&sample_table(), dir.path()).unwrap();
    assert_eq!(p1, dir.path().join("km_summary.csv"));
    let h1 = sha256_file(&p1).unwrap();
    write_csv_file(&sample_table(), dir.path()).unwrap();
    assert_eq!(sha256_file(&p1).unwrap(), h1);
    assert_eq!(fs::read(&p1).unwrap(), a);
}

#[test]
fn html_table_escapes_formats_and_caps_rows() {
    let mut t = ResultTable::new("big", &["label<x>", "value"]);
    t.push_row(vec![Cell::from("<b>bold</b> & \"q\""), Cell::Num(2.0 / 3.0)]);
    for i in 0..9 {
        t.push_row(vec![Cell::from(format!("r{i}")), Cell::Na]);
    }
    let h = html_table(&t, 3, t.rows.len());
    assert!(h.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &quot;q&quot;"), "{h}");
    assert!(!h.contains("<b>bold"), "{h}");
    assert!(h.contains("<th>label&lt;x&gt;</th>"), "{h}");
    assert!(h.contains(">0.6667<"), "{h}");
    assert!(h.contains("<td class=\"na\">NA</td>"));
    assert_eq!(h.matches("<tr>").count(), 1 + 3, "header + 3 rows");
    assert!(h.contains("first 3 of 10 rows") && h.contains("tables/big.csv"), "{h}");
    assert!(!html_table(&t, 10, t.rows.len()).contains("first"), "no note when nothing is left out");
    let mut preview = t.clone();
    preview.rows.truncate(3);
    assert!(html_table(&preview, 3, 10).contains("first 3 of 10 rows"), "a preview names the whole table's row count");
}

#[test]
fn tables_readme_documents_every_column() {
    let t = sample_table();
    let r = tables_readme([(&t, t.rows.len())]);
    assert!(r.contains("## km_summary.csv"));
    assert!(r.contains("Kaplan-Meier summary per stratum"));
    for c in ["`stratum`", "`n`", "`median`"] {
        assert!(r.contains(c), "{c} missing");
    }
    assert!(r.contains("Median survival, days; NA if not reached"));
}

// ---------------------------------------------------------------- manifest

fn sample_manifest() -> Manifest {
    let mut row_counts = BTreeMap::new();
    row_counts.insert("patients".to_string(), 120u64);
    row_counts.insert("labs".to_string(), 4000u64);
    Manifest {
        hemosurv_version: "0.1.0".into(),
        command: vec!["hemosurv".into(), "run".into(), "data".into(), "--out".into(), "out <x>".into()],
        started_utc: "2025-01-31T12:00:00Z".into(),
        wall_time_s: 1.25,
        study_config: serde_json::json!({"zeta": 1, "alpha": {"b": [1, 2.5, null], "a": "x"}}),
        inputs: vec![InputFile {
            table: "patients".into(),
            path: "data/patients.csv".into(),
            sha256: "ab".repeat(32),
            rows: 120,
        }],
        row_counts,
        exclusions: vec![Exclusion { stage: "validation".into(), reason: "no diagnosis date".into(), count: 2 }],
        stages: vec![StageTiming { name: "load".into(), seconds: 0.5, cpu_seconds: Some(0.9), peak_rss_kb: Some(123_456) }],
        outputs: vec![OutputFile { path: "tables/km.csv".into(), sha256: "cd".repeat(32), bytes: 10 }],
        not_computed: Vec::new(),
    }
}

#[test]
fn manifest_json_round_trip_and_stable_key_order() {
    let m = sample_manifest();
    let text = m.to_json_string().unwrap();
    assert_eq!(Manifest::from_json_str(&text).unwrap(), m);
    assert_eq!(m.to_json_string().unwrap(), text, "same manifest, same bytes");
    assert!(text.ends_with("}\n"));
    // Top-level keys in declaration order.
    let keys = [
        "hemosurv_version",
        "command",
        "started_utc",
        "wall_time_s",
        "study_config",
        "inputs",
        "row_counts",
        "exclusions",
        "stages",
        "outputs",
    ];
    let pos: Vec<usize> = keys.iter().map(|k| text.find(&format!("\n  \"{k}\"")).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
    // Maps sorted by key, at every depth.
    assert!(text.find("\"alpha\"").unwrap() < text.find("\"zeta\"").unwrap());
    assert!(text.find("\"a\": \"x\"").unwrap() < text.find("\"b\": [").unwrap());
    assert!(text.find("\"labs\"").unwrap() < text.find("\"patients\": 120").unwrap());

    let dir = tempfile::tempdir().unwrap();
    m.write(dir.path()).unwrap();
    assert_eq!(Manifest::read(&dir.path().join("manifest.json")).unwrap(), m);
}

#[test]
fn manifest_records_outputs_sorted_with_hashes_excluding_itself() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("tables")).unwrap();
    fs::create_dir_all(dir.path().join("figures")).unwrap();
    fs::write(dir.path().join("tables/b.csv"), "b\n").unwrap();
    fs::write(dir.path().join("tables/a.csv"), "abc").unwrap();
    fs::write(dir.path().join("report.html"), "<html></html>").unwrap();
    fs::write(dir.path().join("manifest.json"), "{}").unwrap();
    let mut m = sample_manifest();
    m.record_outputs(dir.path()).unwrap();
    let paths: Vec<&str> = m.outputs.iter().map(|o| o.path.as_str()).collect();
    assert_eq!(paths, vec!["report.html", "tables/a.csv", "tables/b.csv"]);
    assert_eq!(m.outputs[1].sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(m.outputs[1].bytes, 3);
    assert_eq!(m.outputs[0].bytes, 13);
}

#[test]
fn manifest_rejects_bad_json_with_message() {
    let err = Manifest::from_json_str("{\"hemosurv_version\": 3}").unwrap_err();
    assert!(err.to_string().starts_with("manifest:"), "{err}");
}

// ---------------------------------------------------------------- HTML

const SVG: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
<svg width=\"400\" height=\"300\" viewBox=\"0 0 400 300\" xmlns=\"http://www.w3.org/2000/svg\">\n\
<rect x=\"0\" y=\"0\" width=\"400\" height=\"300\" fill=\"#FFFFFF\"/>\n\
<text x=\"10\" y=\"20\">Overall survival</text>\n</svg>\n";

fn sample_report(dir: &Path) -> Report {
    let svg_path = dir.join("km_overall.svg");
    fs::write(&svg_path, SVG).unwrap();
    let mut big = ResultTable::new("cox_coefficients", &["term", "coef"]);
    for i in 0..60 {
        big.push_row(vec![Cell::from(format!("term{i}")), Cell::Num(i as f64 / 7.0)]);
    }
    let mut tricky = sample_table();
    tricky.push_row(vec![Cell::from("a<script>alert(1)</script>"), Cell::Int(5), Cell::Num(1.0)]);
    let mut r = Report::new("AML registry <study> & more");
    r.sections.push(Section {
        heading: "Survival".into(),
        paragraphs: vec!["Kaplan-Meier estimate; ages < 60 & > 18.".into()],
        figures: vec![FigureRef { title: "Overall survival".into(), svg_path, caption: "All patients, <n=120>.".into() }],
        tables: vec![ShownTable::whole(tricky, "Median survival by group.")],
        facts: vec![],
        listed: vec![],
    });
    r.sections.push(Section {
        heading: "Cox model".into(),
        paragraphs: vec![],
        figures: vec![],
        tables: vec![ShownTable::whole(big, "Coefficients.")],
        facts: vec![],
        listed: vec![ListedTable {
            name: "km_curve".into(),
            caption: "Kaplan-Meier <estimates>".into(),
            rows: 3,
            shown_above: false,
        }],
    });
    r.manifest = Some(sample_manifest());
    r
}

#[test]
fn html_inlines_svg_is_offline_and_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let r = sample_report(dir.path());
    let out = dir.path().join("report.html");
    r.write_html(&out).unwrap();
    let h = fs::read_to_string(&out).unwrap();
    // A listed (appendix) table: anchor, escaped description, links to both files.
    assert!(h.contains("<li id=\"table-km_curve\"><b>km_curve</b> (3 rows): Kaplan-Meier &lt;estimates&gt;"), "appendix entry");
    assert!(h.contains("href=\"tables/km_curve.csv\"") && h.contains("href=\"tables/km_curve.parquet\""));

    assert!(h.starts_with("<!DOCTYPE html>"));
    // SVG inlined, without its XML declaration.
    assert!(h.contains("<svg width=\"400\" height=\"300\""), "svg not inlined");
    assert!(h.contains("<text x=\"10\" y=\"20\">Overall survival</text>"));
    assert!(!h.contains("<?xml"));
    assert_eq!(h.matches("<svg").count(), 1);
    // No external URLs except the SVG namespace; no JavaScript; no external resources.
    let without_ns = h.replace("http://www.w3.org/2000/svg", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"), "external URL in report");
    assert!(!h.contains("<script"), "script tag in report");
    assert!(!h.contains("<link") && !h.contains("src=") && !h.contains("@import"));
    // Escaping in title, paragraphs, captions and table cells.
    assert!(h.contains("<title>AML registry &lt;study&gt; &amp; more</title>"));
    assert!(h.contains("ages &lt; 60 &amp; &gt; 18."));
    assert!(h.contains("All patients, &lt;n=120&gt;."));
    assert!(h.contains("<td>age,&lt;60</td>"), "table cell `<` not escaped");
    assert!(h.contains("a&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(h.contains("out &lt;x&gt;"), "command in footer escaped");
    // Table of contents links to every section, figure and table.
    for id in ["sec-1", "sec-2", "fig-1", "tab-1", "tab-2", "run-details"] {
        assert!(h.contains(&format!("href=\"#{id}\"")), "toc entry {id}");
        assert!(h.contains(&format!("id=\"{id}\"")), "anchor {id}");
    }
    // Row cap with a note naming the CSV file.
    assert_eq!(h.matches("<td>term").count(), 50);
    assert!(h.contains("first 50 of 60 rows") && h.contains("tables/cox_coefficients.csv"));
    // Captions, column docs, footer.
    assert!(h.contains("Figure 1. Overall survival"));
    assert!(h.contains("Median survival, days; NA if not reached"));
    assert!(h.contains("hemosurv 0.1.0"));
    assert!(h.contains("no diagnosis date"));
    assert!(h.contains("data/patients.csv"));
}

#[test]
fn html_missing_or_invalid_figure_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = sample_report(dir.path());
    r.sections[0].figures[0].svg_path = dir.path().join("nope.svg");
    let err = r.write_html(&dir.path().join("report.html")).unwrap_err();
    assert!(err.to_string().contains("nope.svg"), "{err}");
    assert!(!dir.path().join("report.html").exists());

    let bad = dir.path().join("bad.svg");
    fs::write(&bad, "<png>").unwrap();
    r.sections[0].figures[0].svg_path = bad;
    let err = r.render().unwrap_err();
    assert!(matches!(err, ReportError::BadFigure { .. }) && err.to_string().contains("bad.svg"), "{err}");
}

#[test]
fn html_without_manifest_has_version_footer() {
    let r = Report::new("Empty");
    let h = r.render().unwrap();
    assert!(h.contains(&format!("Generated by hemosurv {}", env!("CARGO_PKG_VERSION"))));
    assert!(!h.contains("run-details"));
}
