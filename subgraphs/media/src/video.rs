//! What a video upload becomes, through Debian's ffmpeg: its duration and
//! upright size (ffprobe), a poster frame made into the same JPEG variants as
//! an image, and a copy of the streams without the container's metadata (an
//! MP4 from a phone carries its GPS position in a `location` tag). Nothing is
//! re-encoded: the streams are copied.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

use crate::processing::{process_image, ProcessedImage, Refused};
use crate::settings::Limits;

/// How long one ffprobe or ffmpeg run may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

pub struct ProcessedVideo {
    pub width: u32,
    pub height: u32,
    pub duration_ms: i64,
    /// The poster frame's variants.
    pub poster: ProcessedImage,
    /// A file holding the streams in a container without metadata (the
    /// caller removes it).
    pub clean: std::path::PathBuf,
}

/// A tool's failure: refused for good (it could not read the file) or an
/// outage of the machine (it could not be started, or ran out of time).
pub enum VideoError {
    Refused(Refused),
    Outage(anyhow::Error),
}

impl From<Refused> for VideoError {
    fn from(refused: Refused) -> Self {
        VideoError::Refused(refused)
    }
}

#[derive(Deserialize)]
struct Probe {
    format: Option<ProbeFormat>,
}

#[derive(Deserialize)]
struct ProbeFormat {
    duration: Option<String>,
}

fn unreadable() -> VideoError {
    VideoError::Refused(Refused("the file is not a readable video".into()))
}

/// Run a tool; its standard output, or why not.
async fn run(program: &str, arguments: &[&str]) -> Result<Vec<u8>, VideoError> {
    let child = Command::new(program)
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| VideoError::Outage(anyhow::anyhow!("{program} could not start: {e}")))?;
    let output = tokio::time::timeout(TOOL_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| VideoError::Outage(anyhow::anyhow!("{program} ran over {TOOL_TIMEOUT:?}")))?
        .map_err(|e| VideoError::Outage(e.into()))?;
    if !output.status.success() {
        tracing::info!(
            program,
            stderr = %String::from_utf8_lossy(&output.stderr),
            "video tool refused the file"
        );
        return Err(unreadable());
    }
    Ok(output.stdout)
}

/// Probe, take the poster frame, copy the streams without metadata.
/// `file` holds the upload; `format` is ffmpeg's muxer for its type.
pub async fn process_video(
    file: &Path,
    format: &str,
    limits: &Limits,
) -> Result<ProcessedVideo, VideoError> {
    let path = file.to_str().ok_or_else(unreadable)?;
    let probe = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "json",
            path,
        ],
    )
    .await?;
    let probe: Probe = serde_json::from_slice(&probe).map_err(|_| unreadable())?;
    let seconds: f64 = probe
        .format
        .and_then(|f| f.duration)
        .and_then(|d| d.parse().ok())
        .ok_or_else(unreadable)?;
    // The first frame, turned upright as players show it (ffmpeg applies the
    // rotation by default), as PNG: the image path makes its variants.
    let poster = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            path,
            "-frames:v",
            "1",
            "-f",
            "image2",
            "-c:v",
            "png",
            "pipe:1",
        ],
    )
    .await?;
    if poster.is_empty() {
        return Err(unreadable());
    }
    let limits_for_poster = limits.clone();
    let poster = tokio::task::spawn_blocking(move || process_image(&poster, &limits_for_poster))
        .await
        .map_err(|e| VideoError::Outage(e.into()))??;
    let clean_path = format!("{path}.clean");
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-i",
            path,
            "-map",
            "0",
            "-c",
            "copy",
            "-map_metadata",
            "-1",
            "-f",
            format,
            &clean_path,
        ],
    )
    .await?;
    let clean = std::path::PathBuf::from(clean_path);
    Ok(ProcessedVideo {
        width: poster.width,
        height: poster.height,
        duration_ms: (seconds * 1000.0).round() as i64,
        poster,
        clean,
    })
}

/// ffmpeg's muxer for an accepted video type.
pub fn muxer(content_type: &str) -> Option<&'static str> {
    match content_type {
        "video/mp4" => Some("mp4"),
        "video/webm" => Some("webm"),
        _ => None,
    }
}
