//! media's settings, from the environment, checked at start. The store's
//! variables are the seed documents' names (`S3_BUCKET`, `S3_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`) plus `S3_ENDPOINT` and
//! `S3_FORCE_PATH_STYLE` for stores other than AWS.

use std::time::Duration;

use nova_core::config::{optional, parsed_or, required, ConfigError};

/// The longest an upload URL may live: a leaked URL is good for this long at most.
pub const MAX_UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Debug)]
pub struct StoreSettings {
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Another store than AWS (`S3_ENDPOINT`, e.g. `http://127.0.0.1:9000`).
    pub endpoint: Option<String>,
    /// Path-style URLs (`S3_FORCE_PATH_STYLE`): what most non-AWS stores need.
    pub force_path_style: bool,
    /// Create the bucket at start when it is missing (`S3_CREATE_BUCKET`):
    /// development and tests; production buckets are made by their operators.
    pub create_bucket: bool,
}

/// What an upload may be, per kind.
#[derive(Clone, Debug)]
pub struct Limits {
    /// `MEDIA_MAX_IMAGE_BYTES` (20 MiB).
    pub max_image_bytes: i64,
    /// `MEDIA_MAX_VIDEO_BYTES` (200 MiB).
    pub max_video_bytes: i64,
    /// An image wider or taller than this is refused before it is decoded
    /// (`MEDIA_MAX_IMAGE_SIDE`, 12 000 px): a decompression bomb declares a huge
    /// size in a few bytes.
    pub max_image_side: u32,
    /// Memory one decode may allocate (`MEDIA_MAX_DECODE_BYTES`, 512 MiB).
    pub max_decode_bytes: u64,
}

#[derive(Clone, Debug)]
pub struct MediaSettings {
    pub store: StoreSettings,
    pub limits: Limits,
    /// How long an upload URL works (`MEDIA_UPLOAD_URL_TTL_SECONDS`, 900, at most 900).
    pub upload_url_ttl: Duration,
    /// How long a view URL works (`MEDIA_VIEW_URL_TTL_SECONDS`, 300): a deletion
    /// takes effect for everyone within this time.
    pub view_url_ttl: Duration,
    /// Intents never completed are removed, objects included, this long after
    /// their URL expired (`MEDIA_ABANDONED_AFTER_SECONDS`, 3 600).
    pub abandoned_after: Duration,
    /// How long an `exportMyData` archive and its URL live
    /// (`EXPORT_URL_TTL_SECONDS`, 900, at most 3 600); the sweep then deletes it.
    pub export_url_ttl: Duration,
}

fn positive(name: &str, value: u64) -> Result<u64, ConfigError> {
    if value == 0 {
        return Err(ConfigError::Malformed {
            name: name.into(),
            value: "0".into(),
            reason: "must be at least 1".into(),
        });
    }
    Ok(value)
}

impl MediaSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let store = StoreSettings {
            bucket: required(
                "S3_BUCKET",
                "the bucket media keeps uploads and variants in",
            )?,
            region: optional("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
            access_key_id: required("AWS_ACCESS_KEY_ID", "the store's access key")?,
            secret_access_key: required("AWS_SECRET_ACCESS_KEY", "the store's secret key")?,
            endpoint: optional("S3_ENDPOINT"),
            force_path_style: parsed_or("S3_FORCE_PATH_STYLE", false)?,
            create_bucket: parsed_or("S3_CREATE_BUCKET", false)?,
        };
        let limits = Limits {
            max_image_bytes: parsed_or("MEDIA_MAX_IMAGE_BYTES", 20 * 1024 * 1024)?,
            max_video_bytes: parsed_or("MEDIA_MAX_VIDEO_BYTES", 200 * 1024 * 1024)?,
            max_image_side: parsed_or("MEDIA_MAX_IMAGE_SIDE", 12_000)?,
            max_decode_bytes: parsed_or("MEDIA_MAX_DECODE_BYTES", 512 * 1024 * 1024)?,
        };
        let upload_ttl = positive(
            "MEDIA_UPLOAD_URL_TTL_SECONDS",
            parsed_or("MEDIA_UPLOAD_URL_TTL_SECONDS", 900)?,
        )?;
        if upload_ttl > MAX_UPLOAD_URL_TTL.as_secs() {
            return Err(ConfigError::Malformed {
                name: "MEDIA_UPLOAD_URL_TTL_SECONDS".into(),
                value: upload_ttl.to_string(),
                reason: "at most 900 (15 minutes)".into(),
            });
        }
        let view_ttl = positive(
            "MEDIA_VIEW_URL_TTL_SECONDS",
            parsed_or("MEDIA_VIEW_URL_TTL_SECONDS", 300)?,
        )?;
        let abandoned = positive(
            "MEDIA_ABANDONED_AFTER_SECONDS",
            parsed_or("MEDIA_ABANDONED_AFTER_SECONDS", 3600)?,
        )?;
        let export_ttl = positive(
            "EXPORT_URL_TTL_SECONDS",
            parsed_or("EXPORT_URL_TTL_SECONDS", 900)?,
        )?;
        if export_ttl > 3600 {
            return Err(ConfigError::Malformed {
                name: "EXPORT_URL_TTL_SECONDS".into(),
                value: export_ttl.to_string(),
                reason: "at most 3600 (an hour)".into(),
            });
        }
        Ok(Self {
            store,
            limits,
            upload_url_ttl: Duration::from_secs(upload_ttl),
            view_url_ttl: Duration::from_secs(view_ttl),
            abandoned_after: Duration::from_secs(abandoned),
            export_url_ttl: Duration::from_secs(export_ttl),
        })
    }
}
