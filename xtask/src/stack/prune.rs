//! Keep the shared target dir from filling the disk.
//!
//! The target dir lives outside the clone (`.ci/run`) so every CI run starts warm.
//! Cargo never deletes an executable: a build whose feature set or lock file
//! differs links a new `deps/<name>-<hash>` beside the old one, and about 25 test
//! executables per build add up (the disk once filled and CI failed). After the
//! test build, the copies of its test executables that this build did not produce
//! are removed. Libraries are left alone: they are small without debug info, and
//! telling a stale one from a live variant needs cargo's own bookkeeping.

use std::collections::HashSet;
use std::io::BufReader;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use cargo_metadata::Message;

/// What one cargo build produced: every executable, and the names of the test
/// executables among them (`<name>-<hash>` in `deps/`).
#[derive(Default)]
pub struct Built {
    executables: Vec<PathBuf>,
    test_names: HashSet<String>,
}

impl Built {
    /// Run a cargo build command (`build`, `test --no-run`), its diagnostics shown
    /// as usual, and record the executables it reports.
    pub fn run(&mut self, command: &mut Command) -> Result<()> {
        command
            .arg("--message-format=json-render-diagnostics")
            .stdout(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        let stdout = child.stdout.take().context("cargo's stdout")?;
        for message in Message::parse_stream(BufReader::new(stdout)) {
            let Message::CompilerArtifact(artifact) = message? else {
                continue;
            };
            let Some(executable) = artifact.executable else {
                continue;
            };
            if artifact.profile.test {
                // Cargo names the file after the target, `-` written as `_`.
                self.test_names
                    .insert(artifact.target.name.replace('-', "_"));
            }
            self.executables.push(executable.into_std_path_buf());
        }
        let status = child.wait()?;
        if !status.success() {
            bail!("{command:?} failed: {status}");
        }
        Ok(())
    }

    /// Remove every `deps/<test name>-<hash>` that is none of the executables built
    /// (a bin's uplifted file is a hard link to its `deps/` copy, hence inodes) nor
    /// the running xtask. Returns the bytes freed.
    pub fn remove_stale_test_executables(&self, deps: &Path) -> Result<u64> {
        // The running xtask by its inode: its file may have been replaced by the
        // build (then `current_exe()` names a deleted file; `/proc/self/exe` still
        // reaches it).
        let running = PathBuf::from("/proc/self/exe");
        let mut kept = HashSet::new();
        for executable in self.executables.iter().chain([&running]) {
            let metadata = std::fs::metadata(executable)
                .with_context(|| format!("reading {}", executable.display()))?;
            kept.insert(metadata.ino());
        }
        let mut freed = 0;
        for entry in std::fs::read_dir(deps).with_context(|| deps.display().to_string())? {
            let entry = entry?;
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                continue;
            };
            let Some((name, hash)) = file_name.rsplit_once('-') else {
                continue;
            };
            let is_hash = hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit());
            if !is_hash || !self.test_names.contains(name) {
                continue;
            }
            let metadata = entry.metadata()?;
            if kept.contains(&metadata.ino()) {
                continue;
            }
            std::fs::remove_file(entry.path())?;
            remove_if_present(&deps.join(format!("{file_name}.d")))?;
            freed += metadata.len();
        }
        Ok(freed)
    }
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
        _ => Ok(()),
    }
}
