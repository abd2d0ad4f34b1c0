//! `cargo xtask bench media`: photo uploads end to end on the release bench
//! stack (ports 14000+, every router policy on, s3s-fs on 14900), the way an app
//! uploads: `CreateUploadIntent` → PUT to the presigned URL → `CompleteUpload` →
//! `MediaStatus` polled until READY, all through the router by persisted ids.
//!
//! The photo is a 12-megapixel JPEG (4000 × 3000, noise over a test pattern so
//! it compresses like a photo, about 5 MB) made once by ffmpeg.
//!
//! 1. One upload at a time: each photo's time to READY with nothing queued
//!    (the target: p99 under 1.5 s).
//! 2. `--clients` clients uploading at once: uploads per second, and the time
//!    to READY when uploads queue for the worker.
//!
//! For each run: client-side phases (intent to READY, the PUT), and the
//! database's own `completed_at → processed_at` (relay, broker, worker, variant
//! uploads), then the media process's peak resident memory (`VmHWM`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use serde_json::json;

use crate::bench_stack::{on_bench_stack, persisted_as, sign_up, Data, BENCH};
use crate::load::{histogram, ms};
use crate::postgres::{self, Postgres};
use crate::stack::{self, State};

#[derive(clap::Args)]
pub struct Options {
    /// Uploads one after another (time to READY without queueing).
    #[arg(long, default_value_t = 30)]
    sequential: usize,
    /// Uploads sent by `--clients` clients at once (uploads per second).
    #[arg(long, default_value_t = 40)]
    concurrent: usize,
    /// Clients uploading at once in the second run.
    #[arg(long, default_value_t = 4)]
    clients: usize,
}

/// An upload still PROCESSING after this long fails the bench.
const READY_WITHIN: Duration = Duration::from_secs(60);
/// How often a client asks for the status while it waits for READY.
const POLL_EVERY: Duration = Duration::from_millis(10);

pub fn bench(root: &Path, options: Options) -> Result<()> {
    let Options {
        sequential,
        concurrent,
        clients,
    } = options;
    if sequential < 1 || concurrent < 1 || clients < 1 {
        bail!("--sequential, --concurrent and --clients must be at least 1");
    }
    on_bench_stack(root, Data::Fresh, |bench_stack| {
        bench_stack.start(root, &bench_stack.services)?;
        let (state, pg) = (bench_stack.state, bench_stack.pg);
        let photo = twelve_megapixel_photo(state)?;
        println!(
            "photo: 4000 × 3000 JPEG, {:.1} MB",
            photo.len() as f64 / 1e6
        );
        let uploader = sign_up(root, &format!("uploader{}", std::process::id()))?;
        let before = media_memory_kib(state, "VmRSS", |s| s.vmrss)?;
        println!("media resident before uploading: {:.0} MiB", mib(before));

        let one_at_a_time = upload_all(root, &uploader.token, &photo, sequential, 1)?;
        one_at_a_time.report(pg, "one at a time")?;
        let at_once = upload_all(root, &uploader.token, &photo, concurrent, clients)?;
        at_once.report(pg, &format!("{clients} clients at once"))?;

        let peak = media_memory_kib(state, "VmHWM", |s| s.vmhwm)?;
        println!(
            "media peak resident (VmHWM) over both runs: {:.0} MiB ({:.0} MiB above its resident size before uploading)",
            mib(peak),
            mib(peak.saturating_sub(before))
        );
        Ok(())
    })
}

/// Make the bench photo with ffmpeg (installed with the bench stack).
fn twelve_megapixel_photo(state: &State) -> Result<Vec<u8>> {
    let path: PathBuf = state.dir.join("bench-photo-12mp.jpg");
    stack::run(
        std::process::Command::new("ffmpeg")
            .args([
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=4000x3000:rate=1,noise=alls=20:allf=t",
                "-frames:v",
                "1",
                "-q:v",
                "3",
            ])
            .arg(&path),
    )?;
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

/// What one upload took, as its client saw it.
struct Upload {
    media_id: uuid::Uuid,
    /// From asking for the intent to seeing READY.
    to_ready: Duration,
    /// The PUT of the bytes to the store.
    put: Duration,
}

/// One run: every upload and the run's wall time.
struct Run {
    uploads: Vec<Upload>,
    elapsed: Duration,
}

/// `count` uploads of `photo`, `clients` at a time, each client one after another.
fn upload_all(root: &Path, token: &str, photo: &[u8], count: usize, clients: usize) -> Result<Run> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let per_client: Vec<Result<Vec<Upload>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| {
                    let mut uploads = Vec::new();
                    while next.fetch_add(1, Ordering::SeqCst) < count {
                        uploads.push(upload(root, token, photo)?);
                    }
                    Ok(uploads)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("an upload client panicked"))
            .collect()
    });
    let elapsed = started.elapsed();
    let mut uploads = Vec::with_capacity(count);
    for client in per_client {
        uploads.extend(client?);
    }
    Ok(Run { uploads, elapsed })
}

fn upload(root: &Path, token: &str, photo: &[u8]) -> Result<Upload> {
    let started = Instant::now();
    let intent = persisted_as(
        root,
        "CreateUploadIntent",
        json!({ "kind": "IMAGE", "contentType": "image/jpeg", "byteSize": photo.len() }),
        Some(token),
    )?;
    let intent = &intent["createUploadIntent"];
    let media_id: uuid::Uuid = intent["media"]["id"]
        .as_str()
        .context("the intent has no media id")?
        .parse()?;
    let put_started = Instant::now();
    put(intent, photo)?;
    let put = put_started.elapsed();
    let completed = persisted_as(
        root,
        "CompleteUpload",
        json!({ "mediaId": media_id }),
        Some(token),
    )?;
    if completed["completeUpload"]["status"] != "PROCESSING" {
        bail!("completeUpload answered {completed}");
    }
    loop {
        let status = persisted_as(root, "MediaStatus", json!({ "id": media_id }), Some(token))?;
        match status["media"]["status"].as_str() {
            Some("READY") => break,
            Some("PROCESSING") => {}
            _ => bail!("media {media_id} did not become READY: {status}"),
        }
        if started.elapsed() > READY_WITHIN {
            bail!("media {media_id} still PROCESSING after {READY_WITHIN:?}");
        }
        std::thread::sleep(POLL_EVERY);
    }
    Ok(Upload {
        media_id,
        to_ready: started.elapsed(),
        put,
    })
}

/// PUT `photo` to the intent's presigned URL with its required headers (the
/// HTTP client writes Content-Length itself, from the body).
fn put(intent: &serde_json::Value, photo: &[u8]) -> Result<()> {
    let url = intent["uploadUrl"].as_str().context("no uploadUrl")?;
    let mut request = ureq::http::Request::builder().method("PUT").uri(url);
    for header in intent["requiredHeaders"].as_array().into_iter().flatten() {
        let name = header["name"].as_str().context("a header without a name")?;
        let value = header["value"]
            .as_str()
            .context("a header without a value")?;
        if !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name, value);
        }
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent.run(request.body(photo.to_vec())?)?;
    if response.status() != 200 {
        bail!("the store answered the PUT with {}", response.status());
    }
    Ok(())
}

impl Run {
    fn report(&self, pg: &Postgres, name: &str) -> Result<()> {
        let seconds = self.elapsed.as_secs_f64();
        let to_ready = micros(self.uploads.iter().map(|upload| upload.to_ready))?;
        let put = micros(self.uploads.iter().map(|upload| upload.put))?;
        let processed = micros(processing_times(pg, &self.uploads)?.into_iter())?;
        println!(
            "{name}: {} uploads in {seconds:.1} s: {:.2} uploads/s",
            self.uploads.len(),
            self.uploads.len() as f64 / seconds
        );
        for (what, histogram) in [
            ("intent → READY seen", &to_ready),
            ("PUT of the bytes", &put),
            ("completed → processed (database)", &processed),
        ] {
            println!(
                "  {what:<34} p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
                ms(histogram, 0.5),
                ms(histogram, 0.99),
                histogram.max() as f64 / 1000.0
            );
        }
        Ok(())
    }
}

fn micros(durations: impl Iterator<Item = Duration>) -> Result<Histogram<u64>> {
    let mut histogram = histogram();
    for duration in durations {
        histogram.record(u64::try_from(duration.as_micros())?)?;
    }
    Ok(histogram)
}

/// The database's `processed_at - completed_at` of each upload: what the
/// service took from the client's completeUpload to READY.
fn processing_times(pg: &Postgres, uploads: &[Upload]) -> Result<Vec<Duration>> {
    let ids: Vec<String> = uploads
        .iter()
        .map(|upload| format!("'{}'", upload.media_id))
        .collect();
    let query = format!(
        "SELECT (extract(epoch FROM processed_at - completed_at) * 1e6)::bigint \
         FROM media WHERE status = 'ready' AND media_id IN ({})",
        ids.join(", ")
    );
    let times: Vec<i64> = postgres::column(pg, &BENCH.database("media"), &query)?;
    if times.len() != uploads.len() {
        bail!(
            "{} of {} uploads are READY in the database",
            times.len(),
            uploads.len()
        );
    }
    times
        .into_iter()
        .map(|micros| Ok(Duration::from_micros(u64::try_from(micros)?)))
        .collect()
}

/// A memory figure of the bench's media process, in KiB: `VmRSS` or `VmHWM`
/// (`field` picks it from its status).
fn media_memory_kib(
    state: &State,
    name: &str,
    field: fn(&procfs::process::Status) -> Option<u64>,
) -> Result<u64> {
    let process = format!("{}media", BENCH.name_prefix);
    field(&stack::process_status(state, &process)?)
        .with_context(|| format!("no {name} in the status of {process}"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
