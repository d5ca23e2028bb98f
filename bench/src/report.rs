//! A scenario's results: a table for people, JSON for the run script.

use std::fmt::Write as _;

use serde::Serialize;

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// What a scenario measured, with the settings it ran with.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub hub: String,
    pub proto: super::wire::Proto,
    pub server: String,
    /// The scenario's settings, as given.
    pub params: serde_json::Map<String, serde_json::Value>,
    pub metrics: Vec<Metric>,
    /// What the run found wrong (a reader cut, a message lost): the figures
    /// are still reported, and `tcphub bench` then exits non-zero.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

impl Report {
    pub fn new(scenario: &str, target: &super::target::Target) -> Self {
        Report {
            scenario: scenario.to_string(),
            hub: target.label(),
            proto: target.proto,
            server: target.address(),
            params: match target.cluster.len() {
                // Only cluster runs gain the key: other reports stay as they were.
                0 => serde_json::Map::new(),
                n => serde_json::Map::from_iter([("nodes".to_string(), n.into())]),
            },
            metrics: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Records a setting.
    pub fn param(&mut self, name: &str, value: impl Into<serde_json::Value>) -> &mut Self {
        self.params.insert(name.to_string(), value.into());
        self
    }

    /// Records how long the run was asked to be: a message count, or else
    /// a duration in seconds.
    pub fn run_length(&mut self, messages: Option<u64>, duration: f64) -> &mut Self {
        match messages {
            Some(m) => self.param("messages", m),
            None => self.param("duration", duration),
        }
    }

    /// Records a figure.
    pub fn metric(&mut self, name: &str, value: f64, unit: &str) -> &mut Self {
        self.metrics.push(Metric {
            name: name.to_string(),
            value,
            unit: unit.to_string(),
        });
        self
    }

    /// Records something the run found wrong.
    pub fn fail(&mut self, what: impl Into<String>) -> &mut Self {
        self.failures.push(what.into());
        self
    }

    /// The figure called `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }

    /// The report as an aligned text table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "{} against {} ({}, {}): {}",
            self.scenario,
            self.hub,
            self.proto.name(),
            self.server,
            params.join(" ")
        );
        let width = self.metrics.iter().map(|m| m.name.len()).max().unwrap_or(0);
        for m in &self.metrics {
            let _ = writeln!(
                out,
                "  {:width$}  {:>16}  {}",
                m.name,
                human(m.value),
                m.unit
            );
        }
        for failure in &self.failures {
            let _ = writeln!(out, "  FAILED: {failure}");
        }
        out
    }
}

/// A number with digit grouping, and up to two decimals when small.
fn human(value: f64) -> String {
    if value.abs() >= 1000.0 || value.fract() == 0.0 {
        let whole = format!("{:.0}", value.abs());
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if value < 0.0 {
            grouped.insert(0, '-');
        }
        grouped
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn numbers_are_grouped_and_small_ones_keep_decimals() {
        assert_eq!(human(1_234_567.4), "1,234,567");
        assert_eq!(human(12.345), "12.35");
        assert_eq!(human(0.0), "0");
        assert_eq!(human(-4200.0), "-4,200");
    }
}
