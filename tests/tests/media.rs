//! Media uploads as a client makes them, through the router and with real HTTP
//! PUTs to the stack's S3 store (s3s-fs): a phone photo with GPS EXIF becomes
//! upright variants without metadata; the store refuses tampered and expired
//! URLs; every bad input is a clear error and leaves nothing half-made.

use std::io::Cursor;
use std::time::Duration;

use exif::{In, Tag};
use nova_e2e::{phone_photo, Stack};

fn has_gps(bytes: &[u8]) -> bool {
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .is_ok_and(|exif| exif.get_field(Tag::GPSLatitude, In::PRIMARY).is_some())
}

fn has_exif(bytes: &[u8]) -> bool {
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .is_ok()
}

/// A valid PNG header declaring 20 000 × 20 000 px in about 60 bytes.
fn png_bomb() -> Vec<u8> {
    fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        png.extend(u32::try_from(data.len()).unwrap().to_be_bytes());
        png.extend(kind);
        png.extend(data);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        png.extend(crc.finalize().to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend(20_000u32.to_be_bytes());
    header.extend(20_000u32.to_be_bytes());
    header.extend([8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &header);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

fn variant_sizes(media: &serde_json::Value) -> Vec<(u64, u64)> {
    media["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| (v["width"].as_u64().unwrap(), v["height"].as_u64().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_phone_photo_becomes_upright_variants_without_its_location() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (_, token) = stack.sign_up("ann").await;
    let photo = phone_photo(1600, 1200);
    assert!(has_gps(&photo), "the test photo carries GPS");

    let media = stack.upload_image(&token, "image/jpeg", photo).await;
    assert_eq!(media["contentType"], "image/jpeg");
    // Stored sideways, shown upright.
    assert_eq!(
        (media["width"].as_u64(), media["height"].as_u64()),
        (Some(1200), Some(1600))
    );
    assert_eq!(
        variant_sizes(&media),
        vec![(96, 128), (384, 512), (810, 1080)]
    );
    for variant in media["variants"].as_array().unwrap() {
        let url = variant["url"].as_str().unwrap();
        let fetched = stack.http.get(url).send().await.unwrap();
        assert_eq!(fetched.status(), 200, "{url}");
        let bytes = fetched.bytes().await.unwrap().to_vec();
        assert!(!has_exif(&bytes), "a variant carries no EXIF");
        let decoded = image::load_from_memory(&bytes).expect("a JPEG");
        assert_eq!(
            (u64::from(decoded.width()), u64::from(decoded.height())),
            (
                variant["width"].as_u64().unwrap(),
                variant["height"].as_u64().unwrap()
            )
        );
    }
    // Anyone may see a READY media; an unsigned URL to the object is refused.
    let id = media["id"].as_str().unwrap();
    let (_, bob) = stack.sign_up("bob").await;
    assert_eq!(stack.media(Some(&bob), id).await["status"], "READY");
    let url = media["variants"][0]["url"].as_str().unwrap();
    let unsigned = url.split('?').next().unwrap();
    let refused = stack.http.get(unsigned).send().await.unwrap();
    assert_eq!(refused.status(), 403, "objects are never public");

    // A redelivered media.uploaded (media exits after processing, before its
    // offset is committed) makes no second set of variants.
    let variants = stack.bucket_folder().join("variants");
    stack
        .restart_subgraph(
            "media",
            &[("NOVA_FAULT_EXIT_BEFORE_OFFSET_COMMIT", "media.uploaded")],
        )
        .await
        .unwrap();
    let second = stack
        .image_intent(&token, "image/jpeg", phone_photo(400, 300).len())
        .await;
    let status = stack
        .put_object(&second.url, &second.headers, phone_photo(400, 300))
        .await;
    assert_eq!(status, 200);
    stack
        .complete_upload(&token, &second.media_id)
        .await
        .expect_ok();
    let exit = stack.wait_for_exit("media", Duration::from_secs(60)).await;
    assert_eq!(
        exit,
        Some(86),
        "media processed the upload and stopped before its offset"
    );
    let folder = variants.join(&second.media_id);
    let written = |folder: &std::path::Path| {
        let mut files: Vec<(String, std::time::SystemTime)> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                (
                    entry.file_name().to_string_lossy().into(),
                    entry.metadata().unwrap().modified().unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = written(&folder);
    assert_eq!(before.len(), 2, "{before:?}");
    stack.restart_subgraph("media", &[]).await.unwrap();
    let duplicate =
        "nova_events_consumed_total{consumer=\"media.processor\",outcome=\"duplicate\"}";
    nova_e2e::eventually(60, "the redelivery was seen", &stack, || async {
        stack.metric("media", duplicate).await >= 1.0
    })
    .await;
    assert_eq!(
        written(&folder),
        before,
        "the same three objects, not rewritten"
    );
    let media = stack.processed_media(&token, &second.media_id).await;
    assert_eq!(variant_sizes(&media), vec![(96, 128), (300, 400)]);
}

#[tokio::test]
async fn the_store_refuses_tampered_and_expired_upload_urls() {
    let mut stack = Stack::start().await.expect("stack starts");
    let (_, token) = stack.sign_up("cat").await;
    let photo = phone_photo(64, 48);

    let intent = stack.image_intent(&token, "image/jpeg", photo.len()).await;
    let signature = intent.url.find("X-Amz-Signature=").expect("a signed URL") + 16;
    let mut tampered = intent.url.clone();
    let last = if tampered[signature..].starts_with('0') {
        "1"
    } else {
        "0"
    };
    tampered.replace_range(signature..signature + 1, last);
    assert_eq!(
        stack
            .put_object(&tampered, &intent.headers, photo.clone())
            .await,
        403
    );
    // Another content type than the one signed for.
    let mut headers = intent.headers.clone();
    for (name, value) in &mut headers {
        if name.eq_ignore_ascii_case("content-type") {
            *value = "image/png".into();
        }
    }
    assert_eq!(
        stack.put_object(&intent.url, &headers, photo.clone()).await,
        403
    );
    let nothing = stack.complete_upload(&token, &intent.media_id).await;
    assert_eq!(
        nothing.error_codes(),
        vec!["BAD_USER_INPUT"],
        "nothing uploaded yet"
    );
    // The right bytes still go through the untouched URL.
    let status = stack
        .put_object(&intent.url, &intent.headers, photo.clone())
        .await;
    assert_eq!(status, 200);
    stack
        .complete_upload(&token, &intent.media_id)
        .await
        .expect_ok();

    // More bytes than declared: the length is part of the signature.
    let declared = stack.image_intent(&token, "image/jpeg", photo.len()).await;
    let mut longer = photo.clone();
    longer.extend([0u8; 100]);
    let status = stack
        .put_object(&declared.url, &declared.headers, longer)
        .await;
    assert_eq!(status, 403, "a body longer than signed for is refused");
    let nothing = stack.complete_upload(&token, &declared.media_id).await;
    assert_eq!(nothing.error_codes(), vec!["BAD_USER_INPUT"]);
    let object = stack
        .bucket_folder()
        .join("uploads")
        .join(&declared.media_id);
    assert!(!object.exists(), "nothing was stored");

    stack
        .restart_subgraph(
            "media",
            &[
                ("MEDIA_UPLOAD_URL_TTL_SECONDS", "3"),
                ("MEDIA_ABANDONED_AFTER_SECONDS", "1"),
            ],
        )
        .await
        .unwrap();
    let short = stack.image_intent(&token, "image/jpeg", photo.len()).await;
    assert_eq!(
        stack
            .put_object(&short.url, &short.headers, photo.clone())
            .await,
        200
    );
    let object = stack.bucket_folder().join("uploads").join(&short.media_id);
    assert!(object.exists(), "uploaded, never completed");
    // Wait for the clock to pass the URL's expiry (S3 counts whole seconds).
    nova_e2e::eventually(10, "the upload URL expired", &stack, || async {
        chrono::Utc::now() > short.expires_at + chrono::Duration::seconds(1)
    })
    .await;
    assert_eq!(
        stack.put_object(&short.url, &short.headers, photo).await,
        403
    );
    // The abandoned intent goes, its object with it.
    nova_e2e::eventually(30, "the abandoned upload was removed", &stack, || async {
        !object.exists()
    })
    .await;
    assert!(stack.media(Some(&token), &short.media_id).await.is_null());
    let late = stack.complete_upload(&token, &short.media_id).await;
    assert_eq!(late.error_codes(), vec!["NOT_FOUND"]);
}

#[tokio::test]
async fn bad_uploads_are_clear_errors_and_leave_nothing_half_made() {
    let stack = Stack::start().await.expect("stack starts");
    let (_, token) = stack.sign_up("dan").await;
    let (_, other) = stack.sign_up("eve").await;
    let field = |response: &nova_e2e::Response| {
        (
            response.error_codes(),
            response.body["errors"][0]["extensions"]["field"].clone(),
        )
    };

    let gif = stack.upload_intent(&token, "IMAGE", "image/gif", 100).await;
    assert_eq!(
        field(&gif),
        (vec!["BAD_USER_INPUT".to_string()], "contentType".into())
    );
    let huge = stack
        .upload_intent(&token, "IMAGE", "image/jpeg", 21 * 1024 * 1024)
        .await;
    assert_eq!(
        field(&huge),
        (vec!["BAD_USER_INPUT".to_string()], "byteSize".into())
    );
    let anonymous = stack
        .graphql(
            None,
            "mutation { createUploadIntent(kind: IMAGE, contentType: \"image/png\", byteSize: 10) { uploadUrl } }",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(anonymous.error_codes(), vec!["UNAUTHENTICATED"]);

    // A text file named .png: refused at completion, by its bytes.
    let text = b"just some notes, saved as photo.png".to_vec();
    let intent = stack.image_intent(&token, "image/png", text.len()).await;
    assert_eq!(
        stack.put_object(&intent.url, &intent.headers, text).await,
        200
    );
    let completed = stack.complete_upload(&token, &intent.media_id).await;
    assert_eq!(
        field(&completed),
        (vec!["BAD_USER_INPUT".to_string()], "mediaId".into())
    );
    let media = stack.media(Some(&token), &intent.media_id).await;
    assert_eq!(media["status"], "FAILED");
    assert!(
        media["failureReason"]
            .as_str()
            .unwrap()
            .contains("not of an accepted image type"),
        "{media}"
    );
    let object = stack.bucket_folder().join("uploads").join(&intent.media_id);
    assert!(!object.exists(), "the refused object is removed");

    // Someone else's upload: not theirs to complete, not theirs to see yet.
    let photo = phone_photo(64, 48);
    let mine = stack.image_intent(&token, "image/jpeg", photo.len()).await;
    assert_eq!(stack.put_object(&mine.url, &mine.headers, photo).await, 200);
    let theirs = stack.complete_upload(&other, &mine.media_id).await;
    assert_eq!(theirs.error_codes(), vec!["FORBIDDEN"]);
    assert!(stack.media(Some(&other), &mine.media_id).await.is_null());
    stack
        .complete_upload(&token, &mine.media_id)
        .await
        .expect_ok();
    let twice = stack.complete_upload(&token, &mine.media_id).await;
    assert_eq!(
        field(&twice),
        (vec!["BAD_USER_INPUT".to_string()], "mediaId".into())
    );

    // A truncated JPEG and a decompression bomb pass the type check and fail
    // in processing, with a reason the client can show.
    let mut truncated = phone_photo(640, 480);
    truncated.truncate(truncated.len() / 2);
    let bomb = png_bomb();
    for (bytes, content_type, reason) in [
        (truncated, "image/jpeg", "not a complete, readable image"),
        (bomb, "image/png", "too large"),
    ] {
        let intent = stack.image_intent(&token, content_type, bytes.len()).await;
        assert_eq!(
            stack.put_object(&intent.url, &intent.headers, bytes).await,
            200
        );
        stack
            .complete_upload(&token, &intent.media_id)
            .await
            .expect_ok();
        let media = stack.processed_media(&token, &intent.media_id).await;
        assert_eq!(media["status"], "FAILED", "{content_type}");
        let said = media["failureReason"].as_str().unwrap();
        assert!(said.contains(reason), "{content_type}: {said}");
        assert_eq!(variant_sizes(&media), vec![]);
    }
}
