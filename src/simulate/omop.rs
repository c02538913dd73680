//! `hemosurv simulate --format omop`: the simulated registry as an OMOP CDM v5.4 extract, so
//! that `hemosurv import omop` can be checked against the simulator's own cohort.
//!
//! Tables (CSV): `person`, `observation_period`, `death`, `condition_occurrence` (the AML
//! diagnosis), `measurement` (LOINC concepts, the unit as `unit_source_value` and as a UCUM
//! `unit_concept_id`, bounds as `operator_concept_id`), `observation` (findings, with
//! "absent" as a value; the covariates `eln_risk`, `flt3`, `site`), the Oncology extension's
//! `episode` (one treatment-regimen episode per line, `episode_number` = line; one
//! disease-status episode per response assessment, its parent the line's episode) and a
//! small `concept` table with every concept used; plus `truth.csv` (not an OMOP table).
//! No `drug_exposure` is written: the episodes give the lines.
//!
//! Every code is the first code of its concept set in the built-in mapping
//! (`cohort/omop/default_mapping.toml`), so the extract is what the default import reads.
//! Concept ids: the fixed OMOP ids of the Gender (8507, 8532), Type Concept (32817),
//! Episode and operator concepts; every other concept gets a local id from 2 000 000 001 on
//! (a real extract has its vocabulary's ids; the import maps through vocabulary and code).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::patient::SimPatient;
use super::SimError;
use crate::cohort::omop::{CheckedMapping, Mapping, Target};
use crate::cohort::table_writer::{close_all, Chunk, Col, TableSink};
use crate::cohort::Format;
use crate::cohort::{day_to_iso, Analyte, FindingKind, Response};

/// Type concept "EHR" (OMOP Type Concept vocabulary).
const EHR: i64 = 32817;

/// One concept row: id, name, domain, vocabulary, class, code.
type ConceptRow = (i64, String, &'static str, String, &'static str, String);

/// The concept ids the simulator writes.
struct SimConcepts {
    aml: i64,
    analyte: HashMap<Analyte, i64>,
    finding: HashMap<FindingKind, i64>,
    response: HashMap<Response, i64>,
    regimen: HashMap<String, i64>,
    covariate: [i64; 3],
    absent: i64,
    unit: HashMap<&'static str, i64>,
    treatment_episode: i64,
    operator_gt: i64,
    operator_lt: i64,
    rows: Vec<ConceptRow>,
}

/// The UCUM code of each unit spelling the simulator writes.
const UCUM: [(&str, &str); 12] = [
    ("°C", "Cel"),
    ("°F", "[degF]"),
    ("g/L", "g/L"),
    ("g/dL", "g/dL"),
    ("10^9/L", "10*9/L"),
    ("10^3/µL", "10*3/uL"),
    ("µg/L", "ug/L"),
    ("ng/mL", "ng/mL"),
    ("mmol/L", "mmol/L"),
    ("mg/dL", "mg/dL"),
    ("U/L", "U/L"),
    ("U/mL", "U/mL"),
];

/// The regimen names the simulator uses.
const REGIMENS: [&str; 9] = ["7+3", "CPX-351", "HiDAC", "FLAG-Ida", "aza+ven", "decitabine", "gilteritinib", "BSC", "alloSCT"];

/// The covariates the simulator writes, in `patients` column order.
const COVARIATES: [&str; 3] = ["eln_risk", "flt3", "site"];

impl SimConcepts {
    fn build() -> Result<SimConcepts, String> {
        let m: CheckedMapping = Mapping::default_mapping().map_err(|e| e.to_string())?;
        let mut rows: Vec<ConceptRow> = Vec::new();
        let mut next = 2_000_000_000_i64;
        let mut local = |name: &str, domain: &'static str, class: &'static str, target: Target, rows: &mut Vec<ConceptRow>| {
            let (vocab, code) = m.first_code(target).ok_or_else(|| format!("the built-in mapping has no code for {target:?}"))?;
            next += 1;
            rows.push((next, name.to_string(), domain, vocab, class, code));
            Ok::<i64, String>(next)
        };
        let aml = local("Acute myeloid leukemia", "Condition", "Clinical Finding", Target::Aml, &mut rows)?;
        let mut analyte = HashMap::new();
        for a in Analyte::ALL {
            analyte.insert(a, local(a.name(), "Measurement", "Lab Test", Target::Analyte(a), &mut rows)?);
        }
        let mut finding = HashMap::new();
        for f in FindingKind::ALL {
            finding.insert(f, local(f.name(), "Observation", "Clinical Finding", Target::Finding(f), &mut rows)?);
        }
        let mut response = HashMap::new();
        for r in Response::ALL {
            response.insert(r, local(r.name(), "Observation", "Clinical Finding", Target::Response(r), &mut rows)?);
        }
        let mut regimen = HashMap::new();
        for name in REGIMENS {
            let k = m.regimen_index(name).ok_or_else(|| format!("regimen {name} is not in the built-in mapping"))?;
            regimen.insert(name.to_string(), local(name, "Regimen", "Regimen", Target::Regimen(k), &mut rows)?);
        }
        let mut covariate = [0; 3];
        for (slot, name) in covariate.iter_mut().zip(COVARIATES) {
            let k = m.covariate_index(name).ok_or_else(|| format!("covariate {name} is not in the built-in mapping"))?;
            *slot = local(name, "Observation", "Observable Entity", Target::Covariate(k), &mut rows)?;
        }
        let absent = local("Absent", "Meas Value", "Qualifier Value", Target::Absent, &mut rows)?;
        let mut unit = HashMap::new();
        for (spelling, ucum) in UCUM {
            next += 1;
            rows.push((next, spelling.to_string(), "Unit", "UCUM".to_string(), "Unit", ucum.to_string()));
            unit.insert(spelling, next);
        }
        let episodes = &m.mapping.episodes;
        let treatment_episode = *episodes.treatment_regimen.first().ok_or("no treatment_regimen episode concept")?;
        rows.push((treatment_episode, "Treatment Regimen".into(), "Episode", "Episode".into(), "Episode", "OMOP4997787".into()));
        for id in &episodes.disease_status {
            rows.push((*id, "Disease status".into(), "Episode", "Episode".into(), "Episode", format!("status-{id}")));
        }
        let operator_gt = *m.mapping.operators.gt.first().ok_or("no > operator")?;
        let operator_lt = *m.mapping.operators.lt.first().ok_or("no < operator")?;
        rows.push((
            operator_gt,
            ">".into(),
            "Meas Value Operator",
            "Meas Value Operator".into(),
            "Meas Value Operator",
            ">".into(),
        ));
        rows.push((
            operator_lt,
            "<".into(),
            "Meas Value Operator",
            "Meas Value Operator".into(),
            "Meas Value Operator",
            "<".into(),
        ));
        rows.push((8507, "MALE".into(), "Gender", "Gender".into(), "Gender", "M".into()));
        rows.push((8532, "FEMALE".into(), "Gender", "Gender".into(), "Gender", "F".into()));
        rows.push((EHR, "EHR".into(), "Type Concept", "Type Concept".into(), "Type Concept", "OMOP4976890".into()));
        Ok(SimConcepts {
            aml,
            analyte,
            finding,
            response,
            regimen,
            covariate,
            absent,
            unit,
            treatment_episode,
            operator_gt,
            operator_lt,
            rows,
        })
    }

    /// The disease-status episode concept of a response: recurrence for a relapse,
    /// progression for PD, remission otherwise (ASSUMPTION, docs/omop.md).
    fn status_episode(&self, r: Response) -> i64 {
        match r {
            Response::Relapse => 32529,
            Response::PD => 32533,
            _ => 32530,
        }
    }
}

fn concepts() -> Result<&'static SimConcepts, SimError> {
    static CONCEPTS: OnceLock<Result<SimConcepts, String>> = OnceLock::new();
    CONCEPTS
        .get_or_init(SimConcepts::build)
        .as_ref()
        .map_err(|m| SimError::InvalidOption { name: "format omop".into(), message: m.clone() })
}

/// The OMOP tables written per chunk, in writing order.
pub(crate) const OMOP_SIM_TABLES: [&str; 7] =
    ["person", "observation_period", "death", "condition_occurrence", "measurement", "observation", "episode"];

const PERSON: &[&str] = &[
    "person_id",
    "gender_concept_id",
    "year_of_birth",
    "month_of_birth",
    "day_of_birth",
    "race_concept_id",
    "ethnicity_concept_id",
    "person_source_value",
    "gender_source_value",
];
const PERIOD: &[&str] = &[
    "observation_period_id",
    "person_id",
    "observation_period_start_date",
    "observation_period_end_date",
    "period_type_concept_id",
];
const DEATH: &[&str] = &["person_id", "death_date", "death_type_concept_id"];
const CONDITION: &[&str] = &[
    "condition_occurrence_id",
    "person_id",
    "condition_concept_id",
    "condition_start_date",
    "condition_type_concept_id",
    "condition_source_value",
];
const MEASUREMENT: &[&str] = &[
    "measurement_id",
    "person_id",
    "measurement_concept_id",
    "measurement_date",
    "measurement_type_concept_id",
    "operator_concept_id",
    "value_as_number",
    "unit_concept_id",
    "unit_source_value",
    "measurement_source_value",
];
const OBSERVATION: &[&str] = &[
    "observation_id",
    "person_id",
    "observation_concept_id",
    "observation_date",
    "observation_type_concept_id",
    "value_as_string",
    "value_as_concept_id",
    "observation_source_value",
];
const EPISODE: &[&str] = &[
    "episode_id",
    "person_id",
    "episode_concept_id",
    "episode_start_date",
    "episode_end_date",
    "episode_parent_id",
    "episode_number",
    "episode_object_concept_id",
    "episode_type_concept_id",
    "episode_source_value",
];

/// Empty chunks (column names and types) of [`OMOP_SIM_TABLES`].
pub(crate) fn empty_tables() -> Result<Vec<(&'static str, Chunk<'static>)>, SimError> {
    Ok(OMOP_SIM_TABLES.into_iter().zip(build_chunks(&[], &[])?).collect())
}

fn person_id(p: &SimPatient) -> i64 {
    p.index as i64 + 1
}

fn person_chunks<'a>(patients: &'a [SimPatient], ids: &'a [String]) -> [Chunk<'a>; 4] {
    let (mut id, mut g, mut y, mut m, mut d, mut src, mut gs) = (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut op_id, mut op_start, mut op_end) = (vec![], vec![], vec![]);
    let (mut de_id, mut de_date) = (vec![], vec![]);
    for (k, p) in patients.iter().enumerate() {
        let pid = person_id(p);
        id.push(pid);
        g.push(if p.sex == "F" { 8532 } else { 8507 });
        // the birth date that gives the simulated age (1 decimal) back as (dx - birth) / 365.25
        let birth = day_to_iso(p.diagnosis - (p.age * 365.25).round() as i32);
        y.push(birth[0..4].parse::<i64>().unwrap_or(0));
        m.push(birth[5..7].parse::<i64>().unwrap_or(0));
        d.push(birth[8..10].parse::<i64>().unwrap_or(0));
        src.push(ids[k].as_str());
        gs.push(p.sex);
        op_id.push(pid);
        op_start.push(Some(p.diagnosis));
        op_end.push(Some(p.diagnosis + p.end_day));
        if p.died {
            de_id.push(pid);
            de_date.push(Some(p.diagnosis + p.end_day));
        }
    }
    let n = patients.len();
    let n_dead = de_id.len();
    [
        Chunk {
            names: PERSON.to_vec(),
            cols: vec![
                Col::I64(id.clone()),
                Col::I64(g),
                Col::I64(y),
                Col::I64(m),
                Col::I64(d),
                Col::I64(vec![0; n]),
                Col::I64(vec![0; n]),
                Col::Str(src),
                Col::Str(gs),
            ],
        },
        Chunk {
            names: PERIOD.to_vec(),
            cols: vec![Col::I64(op_id.clone()), Col::I64(op_id), Col::Date(op_start), Col::Date(op_end), Col::I64(vec![EHR; n])],
        },
        Chunk { names: DEATH.to_vec(), cols: vec![Col::I64(de_id), Col::Date(de_date), Col::I64(vec![EHR; n_dead])] },
        Chunk {
            names: CONDITION.to_vec(),
            cols: vec![
                Col::I64(id.clone()),
                Col::I64(id),
                Col::I64(vec![0; n]), // filled by the caller
                Col::Date(patients.iter().map(|p| Some(p.diagnosis)).collect()),
                Col::I64(vec![EHR; n]),
                Col::Str(vec!["C92.0"; n]),
            ],
        },
    ]
}

fn measurement_chunk<'a>(patients: &'a [SimPatient], c: &SimConcepts) -> Result<Chunk<'a>, SimError> {
    let n: usize = patients.iter().map(|p| p.measurements.len()).sum();
    let (mut id, mut pid_c, mut concept, mut date) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut op, mut value, mut unit_id, mut unit, mut src) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for p in patients {
        let pid = person_id(p);
        for (k, m) in p.measurements.iter().enumerate() {
            id.push(pid * 1_000_000 + k as i64);
            pid_c.push(pid);
            concept.push(c.analyte[&m.analyte]);
            date.push(Some(p.diagnosis + m.day));
            op.push(match m.qualifier {
                b'>' => Some(c.operator_gt),
                b'<' => Some(c.operator_lt),
                _ => None,
            });
            value.push(m.value);
            unit_id.push(*c.unit.get(m.unit).ok_or_else(|| SimError::InvalidOption {
                name: "format omop".into(),
                message: format!("no UCUM code for the unit {}", m.unit),
            })?);
            unit.push(m.unit);
            src.push(m.analyte.name());
        }
    }
    let n = id.len();
    Ok(Chunk {
        names: MEASUREMENT.to_vec(),
        cols: vec![
            Col::I64(id),
            Col::I64(pid_c),
            Col::I64(concept),
            Col::Date(date),
            Col::I64(vec![EHR; n]),
            Col::OptI64(op),
            Col::F64(value),
            Col::I64(unit_id),
            Col::Str(unit),
            Col::Str(src),
        ],
    })
}

fn observation_chunk<'a>(patients: &'a [SimPatient], c: &SimConcepts) -> Chunk<'a> {
    let (mut id, mut pid_c, mut concept, mut date, mut text, mut value_concept, mut src) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for p in patients {
        let pid = person_id(p);
        let mut k = 0_i64;
        let mut push = |cid: i64, day: i32, s: &'a str, v: Option<i64>, source: &'a str| {
            id.push(pid * 1_000_000 + k);
            k += 1;
            pid_c.push(pid);
            concept.push(cid);
            date.push(Some(p.diagnosis + day));
            text.push(s);
            value_concept.push(v);
            src.push(source);
        };
        for f in &p.findings {
            let (s, v) = if f.present { ("present", None) } else { ("absent", Some(c.absent)) };
            push(c.finding[&f.finding], f.day, s, v, f.finding.name());
        }
        let flt3 = if p.flt3 { "mutated" } else { "wildtype" };
        for ((cid, value), name) in c.covariate.iter().zip([p.eln.name(), flt3, p.site]).zip(COVARIATES) {
            push(*cid, 0, value, None, name);
        }
    }
    let n = id.len();
    Chunk {
        names: OBSERVATION.to_vec(),
        cols: vec![
            Col::I64(id),
            Col::I64(pid_c),
            Col::I64(concept),
            Col::Date(date),
            Col::I64(vec![EHR; n]),
            Col::Str(text),
            Col::OptI64(value_concept),
            Col::Str(src),
        ],
    }
}

fn episode_chunk<'a>(patients: &'a [SimPatient], c: &SimConcepts) -> Result<Chunk<'a>, SimError> {
    let (mut id, mut pid_c, mut kind, mut start, mut end, mut parent, mut number, mut object, mut src) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for p in patients {
        let pid = person_id(p);
        for l in &p.lines {
            id.push(pid * 100_000 + l.line as i64);
            pid_c.push(pid);
            kind.push(c.treatment_episode);
            start.push(Some(p.diagnosis + l.start));
            end.push(l.end.map(|e| p.diagnosis + e));
            parent.push(None);
            number.push(Some(l.line as i64));
            let regimen = *c.regimen.get(l.regimen).ok_or_else(|| SimError::InvalidOption {
                name: "format omop".into(),
                message: format!("regimen {} is not in the built-in mapping", l.regimen),
            })?;
            object.push(regimen);
            src.push(l.regimen);
        }
        for (k, r) in p.responses.iter().enumerate() {
            id.push(pid * 100_000 + 50_000 + k as i64);
            pid_c.push(pid);
            kind.push(c.status_episode(r.response));
            start.push(Some(p.diagnosis + r.day));
            end.push(Some(p.diagnosis + r.day));
            parent.push(Some(pid * 100_000 + r.line as i64));
            number.push(None);
            object.push(c.response[&r.response]);
            src.push(r.response.name());
        }
    }
    let n = id.len();
    Ok(Chunk {
        names: EPISODE.to_vec(),
        cols: vec![
            Col::I64(id),
            Col::I64(pid_c),
            Col::I64(kind),
            Col::Date(start),
            Col::Date(end),
            Col::OptI64(parent),
            Col::OptI64(number),
            Col::I64(object),
            Col::I64(vec![EHR; n]),
            Col::Str(src),
        ],
    })
}

/// The chunks of [`OMOP_SIM_TABLES`] for `patients` (ids `ids`), in that order.
pub(crate) fn build_chunks<'a>(patients: &'a [SimPatient], ids: &'a [String]) -> Result<Vec<Chunk<'a>>, SimError> {
    let c = concepts()?;
    let [person, period, death, mut condition] = person_chunks(patients, ids);
    condition.cols[2] = Col::I64(vec![c.aml; patients.len()]);
    Ok(vec![
        person,
        period,
        death,
        condition,
        measurement_chunk(patients, c)?,
        observation_chunk(patients, c),
        episode_chunk(patients, c)?,
    ])
}

/// Write `concept.csv` (every concept the extract uses) into `dir`.
pub(crate) fn write_concept_table(dir: &Path) -> Result<PathBuf, SimError> {
    let c = concepts()?;
    let rows = &c.rows;
    let chunk = Chunk {
        names: vec![
            "concept_id",
            "concept_name",
            "domain_id",
            "vocabulary_id",
            "concept_class_id",
            "standard_concept",
            "concept_code",
            "valid_start_date",
            "valid_end_date",
            "invalid_reason",
        ],
        cols: vec![
            Col::I64(rows.iter().map(|r| r.0).collect()),
            Col::Str(rows.iter().map(|r| r.1.as_str()).collect()),
            Col::Str(rows.iter().map(|r| r.2).collect()),
            Col::Str(rows.iter().map(|r| r.3.as_str()).collect()),
            Col::Str(rows.iter().map(|r| r.4).collect()),
            Col::Str(vec!["S"; rows.len()]),
            Col::Str(rows.iter().map(|r| r.5.as_str()).collect()),
            Col::Str(vec!["1970-01-01"; rows.len()]),
            Col::Str(vec!["2099-12-31"; rows.len()]),
            Col::Str(vec![""; rows.len()]),
        ],
    };
    let mut sink = TableSink::create(dir, "concept", Format::Csv, &chunk)?;
    sink.append(&chunk)?;
    Ok(close_all(vec![sink])?.remove(0))
}
