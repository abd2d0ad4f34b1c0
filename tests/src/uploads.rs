//! Uploading media as a client does: an intent through the router, a real
//! HTTP PUT of the bytes to the presigned URL on the stack's S3 store, then
//! `completeUpload`, then polling `media(id)`.

use std::io::Cursor;
use std::path::PathBuf;

use exif::experimental::Writer;
use exif::{Field, In, Rational, Tag, Value as ExifValue};
use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use serde_json::{json, Value};

use crate::{eventually, Response, Stack};

const INTENT: &str = "mutation($kind: MediaKind!, $type: String!, $size: Int!) {
  createUploadIntent(kind: $kind, contentType: $type, byteSize: $size) {
    media { id status } uploadUrl requiredHeaders { name value } expiresAt
  }
}";
const COMPLETE: &str =
    "mutation($id: ID!) { completeUpload(mediaId: $id) { id status contentType } }";
const MEDIA: &str = "query($id: ID!) {
  media(id: $id) { id kind status failureReason contentType width height
                   variants { width height contentType url } }
}";

/// A JPEG as a phone writes it: `width` × `height` pixels stored sideways
/// (EXIF orientation 6: show it turned 90° clockwise) and a GPS position.
pub fn phone_photo(width: u32, height: u32) -> Vec<u8> {
    let pixels = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    });
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&pixels)
        .unwrap();
    let field = |tag, value| Field {
        tag,
        ifd_num: In::PRIMARY,
        value,
    };
    let degrees = |d: u32| Rational { num: d, denom: 1 };
    let fields = [
        field(Tag::Orientation, ExifValue::Short(vec![6])),
        field(Tag::GPSLatitudeRef, ExifValue::Ascii(vec![b"N".to_vec()])),
        field(
            Tag::GPSLatitude,
            ExifValue::Rational(vec![degrees(47), degrees(22), degrees(0)]),
        ),
    ];
    let mut writer = Writer::new();
    for field in &fields {
        writer.push_field(field);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();
    let tiff = tiff.into_inner();
    // APP1 "Exif" right after the start-of-image marker, where cameras put it.
    let mut photo = jpeg[..2].to_vec();
    photo.extend([0xFF, 0xE1]);
    photo.extend(u16::try_from(2 + 6 + tiff.len()).unwrap().to_be_bytes());
    photo.extend(b"Exif\0\0");
    photo.extend(&tiff);
    photo.extend(&jpeg[2..]);
    photo
}

/// An upload URL and the headers its signature covers.
pub struct Intent {
    pub media_id: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Stack {
    pub async fn upload_intent(
        &self,
        token: &str,
        kind: &str,
        content_type: &str,
        byte_size: usize,
    ) -> Response {
        self.graphql(
            Some(token),
            INTENT,
            json!({ "kind": kind, "type": content_type, "size": byte_size }),
        )
        .await
    }

    /// An image intent that must be granted.
    pub async fn image_intent(&self, token: &str, content_type: &str, byte_size: usize) -> Intent {
        self.granted_intent(token, "IMAGE", content_type, byte_size)
            .await
    }

    /// An intent of `kind` that must be granted.
    pub async fn granted_intent(
        &self,
        token: &str,
        kind: &str,
        content_type: &str,
        byte_size: usize,
    ) -> Intent {
        let response = self
            .upload_intent(token, kind, content_type, byte_size)
            .await;
        let intent = &response.expect_ok()["createUploadIntent"];
        assert_eq!(intent["media"]["status"], "AWAITING_UPLOAD");
        Intent {
            media_id: intent["media"]["id"].as_str().expect("an id").into(),
            url: intent["uploadUrl"].as_str().expect("a URL").into(),
            headers: intent["requiredHeaders"]
                .as_array()
                .expect("headers")
                .iter()
                .map(|h| {
                    let text = |v: &Value| v.as_str().expect("a string").to_string();
                    (text(&h["name"]), text(&h["value"]))
                })
                .collect(),
            expires_at: intent["expiresAt"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .expect("expiresAt"),
        }
    }

    /// PUT `bytes` to `url` with `headers`, as a browser's fetch would: the
    /// Content-Length is the body's (a page cannot set it); the status.
    pub async fn put_object(&self, url: &str, headers: &[(String, String)], bytes: Vec<u8>) -> u16 {
        let mut request = self.http.put(url).body(bytes);
        for (name, value) in headers {
            if !name.eq_ignore_ascii_case("content-length") {
                request = request.header(name, value);
            }
        }
        request
            .send()
            .await
            .expect("the store answers")
            .status()
            .as_u16()
    }

    pub async fn complete_upload(&self, token: &str, media_id: &str) -> Response {
        self.graphql(Some(token), COMPLETE, json!({ "id": media_id }))
            .await
    }

    pub async fn media(&self, token: Option<&str>, media_id: &str) -> Value {
        let response = self.graphql(token, MEDIA, json!({ "id": media_id })).await;
        response.expect_ok()["media"].clone()
    }

    /// Poll `media(id)` as its owner until its status is no longer
    /// PROCESSING (60 s at most); the media then.
    pub async fn processed_media(&self, token: &str, media_id: &str) -> Value {
        eventually(60, "processing finished", self, || async {
            self.media(Some(token), media_id).await["status"] != "PROCESSING"
        })
        .await;
        self.media(Some(token), media_id).await
    }

    /// Upload `bytes` as an image all the way to READY; the media.
    pub async fn upload_image(&self, token: &str, content_type: &str, bytes: Vec<u8>) -> Value {
        let intent = self.image_intent(token, content_type, bytes.len()).await;
        let status = self.put_object(&intent.url, &intent.headers, bytes).await;
        assert_eq!(status, 200, "the store takes the upload");
        self.complete_upload(token, &intent.media_id)
            .await
            .expect_ok();
        let media = self.processed_media(token, &intent.media_id).await;
        assert_eq!(media["status"], "READY", "{media}");
        media
    }

    /// Where the stack's S3 store keeps bucket `nova-media`'s objects.
    pub fn bucket_folder(&self) -> PathBuf {
        self.s3.folder.join(crate::processes::S3_BUCKET)
    }

    /// The paths of the files in the bucket's folder, at any depth.
    pub fn bucket_files(&self) -> Vec<String> {
        fn walk(dir: &std::path::Path, files: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, files);
                } else {
                    files.push(path.display().to_string());
                }
            }
        }
        let mut files = Vec::new();
        walk(&self.bucket_folder(), &mut files);
        files
    }
}
