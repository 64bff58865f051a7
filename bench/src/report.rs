//! The run's report: Markdown sections, printed as they are measured and written whole at
//! the end.

use std::fmt::Write as _;

use crate::harness::Measured;

#[derive(Default)]
pub struct Report {
    text: String,
}

impl Report {
    /// Add lines (and echo them, so a long run shows progress).
    pub fn add(&mut self, lines: &str) {
        println!("{lines}");
        self.text.push_str(lines);
        self.text.push('\n');
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// `12,345`
pub fn count(value: f64) -> String {
    let whole = value.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `req/s; p50 / p99 ms` of one run.
pub fn figures(m: &Measured) -> String {
    let o = &m.outcome;
    let mut s = format!(
        "{} req/s; {:.2} / {:.2} ms",
        count(o.throughput()),
        o.quantile_ms(0.5),
        o.quantile_ms(0.99)
    );
    if o.errors > 0 {
        let _ = write!(s, "; **{} errors**", o.errors);
    }
    s
}

/// `baseline → ours` as a ratio of throughputs.
pub fn ratio(ours: f64, baseline: f64) -> String {
    format!("{:.2}×", ours / baseline)
}

/// What `ours` adds over `baseline` at p50 and p99, in ms.
pub fn added(ours: &Measured, baseline: &Measured) -> String {
    format!(
        "+{:.2} / +{:.2} ms",
        ours.outcome.quantile_ms(0.5) - baseline.outcome.quantile_ms(0.5),
        ours.outcome.quantile_ms(0.99) - baseline.outcome.quantile_ms(0.99)
    )
}
