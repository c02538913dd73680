//! Helpers shared by the tests that read the R reference fixtures
//! (`tests/fixtures/reference`): data files, expected JSON, tolerance checks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The copied R reference folder.
pub const REF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reference");

/// Minimal CSV reader (the reference files have no quoting): column name -> values.
pub fn read_csv(rel: &str) -> HashMap<String, Vec<String>> {
    let path = Path::new(REF).join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines.next().expect("header").split(',').map(|s| s.trim().to_string()).collect();
    let mut cols: HashMap<String, Vec<String>> = header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for (i, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), header.len(), "{rel} line {}", i + 2);
        for (h, f) in header.iter().zip(fields) {
            cols.get_mut(h).expect("column").push(f.trim().to_string());
        }
    }
    cols
}

/// A column of numbers.
pub fn num_col(cols: &HashMap<String, Vec<String>>, name: &str) -> Vec<f64> {
    cols[name].iter().map(|s| s.parse::<f64>().unwrap_or_else(|_| panic!("{name}: bad number {s}"))).collect()
}

/// (time, event) of a data file (columns `time`, `status` 0/1).
pub fn surv_data(cols: &HashMap<String, Vec<String>>) -> (Vec<f64>, Vec<bool>) {
    let time = num_col(cols, "time");
    let event = num_col(cols, "status")
        .iter()
        .map(|&s| {
            assert!(s == 0.0 || s == 1.0, "status {s}");
            s == 1.0
        })
        .collect();
    (time, event)
}

/// A JSON file, numbers read exactly (see [`parse_json_exact`]).
pub fn load_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_json_exact(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// JSON text to a [`Value`], every number read with Rust's correctly rounded
/// `str::parse::<f64>` (integers without a fraction or exponent as integers).
/// serde_json's own parser (without its `float_roundtrip` feature, which would
/// rebuild polars) can be one ulp off for 17-digit numbers: it reads
/// 1.5999999999999999 as 1.6, which breaks exact comparisons of R's times.
pub fn parse_json_exact(text: &str) -> Result<Value, String> {
    let mut p = JsonParser { s: text.as_bytes(), i: 0 };
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing text at byte {}", p.i));
    }
    Ok(v)
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("JSON: {what} at byte {}", self.i))
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i) {
            None => self.err("unexpected end"),
            Some(b'{') => {
                self.i += 1;
                let mut map = serde_json::Map::new();
                self.ws();
                if self.eat("}") {
                    return Ok(Value::Object(map));
                }
                loop {
                    self.ws();
                    let key = match self.value()? {
                        Value::String(k) => k,
                        _ => return self.err("object key"),
                    };
                    self.ws();
                    if !self.eat(":") {
                        return self.err("expected ':'");
                    }
                    let v = self.value()?;
                    map.insert(key, v);
                    self.ws();
                    if self.eat("}") {
                        return Ok(Value::Object(map));
                    }
                    if !self.eat(",") {
                        return self.err("expected ',' or '}'");
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    if self.eat("]") {
                        return Ok(Value::Array(items));
                    }
                    if !self.eat(",") {
                        return self.err("expected ',' or ']'");
                    }
                }
            }
            Some(b'"') => {
                // strings: find the closing quote, let serde_json decode the escapes
                let start = self.i;
                self.i += 1;
                while self.i < self.s.len() && self.s[self.i] != b'"' {
                    if self.s[self.i] == b'\\' {
                        self.i += 1;
                    }
                    self.i += 1;
                }
                self.i += 1;
                let raw = std::str::from_utf8(&self.s[start..self.i.min(self.s.len())]).map_err(|e| e.to_string())?;
                serde_json::from_str(raw).map_err(|e| format!("JSON string at byte {start}: {e}"))
            }
            Some(_) if self.eat("true") => Ok(Value::Bool(true)),
            Some(_) if self.eat("false") => Ok(Value::Bool(false)),
            Some(_) if self.eat("null") => Ok(Value::Null),
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len() && matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    self.i += 1;
                }
                let raw = std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
                if raw.is_empty() {
                    return self.err("unexpected character");
                }
                if !raw.contains(['.', 'e', 'E']) {
                    if let Ok(u) = raw.parse::<u64>() {
                        return Ok(Value::from(u));
                    }
                    if let Ok(i) = raw.parse::<i64>() {
                        return Ok(Value::from(i));
                    }
                }
                let x: f64 = raw.parse().map_err(|_| format!("JSON: bad number `{raw}` at byte {start}"))?;
                serde_json::Number::from_f64(x).map(Value::Number).ok_or_else(|| format!("JSON: `{raw}` is not finite"))
            }
        }
    }
}

/// The expected-result files whose name starts with `prefix`, sorted.
pub fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new(REF).join("expected"))
        .expect("expected dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(prefix) && name.ends_with(".json")
        })
        .collect();
    v.sort();
    v
}

/// Equal, or within relative tolerance `tol` of the larger magnitude.
pub fn close(got: f64, want: f64, tol: f64) -> bool {
    got == want || (got - want).abs() <= tol * got.abs().max(want.abs())
}

/// [`close`], or panic naming `ctx`.
pub fn assert_close(got: f64, want: f64, tol: f64, ctx: &str) {
    let rel = (got - want).abs() / want.abs();
    assert!(close(got, want, tol), "{ctx}: got {got:e}, want {want:e} (rel diff {rel:e})");
}

/// Every file under `dir` (recursively), relative path → bytes.
pub fn files_under(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}
