//! [`SharedText`]: immutable text shared by every row that carries it.
//!
//! At 1 M patients detection produces millions of episode and evidence rows; each used to own
//! copies of the same few names (criteria set, criterion, condition, unit, patient id) — one
//! heap allocation per field per row. The same holds for the patients' covariates (column
//! names and category values repeated in every patient). A `SharedText` is one reference-counted allocation made
//! once (per criteria set, or per patient) and cloned by pointer, and compares with `&str` and
//! `String` as the owned text did.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Immutable, cheaply cloned text (an `Arc<str>`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedText(Arc<str>);

impl SharedText {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SharedText {
    fn default() -> Self {
        SharedText::from("")
    }
}

impl Deref for SharedText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SharedText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for SharedText {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SharedText {
    fn from(s: &str) -> Self {
        SharedText(Arc::from(s))
    }
}

impl From<String> for SharedText {
    fn from(s: String) -> Self {
        SharedText(Arc::from(s))
    }
}

impl From<&String> for SharedText {
    fn from(s: &String) -> Self {
        SharedText::from(s.as_str())
    }
}

/// Hands out one [`SharedText`] per distinct text: equal texts share one allocation (a column's
/// few distinct values repeated over millions of rows). The texts of a [`TextCodes`], handed out
/// instead of their codes.
#[derive(Debug, Clone, Default)]
pub struct TextInterner<'a>(TextCodes<'a>);

impl<'a> TextInterner<'a> {
    /// The shared text equal to `text` (made on its first occurrence).
    pub fn intern(&mut self, text: &'a str) -> SharedText {
        let code = self.0.code(text);
        self.0.values[code as usize].clone()
    }
}

/// Numbers the distinct texts of a column in order of first appearance, keeping one
/// [`SharedText`] per distinct text: a text column stored as a `u32` code per row.
#[derive(Debug, Clone, Default)]
pub struct TextCodes<'a> {
    map: std::collections::HashMap<&'a str, u32>,
    values: Vec<SharedText>,
}

impl<'a> TextCodes<'a> {
    /// The code of `text` (the next free code on its first occurrence).
    pub fn code(&mut self, text: &'a str) -> u32 {
        let next = self.values.len() as u32;
        let values = &mut self.values;
        *self.map.entry(text).or_insert_with(|| {
            values.push(SharedText::from(text));
            next
        })
    }

    /// The distinct texts, indexed by their codes.
    pub fn into_values(self) -> Vec<SharedText> {
        self.values
    }
}

/// One shared text per value of `values`, in order, with one allocation per distinct value
/// (labels of a whole cohort: a few distinct values repeated in every row).
pub fn shared_labels<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<SharedText> {
    let mut distinct = TextInterner::default();
    values.into_iter().map(|v| distinct.intern(v)).collect()
}

impl fmt::Debug for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl PartialEq<str> for SharedText {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for SharedText {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for SharedText {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl PartialEq<SharedText> for String {
    fn eq(&self, other: &SharedText) -> bool {
        self.as_str() == &*other.0
    }
}

impl PartialEq<SharedText> for &str {
    fn eq(&self, other: &SharedText) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<SharedText> for str {
    fn eq(&self, other: &SharedText) -> bool {
        self == &*other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_and_clones_as_text() {
        let a = SharedText::from("hlh_aml");
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.0, &b.0), "a clone shares the allocation");
        assert_eq!(a, "hlh_aml");
        assert_eq!(a, String::from("hlh_aml"));
        assert_eq!(String::from("hlh_aml"), a);
        assert_ne!(a, "hscore");
        assert_eq!(format!("{a} {a:?}"), "hlh_aml \"hlh_aml\"");
        assert_eq!(a.len(), 7);
        let mut v = vec![SharedText::from("b"), SharedText::from("a")];
        v.sort();
        assert_eq!(v, ["a", "b"]);
    }

    #[test]
    fn shared_labels_keep_the_order_and_share_equal_values() {
        let v = shared_labels(["intensive", "none", "intensive", "low", "none"]);
        assert_eq!(v, ["intensive", "none", "intensive", "low", "none"]);
        // equal values are one allocation
        assert!(std::ptr::eq(v[0].as_str().as_ptr(), v[2].as_str().as_ptr()));
        assert!(std::ptr::eq(v[1].as_str().as_ptr(), v[4].as_str().as_ptr()));
        assert!(!std::ptr::eq(v[0].as_str().as_ptr(), v[3].as_str().as_ptr()));
        assert!(shared_labels(std::iter::empty()).is_empty());
    }
}
