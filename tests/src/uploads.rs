//! Uploading media as a client does: an intent through the router, a real
//! HTTP PUT of the bytes to the presigned URL on the stack's S3 store, then
//! `completeUpload`, then polling `media(id)`.

use std::path::PathBuf;

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
        let response = self
            .upload_intent(token, "IMAGE", content_type, byte_size)
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
}
