//! Statistics (median, min–max, paired ratios) and the result table.

use std::fmt::Write as _;

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// A ratio: the median over repetitions, and the lowest and highest of the
/// per-repetition ratios (how much the machine's noise moves it).
#[derive(Clone, Copy)]
pub struct Ratio {
    pub median: f64,
    pub lo: f64,
    pub hi: f64,
}

impl From<f64> for Ratio {
    fn from(v: f64) -> Ratio {
        Ratio {
            median: v,
            lo: v,
            hi: v,
        }
    }
}

/// The ratios `a[i] / b[i]`, each pair measured in the same repetition,
/// back to back, so that a slow phase of the machine hits both.
pub fn paired_ratio(a: &[f64], b: &[f64]) -> Ratio {
    let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    Ratio {
        median: median(&r),
        lo: r.iter().copied().fold(f64::INFINITY, f64::min),
        hi: r.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

/// A bar from the issue, evaluated against a ratio or a value.
pub struct Bar {
    pub text: String,
    pub met: Option<bool>,
}

impl Bar {
    /// `value <= limit`.
    pub fn le(text: &str, value: f64, limit: f64) -> Bar {
        Bar {
            text: text.to_owned(),
            met: Some(value <= limit),
        }
    }

    /// `value >= limit`.
    pub fn ge(text: &str, value: f64, limit: f64) -> Bar {
        Bar {
            text: text.to_owned(),
            met: Some(value >= limit),
        }
    }

    /// Reported, no bar.
    pub fn none() -> Bar {
        Bar {
            text: String::new(),
            met: None,
        }
    }
}

/// One line of the table.
pub struct Row {
    pub workload: String,
    pub what: String,
    pub unit: &'static str,
    pub samples: Vec<f64>,
    pub ratio: Option<Ratio>,
    pub bar: Bar,
}

impl Row {
    pub fn new(workload: &str, what: &str, unit: &'static str, samples: Vec<f64>) -> Row {
        Row {
            workload: workload.to_owned(),
            what: what.to_owned(),
            unit,
            samples,
            ratio: None,
            bar: Bar::none(),
        }
    }

    pub fn ratio(mut self, ratio: impl Into<Ratio>, bar: Bar) -> Row {
        self.ratio = Some(ratio.into());
        self.bar = bar;
        self
    }

    pub fn median(&self) -> f64 {
        median(&self.samples)
    }
}

/// A number with a precision that suits its size.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let a = v.abs();
    if a >= 10_000.0 {
        let s = format!("{v:.0}");
        // thousands separators
        let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        format!("{sign}{out}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The markdown table; `tiny` marks bars as not evaluated.
pub fn table(rows: &[Row], tiny: bool) -> String {
    let mut out = String::new();
    out.push_str(
        "| workload | implementation | median | min–max | pgdblink / anchor (range over repetitions) | bar | met? |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---|---|\n");
    let mut last = String::new();
    for r in rows {
        let workload = if r.workload == last {
            String::new()
        } else {
            last.clone_from(&r.workload);
            r.workload.clone()
        };
        let (min, max) = r
            .samples
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let range = if r.samples.len() > 1 {
            format!("{}–{}", num(min), num(max))
        } else {
            "—".into()
        };
        let ratio = match r.ratio {
            None => String::new(),
            Some(x) if x.hi - x.lo > 1e-9 => {
                format!("{:.3} ({:.2}–{:.2})", x.median, x.lo, x.hi)
            }
            Some(x) => format!("{:.3}", x.median),
        };
        let met = match (tiny, r.bar.met) {
            (_, None) => "",
            (true, Some(_)) => "(tiny run)",
            (false, Some(true)) => "**yes**",
            (false, Some(false)) => "**NO**",
        };
        let _ = writeln!(
            out,
            "| {workload} | {} | {} {} | {range} | {ratio} | {} | {met} |",
            r.what,
            num(r.median()),
            r.unit,
            r.bar.text
        );
    }
    out
}
