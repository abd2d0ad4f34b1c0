//! media: images and videos users upload straight to the S3 store
//! through presigned URLs, checked by their bytes, processed into variants
//! without metadata, and shown through short-lived presigned URLs. Adds
//! `Media`, `Query.media`, `Mutation.createUploadIntent` and
//! `Mutation.completeUpload`.

pub mod attaching;
pub mod events;
pub mod exports;
pub mod kinds;
pub mod loaders;
pub mod processing;
pub mod schema;
pub mod settings;
pub mod storage;
pub mod store;
pub mod sweep;
pub mod uploads;
pub mod video;
pub mod worker;

/// The migrations of `nova_media`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/media");
