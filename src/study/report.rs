//! The run's `report.html`: every figure and table of the run on one page.

use crate::cohort::LoadedCohort;
use crate::report::csv::{Cell, CsvTable};
use crate::report::html::{FigureRef, Report, Section};
use crate::report::output::OutputDir;

use super::config::StudyConfig;
use super::dataset::Dataset;
use super::figures::FigureSet;
use super::run::{Produced, StudyError};

/// Parse CSV text written by hemosurv (RFC 4180 quoting) back into a table of text cells.
pub(crate) fn parse_csv(name: &str, bytes: &[u8]) -> CsvTable {
    let text = String::from_utf8_lossy(bytes);
    let mut records: Vec<Vec<String>> = Vec::new();
    let mut field = String::new();
    let mut record = Vec::new();
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => in_quotes = false,
            ('"', false) if field.is_empty() => in_quotes = true,
            (',', false) => record.push(std::mem::take(&mut field)),
            ('\n', false) => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            ('\r', false) => {}
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    let mut it = records.into_iter();
    let header = it.next().unwrap_or_default();
    let cols: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = CsvTable::new(name, &cols);
    for r in it {
        t.rows.push(r.into_iter().map(|s| if s.is_empty() { Cell::Na } else { Cell::Str(s) }).collect());
    }
    t
}

fn section_of(name: &str) -> usize {
    if name.starts_with("cohort_flow") {
        0
    } else if name.starts_with("hlh_episodes") || name.starts_with("hlh_evidence") {
        1
    } else if name.starts_with("hlh_incidence") || name.starts_with("hlh_cumulative") {
        2
    } else if name.starts_with("os_by_first") || name.starts_with("efs_") || name.starts_with("os_overall") {
        3
    } else if name.starts_with("cox_") || name.starts_with("os_simon") || name.starts_with("os_landmark") || name.starts_with("os_by_hlh") {
        4
    } else {
        5
    }
}

/// Write `report.html` into the output folder.
pub(crate) fn write_report(
    out: &OutputDir,
    cfg: &StudyConfig,
    loaded: &LoadedCohort,
    dataset: &Dataset,
    produced: &[Produced],
    figures: &FigureSet,
    notes: &[String],
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
        "{} patients in the cohort, {} in the study population (time origin: {:?}). Validation: {}.",
        loaded.cohort.patients.len(),
        dataset.patients.len(),
        cfg.timing.origin,
        format!(
            "{} errors, {} warnings, {} rows quarantined",
            loaded.report.error_count, loaded.report.warning_count, loaded.report.rejected_count
        )
    ));
    sections[4].paragraphs.push(
        "HLH is analysed as a time-dependent exposure: each patient's follow-up is split at the first episode onset \
         into (start, stop] intervals, so that time before HLH counts as unexposed. The naive comparison of patients \
         'with HLH ever' against the others credits them with the immortal time before onset and is shown only as a \
         labelled, biased comparison."
            .into(),
    );
    for n in notes {
        sections[0].paragraphs.push(n.clone());
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
    for p in produced {
        let t = parse_csv(&p.name, &p.bytes);
        sections[section_of(&p.name)].tables.push((t, p.caption.clone()));
    }
    report.sections = sections;
    report.write_html(&out.path().join("report.html"))?;
    Ok(())
}
