//! Grouping of subjects into levels, ordered the way R orders factor levels.
//!
//! R's `factor()` sorts the distinct values; for a numeric column that means
//! numeric order (1, 2, 10), for text lexicographic order. An explicit level
//! order (e.g. from a study file) overrides that.

use super::error::{StatsError, StatsResult};

/// Up to this many levels, a row's label is found by comparing it with each level
/// seen so far, which beats hashing for the usual handful of groups.
pub const LINEAR_LEVELS: usize = 16;

/// Subjects assigned to levels `0..labels.len()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// Level of each subject, an index into `labels`.
    pub codes: Vec<usize>,
    /// Level labels, in level order (the first is the reference level).
    pub labels: Vec<String>,
}

impl Grouping {
    /// Everyone in one group labelled `label` (R prints no strata then; we use `"all"`).
    pub fn single(n: usize, label: &str) -> Grouping {
        Grouping { codes: vec![0; n], labels: vec![label.to_string()] }
    }

    /// Levels from the distinct values, sorted as R's `factor()` does: numerically
    /// when every value parses as a number, otherwise as text.
    pub fn from_values<S: AsRef<str>>(values: &[S]) -> Grouping {
        Self::from_iter_values(values.iter().map(|v| v.as_ref()))
    }

    /// As [`Grouping::from_values`], from borrowed text (no per-row allocation): each
    /// row is compared with the levels seen so far (a hash lookup once there are more
    /// than [`LINEAR_LEVELS`] of them), then the distinct values are sorted and the
    /// codes remapped.
    pub fn from_iter_values<'a>(values: impl Iterator<Item = &'a str>) -> Grouping {
        let mut index: std::collections::HashMap<&'a str, usize> = std::collections::HashMap::new();
        let mut first_seen: Vec<&'a str> = Vec::new();
        let mut codes: Vec<usize> = Vec::with_capacity(values.size_hint().0);
        for v in values {
            let found =
                if first_seen.len() <= LINEAR_LEVELS { first_seen.iter().position(|s| *s == v) } else { index.get(v).copied() };
            let c = match found {
                Some(c) => c,
                None => {
                    let c = first_seen.len();
                    first_seen.push(v);
                    if first_seen.len() > LINEAR_LEVELS {
                        if index.is_empty() {
                            index.extend(first_seen.iter().enumerate().map(|(i, s)| (*s, i)));
                        } else {
                            index.insert(v, c);
                        }
                    }
                    c
                }
            };
            codes.push(c);
        }
        Self::from_local_codes(codes, &first_seen)
    }

    /// Levels from per-row codes into `labels` (which may repeat a label: such
    /// codes are merged), sorted as [`Grouping::from_values`] sorts them.
    pub fn from_local_codes(mut codes: Vec<usize>, labels: &[&str]) -> Grouping {
        let mut distinct: Vec<&str> = labels.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let numeric: Option<Vec<f64>> = distinct.iter().map(|s| s.trim().parse::<f64>().ok()).collect();
        if let Some(nums) = numeric {
            let mut order: Vec<usize> = (0..distinct.len()).collect();
            order.sort_by(|&a, &b| nums[a].total_cmp(&nums[b]).then(distinct[a].cmp(distinct[b])));
            distinct = order.iter().map(|&i| distinct[i]).collect();
        }
        let level: std::collections::HashMap<&str, usize> = distinct.iter().enumerate().map(|(i, d)| (*d, i)).collect();
        let rank: Vec<usize> = labels.iter().map(|l| level[l]).collect();
        for c in &mut codes {
            *c = rank[*c];
        }
        Grouping { codes, labels: distinct.iter().map(|s| s.to_string()).collect() }
    }

    /// Levels in the given order; a value not among `levels` is an error naming `column`.
    pub fn with_levels<S: AsRef<str>>(column: &str, values: &[S], levels: &[String]) -> StatsResult<Grouping> {
        Self::build(values, levels.to_vec()).map_err(|(row, v)| StatsError::InvalidInput {
            column: column.to_string(),
            message: format!("row {}: value `{v}` is not one of the levels {levels:?}", row + 1),
        })
    }

    fn build<S: AsRef<str>>(values: &[S], labels: Vec<String>) -> Result<Grouping, (usize, String)> {
        let index: std::collections::HashMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
        let mut codes = Vec::with_capacity(values.len());
        for (row, v) in values.iter().enumerate() {
            match index.get(v.as_ref()) {
                Some(&c) => codes.push(c),
                None => return Err((row, v.as_ref().to_string())),
            }
        }
        Ok(Grouping { codes, labels })
    }

    /// Number of levels.
    pub fn n_levels(&self) -> usize {
        self.labels.len()
    }

    /// Row indices of each level.
    pub fn members(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.labels.len()];
        for (i, &c) in self.codes.iter().enumerate() {
            out[c].push(i);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_levels_sort_numerically() {
        let g = Grouping::from_values(&["10", "2", "1", "2"]);
        assert_eq!(g.labels, vec!["1", "2", "10"]);
        assert_eq!(g.codes, vec![2, 1, 0, 1]);
    }

    #[test]
    fn text_levels_sort_lexicographically() {
        let g = Grouping::from_values(&["placebo", "6-MP", "placebo"]);
        assert_eq!(g.labels, vec!["6-MP", "placebo"]);
        assert_eq!(g.codes, vec![1, 0, 1]);
    }

    #[test]
    fn many_levels_switch_from_scan_to_hash_without_changing_codes() {
        // 40 levels (past LINEAR_LEVELS), seen in a scrambled order and repeated.
        let values: Vec<String> = (0..400).map(|i| format!("L{:02}", (i * 7) % 40)).collect();
        let g = Grouping::from_values(&values);
        assert_eq!(g.labels.len(), 40);
        assert!(g.labels.windows(2).all(|w| w[0] < w[1]), "levels sorted: {:?}", g.labels);
        for (v, &c) in values.iter().zip(&g.codes) {
            assert_eq!(&g.labels[c], v);
        }
    }

    #[test]
    fn explicit_levels_reject_unknown_values() {
        let lv = vec!["squamous".to_string(), "adeno".to_string()];
        let g = Grouping::with_levels("celltype", &["adeno", "squamous"], &lv).unwrap();
        assert_eq!(g.codes, vec![1, 0]);
        let e = Grouping::with_levels("celltype", &["adeno", "large"], &lv).unwrap_err();
        assert!(e.to_string().contains("celltype") && e.to_string().contains("row 2"));
    }
}
