//! What a subgraph's `/health/ready` reports besides its Postgres: the other
//! stores it cannot serve without (analytics' ClickHouse). The code that talks to
//! such a store marks it up or down as it finds it; readiness reads the marks, so
//! a probe never waits on a store that hangs.

use std::sync::{Arc, Mutex};

/// The dependencies of one process, shared by the HTTP app and their watchers.
#[derive(Clone, Default)]
pub struct Readiness {
    dependencies: Arc<Mutex<Vec<Dependency>>>,
}

/// One store the process needs; down (with `problem`) until marked up.
#[derive(Clone)]
pub struct Dependency {
    name: &'static str,
    problem: Arc<Mutex<Option<String>>>,
}

impl Readiness {
    /// A new dependency named `name` (the key in the readiness answer), not
    /// ready until it is marked up.
    pub fn dependency(&self, name: &'static str) -> Dependency {
        let dependency = Dependency {
            name,
            problem: Arc::new(Mutex::new(Some("not reached yet".to_string()))),
        };
        self.lock().push(dependency.clone());
        dependency
    }

    /// Each dependency that is down now, with its problem.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        self.lock()
            .iter()
            .filter_map(|d| d.problem().map(|problem| (d.name, problem)))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Dependency>> {
        // A panic elsewhere while holding it leaves a list that is still whole.
        self.dependencies.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Dependency {
    pub fn up(&self) {
        *self.slot() = None;
    }

    pub fn down(&self, problem: impl std::fmt::Display) {
        *self.slot() = Some(problem.to_string());
    }

    pub fn problem(&self) -> Option<String> {
        self.slot().clone()
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.problem.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dependency_is_down_until_marked_up_and_after_marked_down() {
        let readiness = Readiness::default();
        let store = readiness.dependency("clickhouse");
        assert_eq!(
            readiness.problems(),
            vec![("clickhouse", "not reached yet".to_string())]
        );
        store.up();
        assert_eq!(readiness.problems(), vec![]);
        store.down("connection refused");
        assert_eq!(
            readiness.problems(),
            vec![("clickhouse", "connection refused".to_string())]
        );
    }
}
