//! The run's `report.html`, written to read like the paper: key results, Table 1, Table 2, risk
//! factors, figures, and an appendix of every table (module `paper`, so as not to be confused
//! with the generic HTML renderer `crate::report`).

use crate::cohort::LoadedCohort;
use crate::report::csv::{Cell, CsvTable};
use crate::report::html::{FigureRef, ListedTable, Report, Section, DEFAULT_MAX_TABLE_ROWS};
use crate::report::output::OutputDir;

use super::config::StudyConfig;
use super::dataset::Dataset;
use super::figures::FigureSet;
use super::outputs::RunOutputs;
use super::run::StudyError;

/// Parse CSV text written by hemosurv (RFC 4180 quoting) back into a table of text cells.
/// The header and the first `max_rows` data rows of a table written by
/// hemosurv (RFC 4180 quoting), every cell as text or NA; `rows_total` counts
/// all the data rows. Only the preview is turned into cells, so a table of
/// millions of rows costs one scan of its bytes.
pub(crate) fn parse_csv(name: &str, bytes: &[u8], max_rows: usize) -> CsvTable {
    let mut records: Vec<Vec<String>> = Vec::new();
    let mut n_records = 0usize;
    let mut field: Vec<u8> = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut in_quotes = false;
    let mut field_started = false;
    let keep = |n: usize| n <= max_rows; // record 0 is the header
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let collecting = keep(n_records);
        match (c, in_quotes) {
            (b'"', true) if bytes.get(i + 1) == Some(&b'"') => {
                if collecting {
                    field.push(b'"');
                }
                i += 1;
            }
            (b'"', true) => in_quotes = false,
            (b'"', false) if !field_started => {
                in_quotes = true;
                field_started = true;
            }
            (b',', false) => {
                if collecting {
                    record.push(String::from_utf8_lossy(&field).into_owned());
                }
                field.clear();
                field_started = false;
            }
            (b'\n', false) => {
                if collecting {
                    record.push(String::from_utf8_lossy(&field).into_owned());
                    records.push(std::mem::take(&mut record));
                }
                field.clear();
                field_started = false;
                n_records += 1;
            }
            (b'\r', false) => {}
            (c, _) => {
                field_started = true;
                if collecting {
                    field.push(c);
                }
            }
        }
        i += 1;
    }
    if field_started || !record.is_empty() {
        if keep(n_records) {
            record.push(String::from_utf8_lossy(&field).into_owned());
            records.push(record);
        }
        n_records += 1;
    }
    let mut it = records.into_iter();
    let header = it.next().unwrap_or_default();
    let cols: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = CsvTable::new(name, &cols);
    for r in it {
        t.rows.push(r.into_iter().map(|s| if s.is_empty() { Cell::Na } else { Cell::Str(s) }).collect());
    }
    t.rows_total = Some(n_records.saturating_sub(1));
    t
}

/// Tables shown in the body of the report (the others are listed in the appendix only): the
/// flow, what could not be computed, and the tables a paper reports.
fn is_body_table(name: &str) -> bool {
    const BODY: [&str; 16] = [
        "cohort_flow",
        "analyses_not_computed",
        "baseline_characteristics",
        "hlh_episodes_characteristics",
        "hlh_incidence_crude",
        "hlh_incidence_rate",
        "hlh_cumulative_incidence_gray_test",
        "hlh_incidence_by_definition",
        "hlh_risk_factors",
        "hlh_validation",
        "cox_hlh",
        "cox_hlh_ph_test",
        "os_simon_makuch_by_hlh",
        "os_by_first_line_intensity_summary",
        "response_by_line_regimen",
        "response_by_hlh",
    ];
    BODY.contains(&name)
}

/// The header, first [`DEFAULT_MAX_TABLE_ROWS`] rows and row count of every table of the run,
/// in `outs.tables` order (one scan of each table's bytes, in parallel).
pub(crate) fn table_previews(outs: &RunOutputs) -> Vec<CsvTable> {
    use rayon::prelude::*;
    outs.tables.par_iter().map(|p| parse_csv(&p.name, &p.bytes, DEFAULT_MAX_TABLE_ROWS)).collect()
}

fn section_of(name: &str) -> usize {
    if name.starts_with("cohort_flow")
        || name.starts_with("analyses_not_computed")
        || name.starts_with("baseline_characteristics")
    {
        0
    } else if name.starts_with("hlh_episodes") || name.starts_with("hlh_evidence") {
        1
    } else if name.starts_with("hlh_incidence")
        || name.starts_with("hlh_cumulative")
        || name.starts_with("hlh_validation")
        || name.starts_with("hlh_risk_factors")
    {
        2
    } else if name.starts_with("os_by_first") || name.starts_with("efs_") || name.starts_with("os_overall") {
        3
    } else if name.starts_with("cox_")
        || name.starts_with("os_simon")
        || name.starts_with("os_landmark")
        || name.starts_with("os_by_hlh")
    {
        4
    } else {
        5
    }
}

/// Write `report.html` into the output folder.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_report(
    out: &OutputDir,
    cfg: &StudyConfig,
    loaded: &LoadedCohort,
    dataset: &Dataset,
    outs: &RunOutputs,
    previews: &[CsvTable],
    figures: &FigureSet,
    primary: &str,
) -> Result<(), StudyError> {
    let title = cfg.title.clone().unwrap_or_else(|| "hemosurv study report".to_string());
    let mut report = Report::new(title);
    let headings = [
        "Cohort and validation",
        "HLH episodes",
        "HLH incidence",
        "Survival by first-line treatment",
        "HLH and survival (time-dependent exposure)",
        "Treatment response",
    ];
    let mut sections: Vec<Section> = headings.iter().map(|h| Section { heading: h.to_string(), ..Section::default() }).collect();
    sections[0].paragraphs.push(format!(
        "{} patients in the cohort, {} in the study population (time origin: {:?}). Validation: {} errors, {} warnings, {} rows quarantined.",
        loaded.cohort.patients.len(),
        dataset.patients.len(),
        cfg.timing.origin,
        loaded.report.error_count,
        loaded.report.warning_count,
        loaded.report.rejected_count
    ));
    sections[4].paragraphs.push(
        "HLH is analysed as a time-dependent exposure: each patient's follow-up is split at the first episode onset \
         into (start, stop] intervals, so that time before HLH counts as unexposed. The naive comparison of patients \
         'with HLH ever' against the others credits them with the immortal time before onset and is shown only as a \
         labelled, biased comparison."
            .into(),
    );
    for n in &outs.notes {
        sections[0].paragraphs.push(n.clone());
    }
    if outs.not_computed.is_empty() {
        sections[0].paragraphs.push("Every analysis of the study could be computed on this cohort.".into());
    } else {
        sections[0].paragraphs.push(format!(
            "{} analyses could not be computed on this cohort (NA in their tables; listed with the reason in `analyses_not_computed`): {}.",
            outs.not_computed.len(),
            outs.not_computed.iter().map(|n| format!("{} — {}", n.analysis, n.reason)).collect::<Vec<_>>().join("; ")
        ));
    }
    for f in &figures.figures {
        let s = match f.section.as_str() {
            "incidence" => 2,
            "survival" => 3,
            "hlh_survival" => 4,
            "response" => 5,
            _ => 1,
        };
        sections[s].figures.push(FigureRef { title: f.title.clone(), svg_path: f.svg.clone(), caption: f.caption.clone() });
    }
    let mut appendix = Section {
        heading: "Appendix: every table of the run".into(),
        paragraphs: vec![
            "Every table is written in full to tables/ as CSV and Parquet; tables/README.md documents each column. \
             The key tables are shown in the sections above (at most the first rows of each)."
                .into(),
        ],
        ..Section::default()
    };
    for (p, t) in outs.tables.iter().zip(previews) {
        let t = t.clone();
        let shown_above = is_body_table(&p.name);
        appendix.listed.push(ListedTable {
            name: p.name.clone(),
            caption: p.caption.clone(),
            rows: t.rows_total.unwrap_or(t.rows.len()),
            shown_above,
        });
        if shown_above {
            sections[section_of(&p.name)].tables.push((t, p.caption.clone()));
        }
    }
    sections.push(appendix);
    let key = Section {
        heading: "Key results".into(),
        facts: super::key_results::key_results(cfg, outs, primary),
        paragraphs: vec![format!(
            "HLH is defined by the primary criteria set `{primary}`; the other definitions are reported beside it in the tables below. \
             Each number links to the table it comes from."
        )],
        ..Section::default()
    };
    sections.insert(0, key);
    report.sections = sections;
    report.write_html(&out.path().join("report.html"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_keeps_first_rows_and_counts_all_with_quoted_fields() {
        let csv = b"a,b\n1,\"x, y\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n4,\n5,\"\"\n";
        let t = parse_csv("t", csv, 2);
        assert_eq!(t.columns, vec!["a", "b"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0], vec![Cell::Str("1".into()), Cell::Str("x, y".into())]);
        assert_eq!(t.rows[1], vec![Cell::Str("2".into()), Cell::Str("say \"hi\"".into())]);
        assert_eq!(t.rows_total, Some(5), "the quoted newline does not start a row");
        let all = parse_csv("t", csv, 100);
        assert_eq!(all.rows.len(), 5);
        assert_eq!(all.rows[2][1], Cell::Str("two\nlines".into()));
        assert_eq!(all.rows[3][1], Cell::Na);
        assert_eq!(all.rows[4][1], Cell::Na);
        assert!(t.to_html_table(2).contains("Showing the first 2 of 5 rows"));
    }
}
