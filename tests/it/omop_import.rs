//! `hemosurv import omop`: the simulator's OMOP extract round-trips to the simulator's own
//! cohort and study tables; the hand-made edge-case extract gives the documented rows and
//! audit; bad input is a clear error; Parquet input equals CSV input; custom mappings and
//! `omop mapping show`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::files_under;
use hemosurv::cohort::omop::{import_to_folder, Mapping, DEFAULT_MAPPING_TOML};
use hemosurv::cohort::Format;
use hemosurv::simulate::{simulate, SimFormat, SimOptions};
use hemosurv::study::{self, RunOptions};

const EDGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/omop/edge");
const COHORT_TABLES: [&str; 5] = ["patients", "measurements", "findings", "treatments", "responses"];

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hemosurv")).args(args).output().unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn run_study(cohort: &Path, out: &Path, truth: &Path) {
    let opts = RunOptions {
        cohort_dir: cohort.to_path_buf(),
        study: None,
        out: out.to_path_buf(),
        force: false,
        quiet: true,
        quarantine: false,
        truth: Some(truth.to_path_buf()),
        identifiable: false,
        command: vec!["test".into()],
        part_rows: hemosurv::study::DEFAULT_PART_ROWS,
    };
    study::run(&opts).unwrap();
}

/// audit.csv as table → (read, mapped, {reason → rows}).
type AuditRows = BTreeMap<String, (usize, usize, BTreeMap<String, usize>)>;

fn audit(dir: &Path) -> AuditRows {
    let text = read(&dir.join("omop_audit/audit.csv"));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("table,category,reason,rows"));
    let mut out: AuditRows = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 4, "{line}");
        let n: usize = f[3].parse().unwrap();
        let e = out.entry(f[0].to_string()).or_default();
        match f[1] {
            "read" => e.0 = n,
            "mapped" => e.1 = n,
            "left_out" => {
                e.2.insert(f[2].to_string(), n);
            }
            other => panic!("category {other}"),
        }
    }
    out
}

/// Rows read of every table = rows mapped + rows left out, and rows read = the file's data rows.
fn assert_audit_adds_up(out: &Path, cdm: &Path) {
    for (table, (read_n, mapped, left)) in audit(out) {
        assert_eq!(
            mapped + left.values().sum::<usize>(),
            read_n,
            "{table}: mapped {mapped} + left out {left:?} != read {read_n}"
        );
        let csv = cdm.join(format!("{table}.csv"));
        if csv.exists() {
            assert_eq!(read(&csv).lines().count() - 1, read_n, "{table}: rows read vs rows in the file");
        }
    }
}

#[test]
fn simulated_omop_round_trips_to_the_simulated_cohort_and_study_tables() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, cdm) = (dir.path().join("sim"), dir.path().join("cdm"));
    let mut a = SimOptions::new(150, 11, &sim, SimFormat::Csv);
    a.chunk_size = 40;
    simulate(&a).unwrap();
    let mut b = SimOptions::new(150, 11, &cdm, SimFormat::Omop);
    b.chunk_size = 40;
    simulate(&b).unwrap();

    // import: the five cohort tables are byte-identical to the simulator's CSV tables
    let cohort = dir.path().join("cohort");
    let (im, rows) = import_to_folder(&cdm, &cohort, Mapping::default_mapping().unwrap(), Format::Csv, false).unwrap();
    for t in COHORT_TABLES {
        let name = format!("{t}.csv");
        assert!(read(&sim.join(&name)) == read(&cohort.join(&name)), "{name} differs from the simulator's");
    }
    assert_eq!(rows[0], ("patients", 150));
    assert!(rows[1].1 > 10_000, "{rows:?}");
    assert!(im.audit.unmapped.is_empty(), "{:?}", im.audit.unmapped);
    assert_audit_adds_up(&cohort, &cdm);
    let a = audit(&cohort);
    assert_eq!(a["measurement"].0, a["measurement"].1, "every simulated measurement is mapped");
    assert_eq!(a["episode"].0, a["episode"].1, "every simulated episode is mapped");

    // run: every table is byte-identical (the truth given explicitly to both runs; the
    // simulator's folder holds truth.csv, the imported one does not)
    let truth = sim.join("truth.csv");
    run_study(&sim, &dir.path().join("run_sim"), &truth);
    run_study(&cohort, &dir.path().join("run_import"), &truth);
    let want = files_under(&dir.path().join("run_sim/tables"));
    let got = files_under(&dir.path().join("run_import/tables"));
    assert!(want.len() > 20, "{} tables", want.len());
    assert_eq!(want.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
    for (name, bytes) in &want {
        assert!(*bytes == got[name], "tables/{} differs", name.display());
    }

    // run --omop (CLI) gives the same tables and keeps the imported cohort in OUT/omop_cohort
    let out = dir.path().join("run_omop");
    let o = cli(&[
        "run",
        "--omop",
        cdm.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = files_under(&out.join("tables"));
    assert_eq!(want.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
    for (name, bytes) in &want {
        assert!(*bytes == got[name], "run --omop: tables/{} differs", name.display());
    }
    for t in COHORT_TABLES {
        assert_eq!(read(&out.join("omop_cohort").join(format!("{t}.csv"))), read(&cohort.join(format!("{t}.csv"))));
    }
    assert!(out.join("omop_cohort/omop_audit/audit.csv").exists());
    // no hidden temporary or staging folder is left beside the outputs
    let hidden: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

fn import_edge(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["import", "omop", EDGE, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    cli(&args)
}

#[test]
fn edge_cases_give_the_documented_rows_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cohort");
    let o = import_edge(&out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // person 101: diagnosis in the first of two observation periods, death after it -> censored
    // at the end of that period; 102: death inside its period -> last contact = death;
    // 103: no AML -> left out; 104: month/day of birth missing -> 1 July, sex from source value
    assert_eq!(
        read(&out.join("patients.csv")),
        "patient_id,diagnosis_date,last_contact_date,death_date,sex,age_at_diagnosis,eln_risk,flt3,site\n\
         A-101,2020-01-10,2020-06-30,,M,59.8,,,\n\
         B-102,2020-05-01,2020-11-01,2020-11-01,F,64.4,,,\n\
         D-104,2020-09-01,2021-06-30,,F,70.2,,,\n"
    );
    // operator > kept as a bound; unit from the UCUM unit_concept_id when unit_source_value is empty
    assert_eq!(
        read(&out.join("measurements.csv")),
        "patient_id,date,analyte,value,unit\n\
         A-101,2020-01-12,ferritin,>45000,ng/mL\n\
         A-101,2020-01-12,hemoglobin,9.2,g/dL\n\
         B-102,2020-05-02,platelets,45,10^3/uL\n"
    );
    assert_eq!(
        read(&out.join("findings.csv")),
        "patient_id,date,finding,present\nA-101,2020-01-15,splenomegaly,true\nA-101,2020-01-15,hepatomegaly,false\n"
    );
    // cytarabine on 2020-01-20 starts both FLAG-Ida and 7+3: FLAG-Ida is listed first and takes
    // fludarabine, cytarabine and idarubicin; cytarabine alone after CR -> HiDAC (line 2);
    // 7+3 with a venetoclax that no rule matches; two aza+ven cycles 0 days apart -> one line
    assert_eq!(
        read(&out.join("treatments.csv")),
        "patient_id,line,regimen,intensity,start_date,end_date\n\
         A-101,1,FLAG-Ida,intensive,2020-01-20,2020-01-24\n\
         A-101,2,HiDAC,intensive,2020-03-15,2020-03-19\n\
         B-102,1,7+3,intensive,2020-05-03,2020-05-09\n\
         B-102,2,aza+ven,low_intensity,2020-08-01,2020-09-25\n"
    );
    assert_eq!(read(&out.join("responses.csv")), "patient_id,line,date,response\nA-101,1,2020-02-20,CR\nB-102,1,2020-06-15,CR\n");

    assert_audit_adds_up(&out, Path::new(EDGE));
    let a = audit(&out);
    let left = |t: &str, r: &str| a[t].2.get(r).copied().unwrap_or(0);
    assert_eq!((a["person"].0, a["person"].1, left("person", "person without AML")), (4, 3, 1));
    assert_eq!(left("observation_period", "observation period without the diagnosis"), 1);
    assert_eq!((a["death"].1, left("death", "death after the observation period (patient censored)")), (1, 1));
    assert_eq!(left("condition_occurrence", "AML condition after the diagnosis"), 1);
    assert_eq!(left("condition_occurrence", "person without AML"), 1);
    assert_eq!(a["measurement"].1, 3);
    for r in [
        "person without AML",
        "concept not in mapping",
        "before the diagnosis window",
        "outside observation period (after the last contact)",
        "no value_as_number",
    ] {
        assert_eq!(left("measurement", r), 1, "{r}");
    }
    assert_eq!((a["drug_exposure"].1, left("drug_exposure", "no regimen rule matches")), (10, 1));
    assert_eq!(
        read(&out.join("omop_audit/unmapped_concepts.csv")),
        "table,concept_id,vocabulary_id,concept_code,concept_name,rows\n\
         condition_occurrence,2,SNOMED,59621000,Essential hypertension,1\n\
         measurement,13,LOINC,2345-7,Glucose [Mass/volume] in Serum or Plasma,1\n"
    );
    assert!(read(&out.join("omop_audit/summary.txt")).contains("drug_exposure: 11 rows read, 10 mapped, 1 left out"));

    // the imported folder passes `hemosurv validate`
    let v = cli(&["validate", out.to_str().unwrap()]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    assert!(String::from_utf8_lossy(&v.stdout).contains("0 error(s), 0 warning(s)"));

    // an existing output folder needs --force
    let again = import_edge(&out, &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert!(import_edge(&out, &["--force"]).status.success());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

#[test]
fn an_unknown_unit_is_an_error_naming_table_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cdm = dir.path().join("cdm");
    copy_dir(Path::new(EDGE), &cdm);
    let mut m = read(&cdm.join("measurement.csv"));
    m.push_str("9,102,10,2020-05-02,32817,,800,0,mg/furlong\n");
    std::fs::write(cdm.join("measurement.csv"), m).unwrap();
    let out = dir.path().join("cohort");
    let o = cli(&["import", "omop", cdm.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("OMOP table measurement row 9, column unit_source_value"), "{err}");
    assert!(err.contains("found `mg/furlong`") && err.contains("a unit for ferritin"), "{err}");
    assert!(!out.exists(), "nothing is written on error");

    // a unit_concept_id that is not a UCUM concept, with no source value
    let mut m = read(&Path::new(EDGE).join("measurement.csv"));
    m.push_str("9,102,10,2020-05-02,32817,,800,13,\n");
    std::fs::write(cdm.join("measurement.csv"), m).unwrap();
    let o = cli(&["import", "omop", cdm.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("row 9, column unit_concept_id") && err.contains("found `13 (Glucose"), "{err}");

    // a missing folder or a missing required table is invalid input too
    let o = cli(&["import", "omop", dir.path().join("nope").to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read the OMOP CDM folder"));
    let no_concept = dir.path().join("no_concept");
    copy_dir(Path::new(EDGE), &no_concept);
    std::fs::remove_file(no_concept.join("concept.csv")).unwrap();
    let o = cli(&["import", "omop", no_concept.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the required OMOP table `concept` is missing"));

    // a bad date names its cell too
    let mut m = read(&Path::new(EDGE).join("measurement.csv"));
    m.push_str("9,102,10,2020-13-02,32817,,800,20,ng/mL\n");
    std::fs::write(cdm.join("measurement.csv"), m).unwrap();
    let o = cli(&["import", "omop", cdm.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("row 9, column measurement_date: expected a date YYYY-MM-DD, found `2020-13-02`"), "{err}");
}

/// A CSV table as Parquet with typed columns: integers, floats, `Date` for the date columns,
/// and `Datetime` for `measurement_date` (floored to its day by the import).
fn write_typed_parquet(csv: &Path, parquet: &Path) {
    use polars::prelude::*;
    let mut df = CsvReadOptions::default()
        .with_has_header(true)
        .with_parse_options(CsvParseOptions::default().with_try_parse_dates(true))
        .try_into_reader_with_file_path(Some(csv.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap();
    if let Ok(c) = df.column("measurement_date") {
        let dt = c.cast(&DataType::Datetime(TimeUnit::Milliseconds, None)).unwrap();
        df.with_column(dt).unwrap();
    }
    if let Ok(c) = df.column("observation_period_start_date") {
        assert_eq!(c.dtype(), &DataType::Date, "dates are typed in the Parquet input");
    }
    ParquetWriter::new(std::fs::File::create(parquet).unwrap()).finish(&mut df).unwrap();
}

#[test]
fn parquet_input_gives_the_same_cohort_as_csv_input() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("cdm_parquet");
    std::fs::create_dir_all(&pq).unwrap();
    for e in std::fs::read_dir(EDGE).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "csv") {
            continue;
        }
        // upper-case file names, as many OMOP exports have them
        let name = p.file_stem().unwrap().to_str().unwrap().to_ascii_uppercase();
        write_typed_parquet(&p, &pq.join(format!("{name}.parquet")));
    }
    let (a, b) = (dir.path().join("from_csv"), dir.path().join("from_parquet"));
    assert!(import_edge(&a, &[]).status.success());
    let o = cli(&["import", "omop", pq.to_str().unwrap(), "--out", b.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(files_under(&a), files_under(&b));

    // and Parquet output loads to the same cohort as CSV output
    let c = dir.path().join("parquet_out");
    assert!(import_edge(&c, &["--format", "parquet"]).status.success());
    assert!(c.join("patients.parquet").exists() && !c.join("patients.csv").exists());
    let load = |d: &Path| hemosurv::cohort::load_cohort(d, &Default::default()).unwrap().cohort;
    let (x, y) = (load(&a), load(&c));
    assert_eq!(x.patients, y.patients);
    assert_eq!(x.measurements, y.measurements);
    assert_eq!(x.treatments, y.treatments);
}

#[test]
fn episodes_give_the_lines_and_responses_when_present() {
    let dir = tempfile::tempdir().unwrap();
    let cdm = dir.path().join("cdm");
    copy_dir(Path::new(EDGE), &cdm);
    let mut concept = read(&cdm.join("concept.csv"));
    concept.push_str(
        "50,7+3 (local),Regimen,hemosurv,Regimen,,regimen/7+3,1970-01-01,2099-12-31,\n\
         51,Relapse (ELN 2022),Observation,hemosurv,Clinical Finding,,response/relapse,1970-01-01,2099-12-31,\n\
         52,Some regimen not in the mapping,Regimen,HemOnc,Regimen,,999999,1970-01-01,2099-12-31,\n",
    );
    std::fs::write(cdm.join("concept.csv"), concept).unwrap();
    // 102: a 7+3 line 1, its CR (parent: line 1), a relapse without parent (line in effect:
    // line 1); a regimen not in the mapping; a person not in `person`
    std::fs::write(
        cdm.join("episode.csv"),
        "episode_id,person_id,episode_concept_id,episode_start_date,episode_end_date,episode_parent_id,episode_number,episode_object_concept_id\n\
         900,102,32531,2020-05-03,2020-05-09,,1,50\n\
         901,102,32530,2020-06-15,2020-06-15,900,,40\n\
         902,102,32529,2020-09-20,2020-09-20,,,51\n\
         903,102,32531,2020-10-01,,,2,52\n\
         904,999,32531,2020-10-01,,,1,50\n",
    )
    .unwrap();
    // 105: an AML diagnosis outside every observation period -> left out with all its rows
    for (table, row) in [
        ("person.csv", "105,8507,1965,5,5,0,0,E-105,M\n"),
        ("observation_period.csv", "6,105,2020-01-01,2020-12-31,32817\n"),
        ("condition_occurrence.csv", "8,105,1,2019-01-01,32817\n"),
    ] {
        let mut text = read(&cdm.join(table));
        text.push_str(row);
        std::fs::write(cdm.join(table), text).unwrap();
    }
    let out = dir.path().join("cohort");
    let o = cli(&["import", "omop", cdm.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!read(&out.join("patients.csv")).contains("E-105"));
    // 102's lines and responses come from its episodes; 101 (no episodes) keeps the lines
    // derived from its drug exposures and its observed response
    assert_eq!(
        read(&out.join("treatments.csv")),
        "patient_id,line,regimen,intensity,start_date,end_date\n\
         A-101,1,FLAG-Ida,intensive,2020-01-20,2020-01-24\n\
         A-101,2,HiDAC,intensive,2020-03-15,2020-03-19\n\
         B-102,1,7+3,intensive,2020-05-03,2020-05-09\n"
    );
    assert_eq!(
        read(&out.join("responses.csv")),
        "patient_id,line,date,response\nA-101,1,2020-02-20,CR\nB-102,1,2020-06-15,CR\nB-102,1,2020-09-20,relapse\n"
    );
    assert_audit_adds_up(&out, &cdm);
    let a = audit(&out);
    assert_eq!(a["episode"].1, 3);
    let outside = "AML diagnosis outside every observation period";
    for table in ["person", "observation_period", "condition_occurrence"] {
        assert_eq!(a[table].2.get(outside), Some(&1), "{table}");
    }
    assert_eq!(a["episode"].2.get("concept not in mapping"), Some(&1));
    assert_eq!(a["episode"].2.get("person_id not in person"), Some(&1));
    assert_eq!(a["drug_exposure"].2.get("treatment lines taken from episode"), Some(&7));
    assert_eq!(a["drug_exposure"].1, 4);
    assert_eq!(a["observation"].2.get("responses taken from episode"), Some(&1));
    assert!(read(&out.join("omop_audit/unmapped_concepts.csv"))
        .contains("episode,52,HemOnc,999999,Some regimen not in the mapping,1"));
}

#[test]
fn a_custom_mapping_changes_the_rules_and_mapping_show_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let custom = DEFAULT_MAPPING_TOML
        .replace("patient_id = \"person_source_value\"", "patient_id = \"person_id\"")
        .replace("death_grace_days = 0", "death_grace_days = 365");
    let file = dir.path().join("mapping.toml");
    std::fs::write(&file, &custom).unwrap();
    let out = dir.path().join("cohort");
    let o = import_edge(&out, &["--mapping", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // ids from person_id; the death 336 days after the period is now kept and is the last contact
    let patients = read(&out.join("patients.csv"));
    assert!(patients.contains("\n101,2020-01-10,2021-06-01,2021-06-01,M,59.8,,,\n"), "{patients}");
    // with follow-up to 2021-06-01 the platelet count of 2021-02-01 is inside the window
    assert!(read(&out.join("measurements.csv")).contains("101,2021-02-01,platelets,150,10^3/µL"));

    // mapping show: the built-in TOML with its comments; a user file checked and printed
    let o = cli(&["omop", "mapping", "show"]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), DEFAULT_MAPPING_TOML);
    let o = cli(&["omop", "mapping", "show", file.to_str().unwrap()]);
    assert!(o.status.success());
    let shown = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(shown.contains("patient_id = \"person_id\"") && shown.contains("death_grace_days = 365"), "{shown}");
    Mapping::parse(&shown, "shown").unwrap();

    // a bad mapping: exit 2 with the file and the problem
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, DEFAULT_MAPPING_TOML.replace("ferritin = [", "ferritine = [")).unwrap();
    let o = cli(&["omop", "mapping", "show", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml") && err.contains("unknown analyte `ferritine`"), "{err}");
    let o = import_edge(&dir.path().join("x"), &["--mapping", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn the_built_in_mapping_is_valid_and_maps_its_codes() {
    let m = Mapping::default_mapping().unwrap();
    use hemosurv::cohort::omop::Target;
    use hemosurv::cohort::Analyte;
    assert_eq!(m.target("LOINC", "2276-4"), Some(Target::Analyte(Analyte::Ferritin)));
    assert_eq!(m.target("loinc", "8310-5"), Some(Target::Analyte(Analyte::Temperature)));
    assert_eq!(m.target("SNOMED", "91861009"), Some(Target::Aml));
    assert_eq!(m.target("LOINC", "2345-7"), None);
    // every regimen the simulator writes is in the mapping
    for r in ["7+3", "CPX-351", "HiDAC", "FLAG-Ida", "aza+ven", "decitabine", "gilteritinib", "BSC", "alloSCT"] {
        assert!(m.regimen_index(r).is_some(), "{r}");
    }
}
