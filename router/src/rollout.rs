//! Progressive rollouts, on the router's side.
//!
//! A rollout publishes the new subgraph's fields with `@override(from:, label:)`
//! (the registry, `nova rollout start`). The router plans a request through the
//! new subgraph only when the label is on for it, and Hive Router lets a plugin
//! choose the labels of each request. This turns a rollout's label on for its
//! share of operations, drawn at random per operation like Hive's own
//! `percent(N)`; the share comes from the file the sync agent writes
//! (`nova supergraph sync --rollouts-out`, `{"rollouts": [{"label",
//! "subgraph", "percent"}]}`), re-read every `poll_interval`. Stepping a
//! rollout so changes no supergraph, and open subscriptions are not ended.
//!
//! The answers of the rollout's subgraph on those requests are counted by
//! outcome (`ROUTER_METRIC`); the registry's gate reads them. A transport
//! failure skips Hive's end-of-call hook, so an answer counts as an error
//! unless that hook saw it succeed (`AnswerOutcome`'s drop).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hive_router::executor::hooks::on_graphql_params::{
    OnGraphQLParamsStartHookPayload, OnGraphQLParamsStartHookResult,
};
use hive_router::executor::hooks::on_subgraph_execute::{
    OnSubgraphExecuteStartHookPayload, OnSubgraphExecuteStartHookResult,
};
use hive_router::executor::plugin_trait::{EndHookPayload, StartHookPayload};
use serde::Deserialize;

use crate::rate_limit::Lenient;

const ROUTER_METRIC: &str = "nova_router_rollout_subgraph_requests_total";

#[derive(Deserialize)]
pub struct RolloutsConfig {
    /// The sync agent's rollouts file; empty: no rollouts on this router.
    #[serde(default)]
    path: String,
    poll_interval: Lenient<humantime::Duration>,
}

/// One active rollout as the sync agent wrote it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ActiveRollout {
    pub label: String,
    pub subgraph: String,
    pub percent: f64,
}

#[derive(Deserialize)]
struct RolloutsFile {
    rollouts: Vec<ActiveRollout>,
}

/// The rollouts drawn for a request (kept in the plugin context).
struct RequestLabels(Vec<ActiveRollout>);

#[derive(Clone)]
pub struct Rollouts {
    active: Arc<RwLock<Vec<ActiveRollout>>>,
    answers: prometheus::IntCounterVec,
}

impl Rollouts {
    pub fn start(config: RolloutsConfig, metrics: &prometheus::Registry) -> Result<Self, String> {
        let answers = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                ROUTER_METRIC,
                "Answers of a rollout's new subgraph on the requests its label sent there, by outcome",
            ),
            &["label", "subgraph", "outcome"],
        )
        .map_err(|e| e.to_string())?;
        metrics
            .register(Box::new(answers.clone()))
            .map_err(|e| e.to_string())?;
        let rollouts = Rollouts {
            active: Arc::new(RwLock::new(Vec::new())),
            answers,
        };
        if !config.path.trim().is_empty() {
            let path = PathBuf::from(config.path.trim());
            let interval: Duration = config.poll_interval.0.into();
            let watched = rollouts.active.clone();
            std::thread::Builder::new()
                .name("nova-rollouts".into())
                .spawn(move || follow(path, interval, watched))
                .map_err(|e| format!("cannot start the rollouts reader: {e}"))?;
        }
        Ok(rollouts)
    }

    /// The rollouts whose label is on for one operation: each with its
    /// percent's chance.
    fn draw(&self) -> Vec<ActiveRollout> {
        let active = self.active.read().unwrap_or_else(|e| e.into_inner());
        active
            .iter()
            .filter(|rollout| rand::random::<f64>() * 100.0 < rollout.percent)
            .cloned()
            .collect()
    }

    /// `on_graphql_params`: the drawn rollouts' labels for this operation,
    /// before planning.
    pub fn label_operation<'exec>(
        &self,
        payload: OnGraphQLParamsStartHookPayload<'exec>,
    ) -> OnGraphQLParamsStartHookResult<'exec> {
        let drawn = self.draw();
        if drawn.is_empty() {
            return payload.proceed();
        }
        let labels: HashSet<String> = drawn.iter().map(|r| r.label.clone()).collect();
        // The context's write guard borrows the payload: released before it
        // is handed back.
        let labelled = match payload.request_context.write() {
            Ok(mut context) => {
                context
                    .progressive_override()
                    .set_labels_to_override(Some(labels));
                true
            }
            Err(error) => {
                tracing::warn!(%error, "cannot set the rollout labels");
                false
            }
        };
        if labelled {
            payload.context.insert(RequestLabels(drawn));
        }
        payload.proceed()
    }

    /// `on_subgraph_execute`: count the answer when a drawn rollout sent this
    /// call to its subgraph.
    pub fn count_answer<'exec>(
        &self,
        payload: OnSubgraphExecuteStartHookPayload<'exec>,
    ) -> OnSubgraphExecuteStartHookResult<'exec> {
        let answer = payload
            .context
            .get_ref::<RequestLabels>()
            .and_then(|drawn| self.answer(&drawn.0, payload.subgraph_name));
        match answer {
            None => payload.proceed(),
            Some(answer) => payload.on_end(move |end| {
                let result = &end.execution_result;
                answer.finish(
                    result.errors.as_ref().is_none_or(|e| e.is_empty())
                        && result.status.is_none_or(|s| s.is_success()),
                );
                end.proceed()
            }),
        }
    }

    /// An answer of `subgraph` to count, if a drawn rollout sent it there.
    fn answer(&self, drawn: &[ActiveRollout], subgraph: &str) -> Option<AnswerOutcome> {
        let rollout = drawn.iter().find(|r| r.subgraph == subgraph)?;
        Some(AnswerOutcome {
            answers: self.answers.clone(),
            label: rollout.label.clone(),
            subgraph: subgraph.to_string(),
            ok: false,
        })
    }
}

/// Counts one answer when dropped: `ok` if the call finished without errors.
struct AnswerOutcome {
    answers: prometheus::IntCounterVec,
    label: String,
    subgraph: String,
    ok: bool,
}

impl AnswerOutcome {
    /// Count the answer now, as succeeded or not.
    fn finish(mut self, ok: bool) {
        self.ok = ok;
    }
}

impl Drop for AnswerOutcome {
    fn drop(&mut self) {
        let outcome = if self.ok { "ok" } else { "error" };
        self.answers
            .with_label_values(&[self.label.as_str(), self.subgraph.as_str(), outcome])
            .inc();
    }
}

/// Parse the sync agent's file.
pub fn parse(text: &str) -> Result<Vec<ActiveRollout>, String> {
    let file: RolloutsFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(file.rollouts)
}

/// Re-read `path` every `interval`; a missing file means no rollouts, an
/// unreadable one keeps what was read before.
fn follow(path: PathBuf, interval: Duration, active: Arc<RwLock<Vec<ActiveRollout>>>) {
    let mut last: Option<String> = None;
    loop {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot read the rollouts file");
                std::thread::sleep(interval);
                continue;
            }
        };
        if last.as_deref() != Some(text.as_str()) {
            let parsed = if text.is_empty() {
                Ok(Vec::new())
            } else {
                parse(&text)
            };
            match parsed {
                Ok(rollouts) => {
                    tracing::info!(?rollouts, "rollouts");
                    *active.write().unwrap_or_else(|e| e.into_inner()) = rollouts;
                }
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "the rollouts file does not parse; keeping the rollouts read before")
                }
            }
            last = Some(text);
        }
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(percent: f64) -> Rollouts {
        let rollouts = Rollouts::start(
            RolloutsConfig {
                path: String::new(),
                poll_interval: Lenient(Duration::from_secs(1).into()),
            },
            &prometheus::Registry::new(),
        )
        .unwrap();
        *rollouts.active.write().unwrap() = vec![ActiveRollout {
            label: "nova-rollout-1".into(),
            subgraph: "profiles".into(),
            percent,
        }];
        rollouts
    }

    #[test]
    fn the_file_names_each_rollouts_label_subgraph_and_share() {
        let text = r#"{"rollouts":[{"label":"nova-rollout-1","subgraph":"profiles","percent":5}]}"#;
        assert_eq!(
            parse(text).unwrap(),
            [ActiveRollout {
                label: "nova-rollout-1".into(),
                subgraph: "profiles".into(),
                percent: 5.0
            }]
        );
        assert!(parse(r#"{"rollouts":"x"}"#).is_err());
    }

    #[test]
    fn a_share_of_0_never_draws_the_label_and_100_always_does() {
        let none = with(0.0);
        let all = with(100.0);
        for _ in 0..1000 {
            assert!(none.draw().is_empty());
            assert_eq!(all.draw().len(), 1);
        }
    }

    #[test]
    fn an_answer_not_seen_to_succeed_counts_as_an_error() {
        let rollouts = with(100.0);
        let drawn = rollouts.draw();
        assert!(rollouts.answer(&drawn, "users").is_none());
        drop(rollouts.answer(&drawn, "profiles"));
        rollouts.answer(&drawn, "profiles").unwrap().finish(true);
        let count = |outcome: &str| {
            rollouts
                .answers
                .with_label_values(&["nova-rollout-1", "profiles", outcome])
                .get()
        };
        assert_eq!((count("ok"), count("error")), (1, 1));
    }
}
