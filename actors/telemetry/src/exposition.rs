//! The Prometheus text format (version 0.0.4): families with their `HELP` and `TYPE` once, then
//! their samples, label values escaped.

use std::fmt::Write as _;

use crate::histogram::Histogram;

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Labels of one sample: fixed names, bounded values.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

/// The text of one scrape being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a family: its `HELP` and `TYPE` lines. Its samples follow with [`Self::sample`].
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        self
    }

    /// One sample of the family started last.
    pub fn sample(&mut self, name: &str, labels: Labels<'_>, value: f64) -> &mut Self {
        self.out.push_str(name);
        write_labels(&mut self.out, labels, None);
        let _ = writeln!(self.out, " {}", number(value));
        self
    }

    /// A family of one unlabelled counter.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) -> &mut Self {
        self.family(name, Kind::Counter, help)
            .sample(name, &[], value as f64)
    }

    /// A family of one unlabelled gauge.
    pub fn gauge(&mut self, name: &str, help: &str, value: f64) -> &mut Self {
        self.family(name, Kind::Gauge, help)
            .sample(name, &[], value)
    }

    /// A counter family with one sample per label set.
    pub fn counters(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, u64)]) -> &mut Self {
        self.family(name, Kind::Counter, help);
        for (labels, value) in samples {
            self.sample(name, labels, *value as f64);
        }
        self
    }

    /// A gauge family with one sample per label set.
    pub fn gauges(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, f64)]) -> &mut Self {
        self.family(name, Kind::Gauge, help);
        for (labels, value) in samples {
            self.sample(name, labels, *value);
        }
        self
    }

    /// A histogram family (`name` without `_bucket`; seconds), one series per label set.
    pub fn histograms(
        &mut self,
        name: &str,
        help: &str,
        series: &[(Labels<'_>, &Histogram)],
    ) -> &mut Self {
        self.family(name, Kind::Histogram, help);
        for (labels, histogram) in series {
            let snapshot = histogram.snapshot();
            let bucket = format!("{name}_bucket");
            for (bound, count) in &snapshot.buckets {
                self.out.push_str(&bucket);
                write_labels(&mut self.out, labels, Some(&number(*bound)));
                let _ = writeln!(self.out, " {count}");
            }
            self.out.push_str(&bucket);
            write_labels(&mut self.out, labels, Some("+Inf"));
            let _ = writeln!(self.out, " {}", snapshot.count);
            self.sample(&format!("{name}_sum"), labels, snapshot.sum_seconds);
            self.sample(&format!("{name}_count"), labels, snapshot.count as f64);
        }
        self
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }
}

fn write_labels(out: &mut String, labels: Labels<'_>, le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (name, value) in labels.iter().copied().chain(le.map(|le| ("le", le))) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::Exposition;
    use crate::Histogram;

    #[test]
    fn families_have_one_header_and_escaped_labels() {
        let mut out = Exposition::new();
        out.counters(
            "spider_test_batches_total",
            "Batches.",
            &[(&[("kind", "a\"b")], 3), (&[("kind", "c")], 4)],
        );
        let histogram = Histogram::default();
        histogram.observe(std::time::Duration::from_millis(3));
        out.histograms("spider_test_seconds", "Latency.", &[(&[], &histogram)]);
        let text = out.finish();
        assert_eq!(text.matches("# TYPE spider_test_batches_total").count(), 1);
        assert!(text.contains("spider_test_batches_total{kind=\"a\\\"b\"} 3\n"));
        assert!(text.contains("spider_test_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("spider_test_seconds_bucket{le=\"0.001\"} 0\n"));
        assert!(text.contains("spider_test_seconds_bucket{le=\"+Inf\"} 1\n"));
        assert!(text.contains("spider_test_seconds_count 1\n"));
    }
}
