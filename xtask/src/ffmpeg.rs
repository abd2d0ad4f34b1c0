//! Debian's ffmpeg, which media's worker runs for videos (duration, poster
//! frame, a copy without metadata): installed when missing, like the other
//! Debian packages the stack needs.

use std::process::Command;

use anyhow::{bail, Result};

use crate::stack::apt_install;

fn installed() -> bool {
    ["ffmpeg", "ffprobe"].iter().all(|tool| {
        Command::new(tool)
            .arg("-version")
            .output()
            .is_ok_and(|output| output.status.success())
    })
}

pub fn ensure_installed() -> Result<()> {
    if installed() {
        return Ok(());
    }
    println!("ffmpeg is not installed; installing Debian's ffmpeg package");
    apt_install(&["ffmpeg"])?;
    if !installed() {
        bail!("ffmpeg installed but ffmpeg or ffprobe does not run");
    }
    Ok(())
}
