//! The run's `report.html`, written to read like the paper: key results, Table 1, Table 2, risk
//! factors, figures, and an appendix of every table (module `paper`, so as not to be confused
//! with the generic HTML renderer `crate::report`).

use crate::cohort::LoadedCohort;
use crate::report::html::{FigureRef, ListedTable, Report, Section, ShownTable, DEFAULT_MAX_TABLE_ROWS};
use crate::report::output::OutputDir;

use super::config::StudyConfig;
use super::dataset::Dataset;
use super::figures::FigureSet;
use super::outputs::RunOutputs;
use super::run::StudyError;

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
    for p in &outs.tables {
        let shown_above = is_body_table(p.name());
        appendix.listed.push(ListedTable {
            name: p.name().to_string(),
            caption: p.caption.clone(),
            rows: p.n_rows(),
            shown_above,
        });
        if shown_above {
            let mut preview = p.table.clone();
            preview.rows.truncate(DEFAULT_MAX_TABLE_ROWS);
            sections[section_of(p.name())].tables.push(ShownTable {
                table: preview,
                caption: p.caption.clone(),
                rows_total: p.n_rows(),
            });
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
