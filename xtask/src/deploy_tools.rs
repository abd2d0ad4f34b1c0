//! The tools the deployment files are checked with (`tests/tests/deploy_*.rs`
//! runs them), installed once when missing, like the other tools of the stack:
//! - promtool (Debian's `prometheus` package) for `deploy/prometheus`;
//! - from PyPI, in a virtualenv under the tools folder: check-jsonschema with
//!   the Compose specification's JSON schema, taken from Docker's own
//!   `docker-compose` 1.29.2 package (`compose/config/compose_spec.json`), for
//!   `compose.yaml`; helm-python-sdk (renders and lints `helm/nova` with Helm's
//!   Go SDK, no helm binary), kubernetes-validate and checkov for the chart.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use nova_devdb::tools::tools_dir;

use crate::stack::{apt_install, run};

const PROMTOOL: &str = "/usr/bin/promtool";
/// The checkers, pinned: the Compose file against its schema; the Helm chart
/// rendered and linted without a helm binary (Helm 4's SDK), its objects against
/// the Kubernetes schemas, and the policy scanner.
const PYTHON_CHECKERS: [&str; 4] = [
    "check-jsonschema==0.39.0",
    "helm-python-sdk==0.2.2",
    "kubernetes-validate==1.37.0",
    "checkov==3.3.30",
];
/// The PyPI package that carries the Compose specification's schema.
const COMPOSE_SPEC_PACKAGE: &str = "docker-compose==1.29.2";
const COMPOSE_SPEC_IN_PACKAGE: &str = "compose/config/compose_spec.json";

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// promtool's path; Debian's `prometheus` package is installed the first time
/// (its service is not started: promtool is all Nova uses of it).
pub fn promtool() -> Result<PathBuf> {
    if !runs(PROMTOOL, "--version") {
        println!("promtool is not installed; installing Debian's prometheus package");
        apt_install(&["prometheus"])?;
        if !runs(PROMTOOL, "--version") {
            bail!("the prometheus package is installed but {PROMTOOL} does not run");
        }
    }
    Ok(PathBuf::from(PROMTOOL))
}

/// The virtualenv the Python checkers live in, created the first time.
fn python_env() -> Result<PathBuf> {
    let venv = tools_dir().join("deploy-checks");
    let python = venv.join("bin/python");
    if runs(&python.display().to_string(), "--version") {
        return Ok(venv);
    }
    if !runs("python3", "--version")
        || !Command::new("python3")
            .args(["-c", "import venv, ensurepip"])
            .status()
            .is_ok_and(|status| status.success())
    {
        apt_install(&["python3", "python3-venv"])?;
    }
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    Ok(venv)
}

/// The folder of the Python checkers' commands (`check-jsonschema`,
/// `kubernetes-validate`, `checkov`, and `python` with helm-python-sdk),
/// installed into the virtualenv when it does not hold exactly `PYTHON_CHECKERS`.
pub fn python_checkers() -> Result<PathBuf> {
    let venv = python_env()?;
    let installed = venv.join("nova-requirements.txt");
    let wanted = PYTHON_CHECKERS.join("\n");
    if std::fs::read_to_string(&installed).ok().as_deref() != Some(wanted.as_str()) {
        println!("installing {} from PyPI", PYTHON_CHECKERS.join(", "));
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet"])
            .args(PYTHON_CHECKERS))?;
        std::fs::write(&installed, &wanted)?;
    }
    Ok(venv.join("bin"))
}

/// The Compose specification's JSON schema, fetched from PyPI the first time.
pub fn compose_schema() -> Result<PathBuf> {
    let schema = tools_dir().join("schemas/compose_spec.json");
    if schema.exists() {
        return Ok(schema);
    }
    let venv = python_env()?;
    let download = tools_dir().join("schemas/download");
    std::fs::create_dir_all(&download)?;
    println!("fetching the Compose specification's schema from {COMPOSE_SPEC_PACKAGE} (PyPI)");
    run(Command::new(venv.join("bin/pip"))
        .args(["download", "--quiet", "--no-deps", "--dest"])
        .arg(&download)
        .arg(COMPOSE_SPEC_PACKAGE))?;
    let wheel = std::fs::read_dir(&download)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .with_context(|| format!("no wheel of {COMPOSE_SPEC_PACKAGE} downloaded"))?;
    // A wheel is a zip file; the virtualenv's Python reads it.
    run(Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import sys, zipfile; open(sys.argv[3], 'wb').write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))",
        ])
        .arg(&wheel)
        .arg(COMPOSE_SPEC_IN_PACKAGE)
        .arg(&schema))?;
    std::fs::remove_dir_all(&download)?;
    Ok(schema)
}
