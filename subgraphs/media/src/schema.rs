//! media's GraphQL schema: upload intents, their completion, and `Media` with
//! short-lived view URLs. The uploader follows processing by polling
//! `media(id)` (see ARCHITECTURE.md, "Media"): it takes about a second, and a
//! poll needs no live connection for a one-off wait.

use async_graphql::dataloader::DataLoader;
use async_graphql::{
    Context, EmptySubscription, Enum, ErrorExtensions, Object, Result, Schema, SchemaBuilder,
    SimpleObject, ID,
};
use chrono::{DateTime, Utc};
use nova_core::caller::Caller;
use nova_core::errors::{parse_id, OrInternal};
use nova_core::sdl::authenticated;
use nova_core::ErrorCode;
use uuid::Uuid;

use crate::exports::{ExportError, Exporter};
use crate::kinds::Kind;
use crate::loaders::{MediaLoader, VariantsLoader};
use crate::store::{MediaRow, VariantRow};
use crate::uploads::Uploads;

pub type MediaSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    nova_core::caller::subgraph_schema(Query, Mutation, EmptySubscription)
}

pub fn build(uploads: Uploads, exporter: Exporter) -> MediaSchema {
    let db = uploads.db.clone();
    builder()
        .data(nova_core::batching::loader(MediaLoader { db: db.clone() }))
        .data(nova_core::batching::loader(VariantsLoader { db }))
        .data(uploads)
        .data(exporter)
        .finish()
}

pub fn sdl() -> String {
    nova_core::sdl::federated_sdl(&builder().finish())
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
}

impl From<MediaKind> for Kind {
    fn from(kind: MediaKind) -> Kind {
        match kind {
            MediaKind::Image => Kind::Image,
            MediaKind::Video => Kind::Video,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum MediaStatus {
    /// The upload URL was handed out; the bytes have not been confirmed.
    AwaitingUpload,
    /// The bytes passed the checks; variants are being made.
    Processing,
    /// Variants are ready to show.
    Ready,
    /// Refused: `failureReason` says why.
    Failed,
}

/// An image or video a user uploaded. Its URLs are presigned and short-lived:
/// fetch them when showing the media, do not store them.
pub struct Media(pub MediaRow);

/// One size of a media (JPEG), or a video's playable file.
#[derive(SimpleObject)]
pub struct MediaVariant {
    width: i32,
    height: i32,
    content_type: String,
    /// A presigned GET URL, valid for a few minutes.
    url: String,
}

#[Object]
impl Media {
    async fn id(&self) -> ID {
        ID(self.0.media_id.to_string())
    }
    async fn kind(&self) -> MediaKind {
        match Kind::parse(&self.0.kind) {
            Some(Kind::Video) => MediaKind::Video,
            _ => MediaKind::Image,
        }
    }
    async fn status(&self) -> MediaStatus {
        match self.0.status.as_str() {
            "awaiting_upload" => MediaStatus::AwaitingUpload,
            "processing" => MediaStatus::Processing,
            "ready" => MediaStatus::Ready,
            _ => MediaStatus::Failed,
        }
    }
    /// Why the upload was refused, when `status` is FAILED.
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure.as_deref()
    }
    /// What the bytes are (read from them), once the upload is complete.
    async fn content_type(&self) -> Option<&str> {
        self.0.content_type.as_deref()
    }
    /// The upright size of the original, once processed.
    async fn width(&self) -> Option<i32> {
        self.0.width
    }
    async fn height(&self) -> Option<i32> {
        self.0.height
    }
    /// A video's length, once processed.
    async fn duration_seconds(&self) -> Option<f64> {
        self.0.duration_ms.map(|ms| ms as f64 / 1000.0)
    }
    /// The sizes to show (a video's poster frame), smallest first; empty until
    /// READY.
    async fn variants(&self, ctx: &Context<'_>) -> Result<Vec<MediaVariant>> {
        self.variants_where(ctx, |row| row.content_type.starts_with("image/"))
            .await
    }
    /// A video's playable file (its streams, without the upload's metadata).
    async fn video(&self, ctx: &Context<'_>) -> Result<Option<MediaVariant>> {
        let mut videos = self.variants_where(ctx, |row| row.name == "video").await?;
        Ok(videos.pop())
    }
}

impl Media {
    async fn variants_where(
        &self,
        ctx: &Context<'_>,
        wanted: impl Fn(&VariantRow) -> bool,
    ) -> Result<Vec<MediaVariant>> {
        if self.0.status != "ready" {
            return Ok(Vec::new());
        }
        let rows = ctx
            .data_unchecked::<DataLoader<VariantsLoader>>()
            .load_one(self.0.media_id)
            .await
            .or_internal()?
            .unwrap_or_default();
        let uploads = ctx.data_unchecked::<Uploads>();
        let mut variants = Vec::new();
        for row in rows.into_iter().filter(|row| wanted(row)) {
            variants.push(MediaVariant {
                width: row.width,
                height: row.height,
                url: uploads.view_url(&row.object_key).await.or_internal()?,
                content_type: row.content_type,
            });
        }
        Ok(variants)
    }
}

/// A header the upload's PUT must carry as given (the signature covers it).
#[derive(SimpleObject)]
pub struct HttpHeader {
    name: String,
    value: String,
}

/// Where and how to upload: PUT the bytes to `uploadUrl` with
/// `requiredHeaders` before `expiresAt`, then call `completeUpload`.
#[derive(SimpleObject)]
pub struct UploadIntent {
    media: Media,
    upload_url: String,
    required_headers: Vec<HttpHeader>,
    expires_at: DateTime<Utc>,
}

/// Who may see a media: its owner always; anyone else once it is READY.
fn visible(row: MediaRow, viewer: Option<Uuid>) -> Option<Media> {
    (row.status == "ready" || Some(row.owner_id) == viewer).then_some(Media(row))
}

async fn load(ctx: &Context<'_>, id: Uuid) -> Result<Option<Media>> {
    let row = ctx
        .data_unchecked::<DataLoader<MediaLoader>>()
        .load_one(id)
        .await
        .or_internal()?;
    Ok(row.and_then(|row| visible(row, Caller::of(ctx).user_id)))
}

pub struct Query;

#[Object]
impl Query {
    /// A media: its owner sees it in every state (to follow processing);
    /// others once it is READY. Null when there is no such media for you.
    async fn media(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Media>> {
        load(ctx, parse_id(&id, "id")?).await
    }

    #[graphql(entity)]
    async fn find_media_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Media>> {
        match Uuid::parse_str(id.as_str()) {
            Ok(id) => load(ctx, id).await,
            Err(_) => Ok(None),
        }
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Start an upload of `byteSize` bytes of `contentType`: a presigned PUT
    /// URL, valid for at most 15 minutes, for exactly that type and size.
    #[graphql(directive = authenticated::apply())]
    async fn create_upload_intent(
        &self,
        ctx: &Context<'_>,
        kind: MediaKind,
        content_type: String,
        byte_size: i32,
    ) -> Result<UploadIntent> {
        let owner = Caller::of(ctx).require_user()?;
        let intent = ctx
            .data_unchecked::<Uploads>()
            .create_intent(owner, kind.into(), &content_type, i64::from(byte_size))
            .await?;
        Ok(UploadIntent {
            media: Media(intent.row),
            upload_url: intent.upload.url,
            required_headers: intent
                .upload
                .headers
                .into_iter()
                .map(|(name, value)| HttpHeader { name, value })
                .collect(),
            expires_at: intent.expires_at,
        })
    }

    /// The bytes are uploaded: check them (size as declared, type read from
    /// the bytes) and start processing. The media is then PROCESSING; poll
    /// `media(id)` until it is READY or FAILED.
    #[graphql(directive = authenticated::apply())]
    async fn complete_upload(&self, ctx: &Context<'_>, media_id: ID) -> Result<Media> {
        let owner = Caller::of(ctx).require_user()?;
        let id = parse_id(&media_id, "mediaId")?;
        let row = ctx.data_unchecked::<Uploads>().complete(owner, id).await?;
        Ok(Media(row))
    }

    /// A JSON archive of everything Nova holds on the caller (account,
    /// profile, posts, comments, reports, follows, blocks, mutes, likes,
    /// conversations and sent messages, notifications, media): a URL anyone
    /// holding it can download from until `expiresAt` (at most an hour), when
    /// the archive is deleted. One per minute.
    #[graphql(directive = authenticated::apply())]
    async fn export_my_data(&self, ctx: &Context<'_>) -> Result<DataExport> {
        let user = Caller::of(ctx).require_user()?;
        match ctx.data_unchecked::<Exporter>().export(user).await {
            Ok(archive) => Ok(DataExport {
                url: archive.url,
                expires_at: archive.expires_at,
                byte_size: archive.byte_size,
            }),
            Err(ExportError::TooSoon(wait)) => Err(ErrorCode::RateLimited
                .error(ExportError::TooSoon(wait).to_string())
                .extend_with(|_, ext| ext.set("retryAfterSeconds", wait))),
            Err(error @ ExportError::OwnerUnavailable(_)) => {
                Err(ErrorCode::Unavailable.error(format!("{error}; try again shortly")))
            }
            Err(ExportError::Failed(error)) => {
                Err(nova_core::errors::internal(format!("{error:#}")))
            }
        }
    }
}

/// A made archive (`exportMyData`).
#[derive(SimpleObject)]
pub struct DataExport {
    /// Where to download the archive (JSON) until `expiresAt`.
    pub url: String,
    pub expires_at: DateTime<Utc>,
    pub byte_size: i64,
}
