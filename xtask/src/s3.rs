//! A real local S3 store for media: s3s-fs (crates.io, built once like tansu)
//! serves the S3 API over a folder and checks SigV4 signatures and expiry, so a
//! tampered or expired presigned URL is refused as AWS would refuse it. The
//! credentials are generated once into `.nova/secrets.env`; media creates its
//! bucket at start (`S3_CREATE_BUCKET`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::stack::{secret, start_background, stop_process, wait_listening, Layout, State};
use crate::tools::{installed, Tool};

const S3S_FS: Tool = Tool {
    package: "s3s-fs",
    // 0.15 and later need rustc 1.96.
    version: "0.14.1",
    features: "binary",
    default_features: true,
    binary: "s3s-fs",
    locked: true,
};

/// The bucket media keeps its objects in, in every local stack.
pub const BUCKET: &str = "nova-media";

/// The s3s-fs binary; built with `cargo install` the first time (a few minutes).
pub fn server(root: &Path) -> Result<PathBuf> {
    installed(root, &S3S_FS)
}

/// A local store's access key and secret key.
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
}

pub fn credentials(state: &State) -> Result<Credentials> {
    Ok(Credentials {
        access_key: secret(state, "S3_ACCESS_KEY_ID")?,
        secret_key: secret(state, "S3_SECRET_ACCESS_KEY")?,
    })
}

/// The arguments of a store on 127.0.0.1:`port` keeping its objects in `folder`.
pub fn arguments(port: u16, folder: &Path, credentials: &Credentials) -> Vec<String> {
    vec![
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--access-key".into(),
        credentials.access_key.clone(),
        "--secret-key".into(),
        credentials.secret_key.clone(),
        folder.display().to_string(),
    ]
}

/// media's settings for the store on `port`.
pub fn media_env(port: u16, credentials: &Credentials) -> Vec<(&'static str, String)> {
    vec![
        ("S3_ENDPOINT", format!("http://127.0.0.1:{port}")),
        ("S3_FORCE_PATH_STYLE", "true".into()),
        ("S3_CREATE_BUCKET", "true".into()),
        ("S3_BUCKET", BUCKET.into()),
        ("S3_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", credentials.access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", credentials.secret_key.clone()),
    ]
}

/// The folder of a layout's store.
pub fn folder(state: &State, layout: &Layout) -> PathBuf {
    state.dir.join(format!("{}s3", layout.name_prefix))
}

fn process(layout: &Layout) -> String {
    format!("{}s3", layout.name_prefix)
}

pub fn ensure_running(state: &State, root: &Path, layout: &Layout) -> Result<()> {
    let folder = folder(state, layout);
    std::fs::create_dir_all(&folder)?;
    let mut command = Command::new(server(root)?);
    command
        .args(arguments(layout.s3_port, &folder, &credentials(state)?))
        .current_dir(&state.dir);
    start_background(state, &process(layout), command)?;
    wait_listening("S3", layout.s3_port, Duration::from_secs(20))
}

pub fn stop(state: &State, layout: &Layout) -> Result<()> {
    stop_process(state, &process(layout))
}
