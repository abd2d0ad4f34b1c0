//! Reading a `/metrics` text (Prometheus exposition format) the way a scraper
//! does, for the tools and tests that look at a running service's samples.

use prometheus_parse::{Sample, Scrape, Value};

/// The samples of a `/metrics` text, or of one sample line without its value.
fn samples(text: &str) -> Vec<Sample> {
    let lines = text.lines().map(|line| Ok(line.to_string()));
    // The lines are already in memory: reading them cannot fail.
    Scrape::parse(lines)
        .map(|scrape| scrape.samples)
        .unwrap_or_default()
}

/// The value of the first sample of `text` that is `wanted`: a sample name with
/// some of its labels, written as Prometheus prints them
/// (`nova_events_consumed_total{outcome="applied"}`), or a bare name (any labels).
/// Histograms and summaries are read through their `_sum` and `_count` samples.
/// `None` when no sample matches: a missing sample is not a zero.
pub fn sample_value(text: &str, wanted: &str) -> Option<f64> {
    let wanted = samples(&format!("{wanted} 0")).into_iter().next()?;
    samples(text)
        .into_iter()
        .filter(|sample| sample.metric == wanted.metric)
        .filter(|sample| {
            wanted
                .labels
                .iter()
                .all(|(name, value)| sample.labels.get(name) == Some(value.as_str()))
        })
        .find_map(|sample| match sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
            Value::Histogram(_) | Value::Summary(_) => None,
        })
}

#[cfg(test)]
mod tests {
    use super::sample_value;

    const TEXT: &str = r#"# HELP nova_events_consumed_total Events by outcome.
# TYPE nova_events_consumed_total counter
nova_events_consumed_total{consumer="feed",outcome="applied",topic="nova.content"} 7
nova_events_consumed_total{consumer="feed",outcome="duplicate",topic="nova.content"} 2
# TYPE nova_live_subscribers gauge
nova_live_subscribers 3
# TYPE nova_outbox_delay_seconds histogram
nova_outbox_delay_seconds_bucket{le="0.1"} 4
nova_outbox_delay_seconds_bucket{le="+Inf"} 5
nova_outbox_delay_seconds_sum 0.75
nova_outbox_delay_seconds_count 5
"#;

    #[test]
    fn a_sample_is_found_by_its_name_and_some_of_its_labels() {
        let wanted = r#"nova_events_consumed_total{outcome="duplicate"}"#;
        assert_eq!(sample_value(TEXT, wanted), Some(2.0));
        assert_eq!(sample_value(TEXT, "nova_live_subscribers"), Some(3.0));
        assert_eq!(
            sample_value(TEXT, "nova_outbox_delay_seconds_count"),
            Some(5.0)
        );
    }

    #[test]
    fn a_missing_sample_is_none_not_zero() {
        let wanted = r#"nova_events_consumed_total{outcome="dead_lettered"}"#;
        assert_eq!(sample_value(TEXT, wanted), None);
        assert_eq!(sample_value(TEXT, "nova_events_consumed"), None);
    }
}
