//! The extract's `concept` table joined with the mapping: what each concept_id stands for,
//! UCUM unit codes and value operators.

use std::collections::HashMap;

use super::audit::{Audit, Reason};
use super::mapping::{CheckedMapping, Target};
use super::read::RawTable;
use super::OmopError;
use crate::cohort::Qualifier;

/// One row of `concept`.
#[derive(Debug, Clone)]
pub struct ConceptRow {
    /// vocabulary_id.
    pub vocabulary_id: String,
    /// concept_code.
    pub concept_code: String,
    /// concept_name.
    pub concept_name: String,
}

/// A measurement value operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `=`: an exact value.
    Eq,
    /// A bound.
    Bound(Qualifier),
}

/// The concept lookup of an import.
#[derive(Debug, Default)]
pub struct Concepts {
    rows: HashMap<i64, ConceptRow>,
    targets: HashMap<i64, Target>,
    ucum: HashMap<i64, String>,
    operators: HashMap<i64, Operator>,
}

fn operator_from_name(name: &str) -> Option<Operator> {
    Some(match name.trim() {
        "=" => Operator::Eq,
        "<" => Operator::Bound(Qualifier::Lt),
        "<=" => Operator::Bound(Qualifier::Le),
        ">" => Operator::Bound(Qualifier::Gt),
        ">=" => Operator::Bound(Qualifier::Ge),
        _ => return None,
    })
}

impl Concepts {
    /// Index the `concept` table against the mapping (and count its rows in the audit).
    pub fn build(table: &RawTable, mapping: &CheckedMapping, audit: &mut Audit) -> Result<Concepts, OmopError> {
        let id_c = table.require("concept_id")?;
        let vocab_c = table.require("vocabulary_id")?;
        let code_c = table.require("concept_code")?;
        let name_c = table.optional("concept_name");
        audit.read("concept", table.height());
        let mut c = Concepts::default();
        let ops = &mapping.mapping.operators;
        for (ids, op) in [
            (&ops.lt, Operator::Bound(Qualifier::Lt)),
            (&ops.le, Operator::Bound(Qualifier::Le)),
            (&ops.gt, Operator::Bound(Qualifier::Gt)),
            (&ops.ge, Operator::Bound(Qualifier::Ge)),
            (&ops.eq, Operator::Eq),
        ] {
            for id in ids {
                c.operators.insert(*id, op);
            }
        }
        for row in 0..table.height() {
            let id = table.req_int(id_c, row)?;
            let vocabulary_id = table.text(vocab_c, row).unwrap_or("").to_string();
            let concept_code = table.text(code_c, row).unwrap_or("").to_string();
            let concept_name = table.text(name_c, row).unwrap_or("").to_string();
            let mut used = false;
            if let Some(t) = mapping.target(&vocabulary_id, &concept_code) {
                c.targets.insert(id, t);
                used = true;
            }
            if vocabulary_id.eq_ignore_ascii_case("UCUM") {
                c.ucum.insert(id, concept_code.clone());
                used = true;
            }
            if let Some(op) = operator_from_name(&concept_name) {
                c.operators.entry(id).or_insert(op);
                used = true;
            }
            if used {
                audit.mapped("concept");
            } else {
                audit.left_out("concept", Reason::ConceptReferenceOnly);
            }
            if c.rows.insert(id, ConceptRow { vocabulary_id, concept_code, concept_name }).is_some() {
                return Err(table.invalid(id_c, row, "a concept_id not used by an earlier row"));
            }
        }
        Ok(c)
    }

    /// What `concept_id` stands for in the mapping.
    pub fn target(&self, concept_id: i64) -> Option<Target> {
        self.targets.get(&concept_id).copied()
    }

    /// The concept row (for the audit).
    pub fn row(&self, concept_id: i64) -> Option<(&str, &str, &str)> {
        self.rows.get(&concept_id).map(|r| (r.vocabulary_id.as_str(), r.concept_code.as_str(), r.concept_name.as_str()))
    }

    /// The concept's name, if in the table.
    pub fn name(&self, concept_id: i64) -> Option<&str> {
        self.rows.get(&concept_id).map(|r| r.concept_name.as_str())
    }

    /// The UCUM code of a unit concept.
    pub fn ucum(&self, concept_id: i64) -> Option<&str> {
        self.ucum.get(&concept_id).map(String::as_str)
    }

    /// The operator of an `operator_concept_id`.
    pub fn operator(&self, concept_id: i64) -> Option<Operator> {
        self.operators.get(&concept_id).copied()
    }
}
