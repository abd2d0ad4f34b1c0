//! A video upload, as a phone sends it: an MP4 with its recording place in the
//! container's metadata becomes READY with its duration, size and poster frame
//! variants, and the playable copy carries no location.

use std::path::Path;
use std::process::Command;

use nova_e2e::Stack;
use serde_json::json;

/// A 2-second 320 × 240 MP4 with a `location` tag (ffmpeg's test pattern).
fn phone_video(dir: &Path) -> Vec<u8> {
    let path = dir.join("phone.mp4");
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=10",
        ])
        .args([
            "-t",
            "2",
            "-c:v",
            "mpeg4",
            "-metadata",
            "location=+47.3700+008.5400/",
        ])
        .arg(&path)
        .status()
        .expect("ffmpeg runs (cargo xtask test installs it)");
    assert!(status.success());
    std::fs::read(path).unwrap()
}

/// The container's tags, as ffprobe reads them.
fn tags(dir: &Path, bytes: &[u8]) -> serde_json::Value {
    let path = dir.join("probed.mp4");
    std::fs::write(&path, bytes).unwrap();
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format_tags", "-of", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let probe: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    probe["format"]["tags"].clone()
}

#[tokio::test]
async fn a_phone_video_gets_a_poster_and_loses_its_location() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, token) = stack.sign_up("vic").await;
    let dir = stack.state_dir().to_path_buf();
    let video = phone_video(&dir);
    assert!(
        tags(&dir, &video)["location"].is_string(),
        "the test video carries a location"
    );

    let intent = stack
        .granted_intent(&token, "VIDEO", "video/mp4", video.len())
        .await;
    let id = intent.media_id.clone();
    let status = stack.put_object(&intent.url, &intent.headers, video).await;
    assert_eq!(status, 200);
    stack.complete_upload(&token, &id).await.expect_ok();
    stack.processed_media(&token, &id).await;
    let media = stack
        .graphql(
            Some(&token),
            "query($id: ID!) { media(id: $id) { status kind width height durationSeconds
               variants { width height contentType } video { contentType url } } }",
            json!({ "id": id }),
        )
        .await;
    let media = &media.expect_ok()["media"];
    assert_eq!(media["status"], "READY", "{media}");
    assert_eq!(media["kind"], "VIDEO");
    assert_eq!(
        (media["width"].as_u64(), media["height"].as_u64()),
        (Some(320), Some(240))
    );
    let seconds = media["durationSeconds"].as_f64().unwrap();
    assert!((seconds - 2.0).abs() < 0.2, "{seconds}");
    assert_eq!(
        media["variants"],
        json!([
            { "width": 128, "height": 96, "contentType": "image/jpeg" },
            { "width": 320, "height": 240, "contentType": "image/jpeg" }
        ])
    );
    assert_eq!(media["video"]["contentType"], "video/mp4");
    let served = stack
        .http
        .get(media["video"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let served = served.bytes().await.unwrap();
    assert!(
        tags(&dir, &served)["location"].is_null(),
        "no location in the served video"
    );
}

#[tokio::test]
async fn a_text_file_named_mp4_is_refused() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, token) = stack.sign_up("wes").await;
    let text = b"not a video at all, only words".to_vec();
    let intent = stack
        .granted_intent(&token, "VIDEO", "video/mp4", text.len())
        .await;
    let id = intent.media_id.as_str();
    let status = stack.put_object(&intent.url, &intent.headers, text).await;
    assert_eq!(status, 200);
    let refused = stack.complete_upload(&token, id).await;
    assert_eq!(refused.error_codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(stack.media(Some(&token), id).await["status"], "FAILED");
}
