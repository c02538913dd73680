//! HScore → probability of hemophagocytic syndrome, from the published Fardet 2014 table.
//!
//! Table (Fardet L et al., Arthritis Rheumatol 2014; via the Hindawi reprint):
//!
//! | HScore | ≤90 | 100 | 110 | 120 | 130 | 140 | 150 | 160 | 170 | 180 | 190 | 200 | 210 | 220 | 230 | 240 | ≥250 |
//! |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
//! | P(HS) % | <1 | 1 | 3 | 5 | 9 | 16 | 25 | 40 | 54 | 70 | 80 | 88 | 93 | 96 | 98 | 99 | >99 |
//!
//! Conversion (labelled "Fardet 2014 table", no closed-form formula is used):
//! - 100 ≤ score ≤ 240: linear interpolation between the two neighbouring table points
//!   (exact table value at a table point);
//! - score < 100: "<1%" (the table gives < 1 % at ≤ 90 and 1 % at 100; the probability
//!   increases with the score, so anything below 100 is below 1 %);
//! - score > 240: ">99%" (99 % at 240, > 99 % at ≥ 250).
//!
//! In particular ≤ 90 → "<1%" and ≥ 250 → ">99%" exactly as published.

/// The label of every probability produced here.
pub const PROBABILITY_SOURCE: &str = "Fardet 2014 table";

/// The numeric points of the Fardet 2014 table: (HScore, probability in %).
pub const FARDET_2014_TABLE: [(f64, f64); 15] = [
    (100.0, 1.0),
    (110.0, 3.0),
    (120.0, 5.0),
    (130.0, 9.0),
    (140.0, 16.0),
    (150.0, 25.0),
    (160.0, 40.0),
    (170.0, 54.0),
    (180.0, 70.0),
    (190.0, 80.0),
    (200.0, 88.0),
    (210.0, 93.0),
    (220.0, 96.0),
    (230.0, 98.0),
    (240.0, 99.0),
];

/// Probability of hemophagocytic syndrome for an HScore.
///
/// Holds no text: the label is made when asked for ([`HscoreProbability::label`]), so an episode
/// carries no allocation for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HscoreProbability {
    /// Interpolated probability in percent, `None` outside 100..=240 (see `label`).
    pub percent: Option<f64>,
    /// Outside the table: the score is above 240 (`>99%`) rather than below 100 (`<1%`).
    above: bool,
}

impl HscoreProbability {
    /// Text: `"<1%"`, `">99%"` or the percentage rounded to 0.1 (e.g. `"58.8%"`, `"54%"`).
    pub fn label(&self) -> String {
        match self.percent {
            Some(percent) => {
                let rounded = (percent * 10.0).round() / 10.0;
                format!("{rounded}%")
            }
            None if self.above => ">99%".to_string(),
            None => "<1%".to_string(),
        }
    }
}

/// Convert an HScore to a probability with the Fardet 2014 table (see the module docs).
/// Returns `None` for a non-finite score.
pub fn hscore_probability(score: f64) -> Option<HscoreProbability> {
    if !score.is_finite() {
        return None;
    }
    let (first, last) = (FARDET_2014_TABLE[0], FARDET_2014_TABLE[FARDET_2014_TABLE.len() - 1]);
    if score < first.0 {
        return Some(HscoreProbability { percent: None, above: false });
    }
    if score > last.0 {
        return Some(HscoreProbability { percent: None, above: true });
    }
    let mut percent = last.1;
    for w in FARDET_2014_TABLE.windows(2) {
        let ((s0, p0), (s1, p1)) = (w[0], w[1]);
        if score == s0 {
            percent = p0;
            break;
        }
        if score < s1 {
            percent = p0 + (p1 - p0) * (score - s0) / (s1 - s0);
            break;
        }
    }
    Some(HscoreProbability { percent: Some(percent), above: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_points_exact() {
        for (s, p) in FARDET_2014_TABLE {
            assert_eq!(hscore_probability(s).unwrap().percent, Some(p));
        }
        assert_eq!(hscore_probability(90.0).unwrap().label(), "<1%");
        assert_eq!(hscore_probability(250.0).unwrap().label(), ">99%");
        assert_eq!(hscore_probability(175.0).unwrap().percent, Some(62.0));
    }
}
