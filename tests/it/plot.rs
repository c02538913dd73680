//! Integration tests of the figure writers in `hemosurv::plot`.
//!
//! Every figure is rendered into `$CARGO_TARGET_TMPDIR/plot-samples/`
//! (kept after the run so the PNGs can be inspected by eye). For each
//! figure the tests check that both files exist, that the SVG is
//! well-formed XML containing the axis labels (and risk-table numbers), that
//! the PNG has the PNG signature, a 300-dpi pHYs chunk and decodes to the
//! expected pixel size, and -- for the survival figures -- that every
//! number-at-risk sits under its x-axis tick (within 1 px).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hemosurv::plot::*;

// ------------------------------------------------------------------ helpers

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plot-samples");
    std::fs::create_dir_all(&d).expect("create sample dir");
    d
}

/// Deterministic pseudo-random numbers in (0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

/// Simulated (time, event) pairs: exponential event times with rate `rate`,
/// uniform censoring on (0, `cens`).
fn simulate(seed: u64, n: usize, rate: f64, cens: f64) -> Vec<(f64, bool)> {
    let mut r = Lcg(seed);
    (0..n)
        .map(|_| {
            let t = -r.next().ln() / rate;
            let c = r.next() * cens;
            if t <= c {
                ((t * 10.0).ceil() / 10.0, true)
            } else {
                ((c * 10.0).ceil() / 10.0, false)
            }
        })
        .collect()
}

/// Kaplan–Meier with log-scale 95% CI, for test input only.
fn km_curve(label: &str, data: &[(f64, bool)]) -> StepCurve {
    let mut d = data.to_vec();
    d.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let mut c = StepCurve { label: label.into(), ..Default::default() };
    let (mut lo, mut up) = (Vec::new(), Vec::new());
    let (mut s, mut v) = (1.0f64, 0.0f64);
    let mut i = 0;
    while i < d.len() {
        let t = d[i].0;
        let n = (d.len() - i) as f64;
        let mut ev = 0.0;
        let mut j = i;
        while j < d.len() && d[j].0 == t {
            if d[j].1 {
                ev += 1.0;
            } else {
                c.censor_times.push(t);
            }
            j += 1;
        }
        if ev > 0.0 {
            s *= 1.0 - ev / n;
            if n > ev {
                v += ev / (n * (n - ev));
            }
            c.times.push(t);
            c.values.push(s);
            if s > 0.0 {
                let se = v.sqrt();
                lo.push((s.ln() - 1.96 * se).exp());
                up.push((s.ln() + 1.96 * se).exp().min(1.0));
            } else {
                lo.push(f64::NAN);
                up.push(f64::NAN);
            }
        }
        i = j;
    }
    c.lower = Some(lo);
    c.upper = Some(up);
    c
}

fn n_at_risk(data: &[(f64, bool)], breaks: &[f64]) -> Vec<u64> {
    breaks.iter().map(|&b| data.iter().filter(|d| d.0 >= b).count() as u64).collect()
}

fn median(c: &StepCurve) -> Option<f64> {
    c.times.iter().zip(&c.values).find(|(_, &v)| v <= 0.5).map(|(&t, _)| t)
}

/// Minimal XML well-formedness check: balanced, properly nested tags,
/// quoted attributes, no stray `<` or `&` in text.
fn check_xml(s: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = s;
    let check_text = |t: &str| -> Result<(), String> {
        let mut it = t.split('&');
        it.next();
        for part in it {
            let ok = ["lt;", "gt;", "amp;", "quot;", "apos;", "#"].iter().any(|e| part.starts_with(e));
            if !ok {
                return Err(format!("bare '&' in text near {:?}", &part[..part.len().min(20)]));
            }
        }
        Ok(())
    };
    while let Some(lt) = rest.find('<') {
        check_text(&rest[..lt])?;
        if !rest[..lt].trim().is_empty() && stack.is_empty() {
            return Err("text outside the root element".into());
        }
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<?") {
            let e = r.find("?>").ok_or("unterminated <?")?;
            rest = &r[e + 2..];
            continue;
        }
        if let Some(r) = rest.strip_prefix("<!--") {
            let e = r.find("-->").ok_or("unterminated comment")?;
            rest = &r[e + 3..];
            continue;
        }
        let gt = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("closing </{name}> without opening"))?;
            if open != name.trim() {
                return Err(format!("</{}> closes <{open}>", name.trim()));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name: String = body.chars().take_while(|c| !c.is_whitespace()).collect();
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || "-_:.".contains(c)) {
            return Err(format!("bad tag name in <{tag}>"));
        }
        // attributes: name="value" pairs
        let mut a = body[name.len()..].trim();
        while !a.is_empty() {
            let eq = a.find('=').ok_or(format!("attribute without value in <{tag}>"))?;
            let an = a[..eq].trim();
            if an.is_empty() || an.contains(char::is_whitespace) {
                return Err(format!("bad attribute name in <{tag}>"));
            }
            let v = a[eq + 1..].trim_start();
            let q = v.chars().next().ok_or("missing attribute value")?;
            if q != '"' && q != '\'' {
                return Err(format!("unquoted attribute in <{tag}>"));
            }
            let end = v[1..].find(q).ok_or("unterminated attribute value")?;
            let val = &v[1..1 + end];
            if val.contains('<') {
                return Err(format!("'<' in attribute value in <{tag}>"));
            }
            check_text(val)?;
            a = v[end + 2..].trim_start();
        }
        if stack.is_empty() {
            roots += 1;
        }
        if !self_closing {
            stack.push(name);
        }
    }
    check_text(rest)?;
    if !rest.trim().is_empty() {
        return Err("trailing text after the root element".into());
    }
    if !stack.is_empty() {
        return Err(format!("unclosed elements: {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(())
}

/// A `<text>` element of the SVG.
#[derive(Debug, Clone)]
struct SvgText {
    attrs: HashMap<String, String>,
    content: String,
}

impl SvgText {
    fn num(&self, a: &str) -> f64 {
        self.attrs[a].parse().unwrap()
    }
    fn anchor(&self) -> &str {
        self.attrs.get("text-anchor").map(String::as_str).unwrap_or("start")
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

fn svg_texts(svg: &str) -> Vec<SvgText> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text ") {
        rest = &rest[i + 6..];
        let gt = rest.find('>').unwrap();
        let attr_s = &rest[..gt];
        let mut attrs = HashMap::new();
        let mut a = attr_s.trim();
        while let Some(eq) = a.find("=\"") {
            let name = a[..eq].trim().to_string();
            let v = &a[eq + 2..];
            let end = v.find('"').unwrap();
            attrs.insert(name, unescape(&v[..end]));
            a = v[end + 1..].trim_start();
        }
        let close = rest.find("</text>").unwrap();
        let content = unescape(rest[gt + 1..close].trim());
        out.push(SvgText { attrs, content });
        rest = &rest[close..];
    }
    out
}

/// Common checks on a written figure; returns the SVG text.
fn check_files(f: &FigureFiles, expected_px: (u32, u32), must_contain: &[&str]) -> String {
    assert!(f.svg.is_file(), "missing {}", f.svg.display());
    assert!(f.png.is_file(), "missing {}", f.png.display());
    assert_eq!((f.width_px, f.height_px), expected_px);
    let svg = std::fs::read_to_string(&f.svg).unwrap();
    check_xml(&svg).unwrap_or_else(|e| panic!("{} is not well-formed: {e}", f.svg.display()));
    assert!(svg.contains(&format!("viewBox=\"0 0 {} {}\"", expected_px.0, expected_px.1)));
    let mm_w = format!("width=\"{:.2}mm\"", f64::from(expected_px.0) * 25.4 / 300.0);
    assert!(svg.contains(&mm_w), "SVG does not declare its physical width {mm_w}");
    let texts: Vec<String> = svg_texts(&svg).into_iter().map(|t| t.content).collect();
    for s in must_contain {
        assert!(texts.iter().any(|t| t == s), "SVG {} lacks text {s:?}; has {texts:?}", f.svg.display());
    }
    let png = std::fs::read(&f.png).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    // pHYs right after IHDR: 11811 pixels per metre = 300 dpi.
    assert_eq!(&png[37..41], b"pHYs");
    assert_eq!(u32::from_be_bytes(png[41..45].try_into().unwrap()), 11811);
    assert_eq!(png[49], 1, "pHYs unit is the metre");
    let img = image::load_from_memory(&png).expect("PNG decodes");
    assert_eq!((img.width(), img.height()), expected_px);
    // Not blank: some dark pixels (text, axes) and mostly white background.
    let rgb = img.to_rgb8();
    let dark = rgb.pixels().filter(|p| p.0.iter().all(|&c| c < 80)).count();
    let white = rgb.pixels().filter(|p| p.0 == [255, 255, 255]).count();
    let total = (img.width() * img.height()) as usize;
    assert!(dark > total / 1000, "PNG looks empty ({dark} dark pixels)");
    assert!(white > total / 2, "PNG background is not white");
    svg
}

/// Every risk-table number is centred (within 1 px) under the tick label of
/// its time, in the row of its group label.
fn check_risk_alignment(svg: &str, tick_labels: &[&str], rt: &RiskTable) {
    let texts = svg_texts(svg);
    // The x tick labels: centred texts, one per label, sharing one y.
    let mut by_y: HashMap<String, Vec<&SvgText>> = HashMap::new();
    for t in &texts {
        if t.anchor() == "middle" && tick_labels.contains(&t.content.as_str()) && !t.attrs.contains_key("transform") {
            by_y.entry(t.attrs["y"].clone()).or_default().push(t);
        }
    }
    let axis: Vec<&SvgText> = by_y
        .values()
        .find(|v| v.len() == tick_labels.len() && tick_labels.iter().all(|l| v.iter().any(|t| t.content == *l)))
        .cloned()
        .unwrap_or_else(|| panic!("no row of x tick labels {tick_labels:?} found"));
    let tick_x: Vec<f64> = tick_labels.iter().map(|l| axis.iter().find(|t| t.content == *l).unwrap().num("x")).collect();
    for (label, counts) in &rt.rows {
        let lab = texts
            .iter()
            .find(|t| t.content == *label && t.anchor() == "end")
            .unwrap_or_else(|| panic!("risk-table label {label:?} not found"));
        let row_y = lab.num("y");
        assert!(lab.num("x") < tick_x[0], "row label {label:?} must sit left of the first column");
        for (j, n) in counts.iter().enumerate() {
            let cands: Vec<&SvgText> =
                texts.iter().filter(|t| t.content == n.to_string() && (t.num("y") - row_y).abs() < 0.5).collect();
            assert!(!cands.is_empty(), "number {n} of row {label:?} not found");
            assert!(
                cands.iter().any(|t| t.anchor() == "middle" && (t.num("x") - tick_x[j]).abs() <= 1.0),
                "row {label:?}: number {n} at x {:?} is not under tick {} at x {}",
                cands.iter().map(|t| t.num("x")).collect::<Vec<_>>(),
                tick_labels[j],
                tick_x[j]
            );
        }
    }
}

fn invalid_message(e: PlotError) -> String {
    match e {
        PlotError::InvalidInput { .. } => e.to_string(),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

// ---------------------------------------------------------------- KM figure

fn km_input() -> (KmPlot, Vec<Vec<(f64, bool)>>) {
    let groups = [("Etoposide-based", 11u64, 180, 0.035), ("Ruxolitinib", 22, 140, 0.055), ("Supportive care", 33, 90, 0.11)];
    let breaks = vec![0.0, 12.0, 24.0, 36.0, 48.0, 60.0];
    let mut curves = Vec::new();
    let mut data = Vec::new();
    let mut rows = Vec::new();
    for (label, seed, n, rate) in groups {
        let d = simulate(seed, n, rate, 75.0);
        rows.push((label.to_string(), n_at_risk(&d, &breaks)));
        curves.push(km_curve(label, &d));
        data.push(d);
    }
    let medians = curves.iter().map(median).collect();
    let plot = KmPlot {
        title: "Overall survival by first-line regimen".into(),
        x_label: "Months since HLH diagnosis".into(),
        y_label: "Overall survival probability".into(),
        curves,
        risk_table: Some(RiskTable { times: breaks.clone(), rows }),
        annotation: Some("Log-rank p < 0.001\nHR 1.9 (1.4–2.6)".into()),
        medians,
        x_max: 60.0,
        x_breaks: breaks,
    };
    (plot, data)
}

#[test]
fn km_plot_files_labels_and_risk_table_alignment() {
    let (plot, _) = km_input();
    let f = write_km_plot(&plot, &FigureSpec::new(out_dir(), "km_os")).unwrap();
    assert_eq!(f.size.width_mm, 85.0);
    let expected = (1004, (f.size.height_mm / 25.4 * 300.0).round() as u32);
    let rt = plot.risk_table.as_ref().unwrap();
    let mut want: Vec<String> = vec![
        plot.x_label.clone(),
        plot.y_label.clone(),
        "Number at risk".into(),
        "Log-rank p < 0.001".into(),
        "HR 1.9 (1.4–2.6)".into(),
    ];
    for (l, n) in &rt.rows {
        want.push(l.clone());
        want.extend(n.iter().map(|v| v.to_string()));
    }
    let want_ref: Vec<&str> = want.iter().map(String::as_str).collect();
    let svg = check_files(&f, expected, &want_ref);
    check_risk_alignment(&svg, &["0", "12", "24", "36", "48", "60"], rt);
}

#[test]
fn km_plot_explicit_double_column_size() {
    let (plot, _) = km_input();
    let spec = FigureSpec::new(out_dir(), "km_os_wide").with_size(FigureSize::double_column(110.0));
    let f = write_km_plot(&plot, &spec).unwrap();
    let svg = check_files(&f, (2126, 1299), &["Months since HLH diagnosis"]);
    check_risk_alignment(&svg, &["0", "12", "24", "36", "48", "60"], plot.risk_table.as_ref().unwrap());
}

#[test]
fn km_plot_single_curve_without_table() {
    let d = simulate(7, 60, 0.05, 40.0);
    let c = km_curve("All patients", &d);
    let plot = KmPlot {
        x_label: "Months".into(),
        y_label: "Survival".into(),
        medians: vec![median(&c)],
        curves: vec![c],
        x_max: 40.0,
        x_breaks: vec![0.0, 10.0, 20.0, 30.0, 40.0],
        ..Default::default()
    };
    let f = write_km_plot(&plot, &FigureSpec::new(out_dir(), "km_single")).unwrap();
    let svg = check_files(&f, (1004, f.height_px), &["Months", "Survival", "0", "40", "1.0"]);
    // One curve: no legend, and no table.
    assert!(!svg.contains("All patients") && !svg.contains("Number at risk"));
}

#[test]
fn km_plot_rejects_bad_input_with_named_errors() {
    let (plot, _) = km_input();
    let dir = out_dir();

    let mut p = plot.clone();
    p.curves[1].values.pop();
    let m = invalid_message(write_km_plot(&p, &FigureSpec::new(&dir, "km_bad")).unwrap_err());
    assert!(m.contains("km_bad") && m.contains("Ruxolitinib") && m.contains("values"), "{m}");

    let mut p = plot.clone();
    p.risk_table.as_mut().unwrap().times[2] = 25.0;
    let m = invalid_message(write_km_plot(&p, &FigureSpec::new(&dir, "km_bad")).unwrap_err());
    assert!(m.contains("risk_table.times") && m.contains("x_breaks"), "{m}");

    let mut p = plot.clone();
    p.risk_table.as_mut().unwrap().rows[0].1.pop();
    let m = invalid_message(write_km_plot(&p, &FigureSpec::new(&dir, "km_bad")).unwrap_err());
    assert!(m.contains("Etoposide-based"), "{m}");

    let mut p = plot.clone();
    p.curves.clear();
    let m = invalid_message(write_km_plot(&p, &FigureSpec::new(&dir, "km_bad")).unwrap_err());
    assert!(m.contains("no curves"), "{m}");

    let mut p = plot.clone();
    p.curves[0].times[3] = p.curves[0].times[2];
    let m = invalid_message(write_km_plot(&p, &FigureSpec::new(&dir, "km_bad")).unwrap_err());
    assert!(m.contains("strictly increasing"), "{m}");

    let mut p = plot.clone();
    p.medians.pop();
    let m = invalid_message(write_km_plot(&p, &FigureSpec::new(&dir, "km_bad")).unwrap_err());
    assert!(m.contains("medians"), "{m}");

    let mut p = plot.clone();
    p.x_breaks.push(70.0);
    let m = invalid_message(write_km_plot(&p, &FigureSpec::new(&dir, "km_bad")).unwrap_err());
    assert!(m.contains("x_breaks"), "{m}");

    // Breaks too dense for their labels and numbers at this width.
    let mut p = plot.clone();
    p.x_breaks = (0..=30).map(|i| f64::from(i) * 2.0).collect();
    let rt = p.risk_table.as_mut().unwrap();
    rt.times = p.x_breaks.clone();
    for row in &mut rt.rows {
        row.1 = vec![100; 31];
    }
    let m = invalid_message(write_km_plot(&p, &FigureSpec::new(&dir, "km_bad")).unwrap_err());
    assert!(m.contains("too close") && m.contains("numbers at risk"), "{m}");

    // Too small a figure is a layout error, not a panic.
    let spec = FigureSpec::new(&dir, "km_bad").with_size(FigureSize::new(30.0, 25.0));
    let m = invalid_message(write_km_plot(&plot, &spec).unwrap_err());
    assert!(m.contains("too small"), "{m}");

    // Bad output names and unwritable directories.
    let m = invalid_message(write_km_plot(&plot, &FigureSpec::new(&dir, "a/b")).unwrap_err());
    assert!(m.contains("file stem"), "{m}");
    let file = dir.join("not_a_dir.txt");
    std::fs::write(&file, "x").unwrap();
    match write_km_plot(&plot, &FigureSpec::new(file.join("sub"), "km")) {
        Err(PlotError::Io { figure, .. }) => assert_eq!(figure, "km"),
        other => panic!("expected Io error, got {other:?}"),
    }
    assert!(!dir.join("km_bad.svg").exists(), "nothing is written for invalid input");
}

// --------------------------------------------------------------- CIF figure

/// Aalen–Johansen CIF of cause 1 and 2 from (time, cause) with cause 0 =
/// censored, for test input only.
fn cif_curves(label: &str, data: &[(f64, u8)]) -> (StepCurve, StepCurve) {
    let mut d = data.to_vec();
    d.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let mut c1 = StepCurve { label: label.into(), ..Default::default() };
    let mut c2 = StepCurve { label: label.into(), ..Default::default() };
    let (mut s, mut f1, mut f2) = (1.0f64, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < d.len() {
        let t = d[i].0;
        let n = (d.len() - i) as f64;
        let (mut e1, mut e2) = (0.0, 0.0);
        let mut j = i;
        while j < d.len() && d[j].0 == t {
            match d[j].1 {
                1 => e1 += 1.0,
                2 => e2 += 1.0,
                _ => {
                    c1.censor_times.push(t);
                    c2.censor_times.push(t);
                }
            }
            j += 1;
        }
        if e1 + e2 > 0.0 {
            f1 += s * e1 / n;
            f2 += s * e2 / n;
            s *= 1.0 - (e1 + e2) / n;
            for (c, f) in [(&mut c1, f1), (&mut c2, f2)] {
                c.times.push(t);
                c.values.push(f);
            }
        }
        i = j;
    }
    (c1, c2)
}

fn cif_data(seed: u64, n: usize, r1: f64, r2: f64) -> Vec<(f64, u8)> {
    let mut r = Lcg(seed);
    (0..n)
        .map(|_| {
            let t1 = -r.next().ln() / r1;
            let t2 = -r.next().ln() / r2;
            let c = r.next() * 40.0;
            let (t, k) = if t1 <= t2 && t1 <= c {
                (t1, 1)
            } else if t2 <= c {
                (t2, 2)
            } else {
                (c, 0)
            };
            ((t * 10.0).ceil() / 10.0, k)
        })
        .collect()
}

#[test]
fn cif_plot_files_labels_and_risk_table_alignment() {
    let breaks = vec![0.0, 6.0, 12.0, 18.0, 24.0, 30.0, 36.0];
    let mut curves = Vec::new();
    let mut competing = Vec::new();
    let mut rows = Vec::new();
    for (label, seed, n, r1, r2) in [("HLH", 5u64, 120, 0.03, 0.02), ("No HLH", 6, 260, 0.012, 0.008)] {
        let d = cif_data(seed, n, r1, r2);
        let (a, b) = cif_curves(label, &d);
        rows.push((label.to_string(), breaks.iter().map(|&t| d.iter().filter(|x| x.0 >= t).count() as u64).collect()));
        curves.push(a);
        competing.push(b);
    }
    let plot = CifPlot {
        title: String::new(),
        x_label: "Months since AML diagnosis".into(),
        y_label: "Cumulative incidence".into(),
        curves,
        competing,
        event_label: "Relapse".into(),
        competing_label: "Death without relapse".into(),
        risk_table: Some(RiskTable { times: breaks.clone(), rows }),
        annotation: Some("Gray's test p = 0.004".into()),
        x_max: 36.0,
        x_breaks: breaks,
        y_max: Some(0.8),
    };
    let f = write_cif_plot(&plot, &FigureSpec::new(out_dir(), "cif_relapse")).unwrap();
    let h = (f.size.height_mm / 25.4 * 300.0).round() as u32;
    let rt = plot.risk_table.as_ref().unwrap();
    let svg = check_files(
        &f,
        (1004, h),
        &[
            "Months since AML diagnosis",
            "Cumulative incidence",
            "Relapse",
            "Death without relapse",
            "Gray's test p = 0.004",
            "0.8",
        ],
    );
    check_risk_alignment(&svg, &["0", "6", "12", "18", "24", "30", "36"], rt);

    // Validation: competing curves must pair with the groups; y_max bounds values.
    let mut p = plot.clone();
    p.competing.pop();
    let m = invalid_message(write_cif_plot(&p, &FigureSpec::new(out_dir(), "cif_bad")).unwrap_err());
    assert!(m.contains("competing") && m.contains("cif_bad"), "{m}");
    let mut p = plot.clone();
    p.y_max = Some(0.01);
    let m = invalid_message(write_cif_plot(&p, &FigureSpec::new(out_dir(), "cif_bad")).unwrap_err());
    assert!(m.contains("within [0, 0.01]"), "{m}");

    // Without a risk table the figure is shorter.
    let mut p = plot.clone();
    p.risk_table = None;
    let g = write_cif_plot(&p, &FigureSpec::new(out_dir(), "cif_relapse_no_table")).unwrap();
    assert!(g.height_px < f.height_px);
    let svg = check_files(&g, (1004, g.height_px), &["Cumulative incidence"]);
    assert!(!svg.contains("Number at risk"));
}

// ------------------------------------------------------------ forest figure

fn forest_input() -> ForestPlot {
    let row = |label: &str, e: f64, l: f64, u: f64, p: &str| ForestRow {
        label: label.into(),
        estimate: e,
        lower: l,
        upper: u,
        p_text: p.into(),
    };
    ForestPlot {
        title: "Cox model for overall survival".into(),
        x_label: "Hazard ratio (95% CI)".into(),
        rows: vec![
            row("Age (per 10 years)", 1.32, 1.15, 1.52, "<0.001"),
            row("Male sex", 0.91, 0.66, 1.25, "0.56"),
            row("Ferritin > 10 000 µg/L", 2.41, 1.62, 3.58, "<0.001"),
            row("Etoposide-based first line", 0.58, 0.39, 0.86, "0.007"),
            row("EBV-driven HLH", 1.12, 0.71, 1.77, "0.62"),
            row("Sparse subgroup", 3.9, 0.0, f64::INFINITY, "0.31"),
        ],
        log_scale: true,
        reference: None,
        label_header: "Variable".into(),
        estimate_header: "HR (95% CI)".into(),
        p_header: "p".into(),
        x_range: None,
    }
}

#[test]
fn forest_plot_files_and_numbers_column() {
    let plot = forest_input();
    let f = write_forest_plot(&plot, &FigureSpec::new(out_dir(), "forest_cox")).unwrap();
    assert_eq!(f.width_px, 2126);
    let svg = check_files(
        &f,
        (2126, f.height_px),
        &[
            "Hazard ratio (95% CI)",
            "HR (95% CI)",
            "Age (per 10 years)",
            "1.32 (1.15–1.52)",
            "2.41 (1.62–3.58)",
            "3.90 (0.00–∞)",
            "<0.001",
            "0.007",
            "0.5",
            "1",
            "2",
        ],
    );
    // Rows are printed top to bottom in input order, numbers on the label's line.
    let texts = svg_texts(&svg);
    let y_of = |s: &str| texts.iter().find(|t| t.content == s).unwrap().num("y");
    let mut last = f64::NEG_INFINITY;
    for r in &plot.rows {
        let y = y_of(&r.label);
        assert!(y > last, "row {} out of order", r.label);
        last = y;
    }
    assert_eq!(y_of("Male sex"), y_of("0.91 (0.66–1.25)"));
    assert_eq!(y_of("Male sex"), y_of("0.56"));

    let mut p = plot.clone();
    p.rows[1].estimate = -1.0;
    let m = invalid_message(write_forest_plot(&p, &FigureSpec::new(out_dir(), "forest_bad")).unwrap_err());
    assert!(m.contains("Male sex") && m.contains("log scale"), "{m}");
    let mut p = plot.clone();
    p.rows[0].lower = 1.4;
    let m = invalid_message(write_forest_plot(&p, &FigureSpec::new(out_dir(), "forest_bad")).unwrap_err());
    assert!(m.contains("does not contain"), "{m}");
}

#[test]
fn forest_plot_linear_scale() {
    let mut plot = forest_input();
    plot.log_scale = false;
    plot.x_label = "Difference in days (95% CI)".into();
    plot.estimate_header = "Difference (95% CI)".into();
    plot.rows = vec![
        ForestRow { label: "Arm A vs B".into(), estimate: -0.52, lower: -0.9, upper: -0.14, p_text: "0.01".into() },
        ForestRow { label: "Arm C vs B".into(), estimate: 0.3, lower: -0.2, upper: 0.8, p_text: "0.24".into() },
    ];
    let f = write_forest_plot(&plot, &FigureSpec::new(out_dir(), "forest_linear")).unwrap();
    check_files(&f, (2126, f.height_px), &["−0.52 (−0.90 to −0.14)", "Difference in days (95% CI)"]);
}

// --------------------------------------------------------------- bar figure

#[test]
fn bar_plot_files_and_labels() {
    let bar = |c: &str, k: u32, n: u32| {
        let p = f64::from(k) / f64::from(n);
        let se = (p * (1.0 - p) / f64::from(n)).sqrt();
        Bar {
            category: c.into(),
            estimate: p,
            lower: (p - 1.96 * se).max(0.0),
            upper: (p + 1.96 * se).min(1.0),
            n_label: format!("{k}/{n}"),
        }
    };
    let plot = BarPlot {
        title: "Response at day 28".into(),
        x_label: "First-line regimen".into(),
        y_label: "Overall response (95% CI)".into(),
        bars: vec![
            bar("HLH-94 etoposide", 41, 60),
            bar("Ruxolitinib", 18, 25),
            bar("Emapalumab salvage", 7, 15),
            bar("Steroids alone", 20, 20),
        ],
    };
    let f = write_bar_plot(&plot, &FigureSpec::new(out_dir(), "bars_response")).unwrap();
    assert_eq!(f.width_px, 1004);
    check_files(
        &f,
        (1004, f.height_px),
        &["First-line regimen", "Overall response (95% CI)", "41/60", "20/20", "100%", "0%", "Ruxolitinib"],
    );

    // Many long categories switch to rotated labels; still valid output.
    let mut p = plot.clone();
    p.bars = (0..9).map(|i| bar(&format!("Regimen-with-a-long-name-{i}"), 3 + i, 20)).collect();
    let g = write_bar_plot(&p, &FigureSpec::new(out_dir(), "bars_many")).unwrap();
    assert_eq!(g.width_px, 2126);
    let svg = check_files(&g, (2126, g.height_px), &["Regimen-with-a-long-name-8"]);
    assert!(svg_texts(&svg).iter().any(|t| t.content == "Regimen-with-a-long-name-0" && t.attrs.contains_key("transform")));

    let mut p = plot.clone();
    p.bars[2].upper = 1.2;
    let m = invalid_message(write_bar_plot(&p, &FigureSpec::new(out_dir(), "bars_bad")).unwrap_err());
    assert!(m.contains("Emapalumab salvage") && m.contains("upper"), "{m}");
}

// ----------------------------------------------------------- swimmer figure

fn swimmer_input(n: usize) -> SwimmerPlot {
    let mut r = Lcg(99);
    let regimens = ["HLH-94", "Ruxolitinib", "Emapalumab", "HSCT"];
    let lanes = (0..n)
        .map(|i| {
            let end = 2.0 + r.next() * 46.0;
            let mut segments = Vec::new();
            let mut t = 0.0;
            let mut k = (r.next() * 3.0) as usize;
            while t < end * 0.8 && segments.len() < 3 {
                let len = (2.0 + r.next() * 10.0).min(end - t);
                segments.push((t, t + len, regimens[k % 4].to_string()));
                t += len + r.next() * 3.0;
                k += 1;
            }
            let mut markers = vec![];
            if r.next() < 0.5 {
                markers.push((segments[0].1.min(end), SwimmerMarker::CompleteResponse));
            } else if r.next() < 0.5 {
                markers.push((segments[0].1.min(end), SwimmerMarker::PartialResponse));
            }
            if i % 3 == 0 {
                markers.push((0.0, SwimmerMarker::HlhOnset));
            }
            if r.next() < 0.2 {
                markers.push((end * 0.9, SwimmerMarker::Relapse));
            }
            SwimmerLane { id: format!("P{:03}", i + 1), segments, markers, end, died: r.next() < 0.4 }
        })
        .collect();
    SwimmerPlot {
        title: "Treatment course of patients with AML-associated HLH".into(),
        x_label: "Months since diagnosis".into(),
        y_label: "Patient".into(),
        lanes,
        categories: regimens.iter().map(|s| s.to_string()).collect(),
        max_lanes: None,
    }
}

#[test]
fn swimmer_plot_caps_lanes_and_says_so() {
    let plot = swimmer_input(57);
    let f = write_swimmer_plot(&plot, &FigureSpec::new(out_dir(), "swimmer")).unwrap();
    let caption = "Showing the 40 of 57 patients with the longest follow-up; 17 not shown.";
    let svg = check_files(
        &f,
        (2126, f.height_px),
        &[
            "Months since diagnosis",
            "Patient",
            "HLH-94",
            "Complete response",
            "HLH onset",
            "Death",
            "Alive at last follow-up",
            caption,
        ],
    );
    // Exactly the 40 longest lanes are drawn, longest on top.
    let mut sorted: Vec<&SwimmerLane> = plot.lanes.iter().collect();
    sorted.sort_by(|a, b| b.end.partial_cmp(&a.end).unwrap());
    let texts = svg_texts(&svg);
    let mut last_y = f64::NEG_INFINITY;
    for (k, lane) in sorted.iter().enumerate() {
        let t = texts.iter().find(|t| t.content == lane.id);
        if k < 40 {
            let y = t.unwrap_or_else(|| panic!("lane {} missing", lane.id)).num("y");
            assert!(y > last_y, "lanes not sorted by follow-up");
            last_y = y;
        } else {
            assert!(t.is_none(), "lane {} should be omitted", lane.id);
        }
    }

    // Few lanes: no caption.
    let small = swimmer_input(8);
    let g = write_swimmer_plot(&small, &FigureSpec::new(out_dir(), "swimmer_small")).unwrap();
    let svg = check_files(&g, (2126, g.height_px), &["P001"]);
    assert!(!svg.contains("not shown"));

    let mut p = small.clone();
    p.lanes[2].segments[0].1 = p.lanes[2].end + 5.0;
    let m = invalid_message(write_swimmer_plot(&p, &FigureSpec::new(out_dir(), "swimmer_bad")).unwrap_err());
    assert!(m.contains("P003") && m.contains("after the end of follow-up"), "{m}");
    let mut p = small.clone();
    p.lanes[0].segments[0].2 = "Unknown drug".into();
    let m = invalid_message(write_swimmer_plot(&p, &FigureSpec::new(out_dir(), "swimmer_bad")).unwrap_err());
    assert!(m.contains("Unknown drug"), "{m}");
}

// ------------------------------------------------------- trajectory figure

fn series(label: &str, center: f64, slope: f64, spread: f64, log: bool) -> TrajectorySeries {
    let days: Vec<f64> = (-7..=21).step_by(2).map(f64::from).collect();
    let f = |d: f64| {
        let bump = (-(d / 6.0).powi(2)).exp();
        if log {
            center * (1.0 + slope * bump * 20.0)
        } else {
            center * (1.0 + slope * bump)
        }
    };
    let median: Vec<f64> = days.iter().map(|&d| f(d)).collect();
    let mut q1: Vec<f64> = median.iter().map(|m| m / spread).collect();
    let q3: Vec<f64> = median.iter().map(|m| m * spread).collect();
    let mut median = median;
    median[3] = f64::NAN; // a day without data leaves a gap
    q1[9] = f64::NAN;
    TrajectorySeries { label: label.into(), days, median, q1, q3 }
}

#[test]
fn trajectory_plot_four_panels() {
    let panel = |title: &str, unit: &str, log: bool, c: f64, s: f64| TrajectoryPanel {
        title: title.into(),
        y_label: unit.into(),
        log_y: log,
        series: vec![series("Survivors", c, s, 1.4, log), series("Non-survivors", c * 1.3, s * 1.2, 1.5, log)],
    };
    let plot = TrajectoryPlot {
        title: "Laboratory values around HLH onset".into(),
        x_label: "Days relative to HLH onset".into(),
        panels: vec![
            panel("Ferritin", "Ferritin (µg/L)", true, 800.0, 1.0),
            panel("Triglycerides", "Triglycerides (mmol/L)", false, 2.0, 0.8),
            panel("Fibrinogen", "Fibrinogen (g/L)", false, 2.5, -0.5),
            panel("Platelets", "Platelets (10⁹/L)", false, 120.0, -0.7),
        ],
    };
    let f = write_trajectory_plot(&plot, &FigureSpec::new(out_dir(), "lab_trajectories")).unwrap();
    check_files(
        &f,
        (2126, f.height_px),
        &[
            "Days relative to HLH onset",
            "Ferritin (µg/L)",
            "Platelets (10⁹/L)",
            "Fibrinogen",
            "Survivors",
            "Non-survivors",
            "1000",
            "−5",
        ],
    );

    let mut p = plot.clone();
    p.panels[0].series[0].q1[0] = -1.0;
    let m = invalid_message(write_trajectory_plot(&p, &FigureSpec::new(out_dir(), "traj_bad")).unwrap_err());
    assert!(m.contains("Ferritin") && m.contains("log scale"), "{m}");
    let mut p = plot.clone();
    p.panels[1].series[1].median.pop();
    let m = invalid_message(write_trajectory_plot(&p, &FigureSpec::new(out_dir(), "traj_bad")).unwrap_err());
    assert!(m.contains("Triglycerides") && m.contains("Non-survivors") && m.contains("median"), "{m}");
}

// ------------------------------------------------------------ determinism

#[test]
fn same_input_gives_byte_identical_files() {
    let (plot, _) = km_input();
    let a = write_km_plot(&plot, &FigureSpec::new(out_dir(), "km_repeat_a")).unwrap();
    let b = write_km_plot(&plot, &FigureSpec::new(out_dir(), "km_repeat_b")).unwrap();
    assert_eq!(std::fs::read(&a.svg).unwrap(), std::fs::read(&b.svg).unwrap());
    assert_eq!(std::fs::read(&a.png).unwrap(), std::fs::read(&b.png).unwrap());
}
