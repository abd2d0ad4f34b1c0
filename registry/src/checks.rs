//! What a publish, a check and a rollback decide: compose, then compare the
//! candidate with the current supergraph (breaking changes) and validate the
//! shipped operations, and the operations routers saw executed, against it.

use nova_schema::{
    access_changes, affected_by_defaults, api_schema, broken_at_runtime, broken_operations,
    changes, compose, directive_changes, requirements, AffectedOperation, BrokenOperation, Change,
    ShippedOperation, SubgraphSource,
};
use serde::Serialize;

use crate::usage::{ClientRequests, SeenOperation};

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Empty when the candidate composed.
    pub composition_errors: Vec<String>,
    /// Against the current supergraph's API schema, breaking first.
    pub changes: Vec<Change>,
    /// Shipped operations that validate now and would not any more, or whose
    /// requests would fail.
    pub broken_operations: Vec<BrokenOperationReport>,
    /// Operations routers executed in the usage window (`usage::seen_since`)
    /// that would stop working, with the clients that sent them.
    pub broken_in_traffic: Vec<TrafficBreak>,
    /// Shipped operations that keep working but may mean something else (a
    /// default they rely on changed); reported, not blocking.
    pub affected_operations: Vec<AffectedOperation>,
    /// Whether it may become current without `force`: it composed and breaks no
    /// shipped operation and none seen in traffic.
    pub passes: bool,
    #[serde(skip)]
    pub supergraph_sdl: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BrokenOperationReport {
    pub name: String,
    pub error: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrafficBreak {
    /// The operation's name (`anonymous` without one) and its hash's start.
    pub name: String,
    pub hash: String,
    pub error: String,
    pub clients: Vec<ClientRequests>,
}

/// The operations seen in traffic as checkable documents, named uniquely
/// (name and hash start: old and new versions of a client may send two
/// different documents under one name).
fn traffic_documents(traffic: &[SeenOperation]) -> Vec<ShippedOperation> {
    traffic
        .iter()
        .map(|seen| ShippedOperation {
            id: seen.hash.clone(),
            name: format!(
                "{} ({})",
                seen.name.as_deref().unwrap_or("anonymous"),
                seen.hash.get(..12).unwrap_or(&seen.hash)
            ),
            body: seen.body.clone(),
        })
        .collect()
}

impl From<BrokenOperation> for BrokenOperationReport {
    fn from(broken: BrokenOperation) -> Self {
        Self {
            name: broken.name,
            error: broken.error,
        }
    }
}

impl Report {
    pub fn composed(&self) -> bool {
        self.composition_errors.is_empty()
    }

    /// `force` overrides broken operations, never a failed composition: a router
    /// never gets a supergraph that did not compose.
    pub fn accepted(&self, force: bool) -> bool {
        self.composed() && (force || self.passes)
    }
}

/// Check a candidate set of subgraphs against the current supergraph.
pub fn check_subgraphs(
    current_sdl: Option<&str>,
    candidate: &[SubgraphSource],
    operations: &[ShippedOperation],
    traffic: &[SeenOperation],
) -> Report {
    match compose(candidate) {
        Err(errors) => Report {
            composition_errors: errors,
            ..Report::default()
        },
        Ok(sdl) => check_supergraph(current_sdl, sdl, operations, traffic),
    }
}

/// Check a composed supergraph (a rollback target) against the current one.
pub fn check_supergraph(
    current_sdl: Option<&str>,
    candidate_sdl: String,
    operations: &[ShippedOperation],
    traffic: &[SeenOperation],
) -> Report {
    let candidate = match api_schema(&candidate_sdl) {
        Ok(candidate) => candidate,
        Err(error) => {
            return Report {
                composition_errors: vec![error],
                ..Report::default()
            }
        }
    };
    let current = current_sdl.and_then(|sdl| api_schema(sdl).ok().map(|api| (sdl, api)));
    let traffic_documents = traffic_documents(traffic);
    let (mut changes, broken, broken_in_traffic, affected) = match &current {
        None => (Vec::new(), Vec::new(), Vec::new(), Vec::new()),
        Some((current_sdl, current)) => {
            // Access rules live in the supergraphs, not the API schemas.
            let current_requirements = requirements(current_sdl);
            let access = access_changes(&current_requirements, &requirements(&candidate_sdl));
            let mut changes = changes(current, &candidate);
            changes.extend(access.iter().map(|change| change.as_change()));
            changes.extend(directive_changes(current_sdl, &candidate_sdl));
            // Documents that stop validating, then requests that would fail.
            let broken_of = |operations: &[ShippedOperation]| {
                let mut broken = broken_operations(operations, Some(current), &candidate);
                for at_runtime in broken_at_runtime(
                    operations,
                    current,
                    &changes,
                    &access,
                    &current_requirements,
                ) {
                    if !broken.iter().any(|b| b.name == at_runtime.name) {
                        broken.push(at_runtime);
                    }
                }
                broken
            };
            let broken = broken_of(operations);
            let broken_in_traffic = broken_of(&traffic_documents);
            let affected = affected_by_defaults(operations, current, &candidate);
            (changes, broken, broken_in_traffic, affected)
        }
    };
    changes.sort_by(|a, b| a.severity.cmp(&b.severity).then(a.path.cmp(&b.path)));
    let broken: Vec<BrokenOperationReport> = broken.into_iter().map(Into::into).collect();
    let broken_in_traffic: Vec<TrafficBreak> = broken_in_traffic
        .into_iter()
        .filter_map(|b| {
            let index = traffic_documents.iter().position(|d| d.name == b.name)?;
            Some(TrafficBreak {
                name: b.name,
                hash: traffic[index].hash.clone(),
                error: b.error,
                clients: traffic[index].clients.clone(),
            })
        })
        .collect();
    // Breaking changes are reported; what blocks is an operation that would
    // stop working: shipped ones are every client's contract in safelist mode,
    // and ones seen in traffic are what clients do send.
    let passes = broken.is_empty() && broken_in_traffic.is_empty();
    Report {
        composition_errors: Vec::new(),
        changes,
        broken_operations: broken,
        broken_in_traffic,
        affected_operations: affected,
        passes,
        supergraph_sdl: Some(candidate_sdl),
    }
}
