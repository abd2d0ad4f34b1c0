//! The bucket, through aws-sdk-s3: presigned uploads and views, and what the
//! processing worker reads and writes. The same code talks to AWS and to any
//! S3-compatible store (`S3_ENDPOINT`, path-style URLs); development and tests
//! run s3s-fs, which checks signatures and expiry as S3 does.

use std::time::Duration;

use anyhow::Context;
use aws_sdk_s3::config::{
    BehaviorVersion, Builder, Credentials, Region, RequestChecksumCalculation,
    ResponseChecksumValidation,
};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use crate::settings::StoreSettings;

/// A presigned upload: where to PUT and the headers the signature covers.
pub struct PresignedUpload {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct ObjectStore {
    client: Client,
    bucket: String,
}

impl ObjectStore {
    pub fn new(settings: &StoreSettings) -> Self {
        let credentials = Credentials::new(
            &settings.access_key_id,
            &settings.secret_access_key,
            None,
            None,
            "nova-media-settings",
        );
        let mut config = Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(settings.force_path_style)
            // A presigned PUT must not carry a checksum of an empty body, and a
            // ranged read has no whole-object checksum to compare.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint);
        }
        Self {
            client: Client::from_conf(config.build()),
            bucket: settings.bucket.clone(),
        }
    }

    /// Make sure the bucket is there; create it when `create` says so.
    pub async fn ensure_bucket(&self, create: bool) -> anyhow::Result<()> {
        let head = self.client.head_bucket().bucket(&self.bucket).send().await;
        match head {
            Ok(_) => Ok(()),
            Err(error)
                if create && error.raw_response().map(|r| r.status().as_u16()) == Some(404) =>
            {
                self.client
                    .create_bucket()
                    .bucket(&self.bucket)
                    .send()
                    .await
                    .with_context(|| format!("creating bucket {}", self.bucket))?;
                tracing::info!(bucket = %self.bucket, "created the media bucket");
                Ok(())
            }
            Err(error) => Err(anyhow::Error::new(error))
                .with_context(|| format!("the media bucket {} cannot be reached", self.bucket)),
        }
    }

    /// A PUT URL for exactly this content type and length, valid for `ttl`.
    pub async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        byte_size: i64,
        ttl: Duration,
    ) -> anyhow::Result<PresignedUpload> {
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(byte_size)
            .presigned(PresigningConfig::expires_in(ttl)?)
            .await?;
        Ok(PresignedUpload {
            url: presigned.uri().to_string(),
            headers: presigned
                .headers()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        })
    }

    /// A GET URL valid for `ttl`: objects are never public.
    pub async fn presign_view(&self, key: &str, ttl: Duration) -> anyhow::Result<String> {
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(PresigningConfig::expires_in(ttl)?)
            .await?;
        Ok(presigned.uri().to_string())
    }

    /// The object's size, or None when there is no such object.
    pub async fn size_of(&self, key: &str) -> anyhow::Result<Option<i64>> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match head {
            Ok(output) => Ok(Some(output.content_length().unwrap_or(0))),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// The first `length` bytes of the object (fewer when it is shorter).
    pub async fn first_bytes(&self, key: &str, length: u64) -> anyhow::Result<Vec<u8>> {
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=0-{}", length.saturating_sub(1)))
            .send()
            .await?;
        Ok(output.body.collect().await?.into_bytes().to_vec())
    }

    /// A GET of the whole object, refused when it holds more than `max` bytes.
    async fn get_at_most(
        &self,
        key: &str,
        max: u64,
    ) -> anyhow::Result<aws_sdk_s3::operation::get_object::GetObjectOutput> {
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        let length = u64::try_from(output.content_length().unwrap_or(0)).unwrap_or(0);
        anyhow::ensure!(
            length <= max,
            "object {key} holds {length} bytes, over {max}"
        );
        Ok(output)
    }

    /// The whole object; refused when it holds more than `max` bytes.
    pub async fn read(&self, key: &str, max: u64) -> anyhow::Result<Vec<u8>> {
        let output = self.get_at_most(key, max).await?;
        Ok(output.body.collect().await?.into_bytes().to_vec())
    }

    /// The whole object into `file`, streamed; refused when it holds more
    /// than `max` bytes.
    pub async fn download(
        &self,
        key: &str,
        file: &std::path::Path,
        max: u64,
    ) -> anyhow::Result<()> {
        let mut body = self.get_at_most(key, max).await?.body.into_async_read();
        let mut out = tokio::fs::File::create(file).await?;
        tokio::io::copy(&mut body, &mut out).await?;
        Ok(())
    }

    /// Store the file at `path` as `key`, streamed.
    pub async fn write_file(
        &self,
        key: &str,
        content_type: &str,
        path: &std::path::Path,
    ) -> anyhow::Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from_path(path).await?)
            .send()
            .await?;
        Ok(())
    }

    pub async fn write(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await?;
        Ok(())
    }

    /// Remove objects; a key already gone is not an error.
    pub async fn delete(&self, keys: &[String]) -> anyhow::Result<()> {
        for key in keys {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await?;
        }
        Ok(())
    }
}
