//! What may be uploaded, per kind, and what the bytes really are. The client's
//! content type only chooses what the upload URL is signed for; the decision
//! at `completeUpload` is made on the stored bytes.

use crate::settings::Limits;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Image,
    Video,
}

/// Image types Nova decodes. HEIC is not among them: no decoder for it is
/// available to this build, and an upload Nova cannot process is refused at the
/// intent, not after the bytes were sent.
pub const IMAGE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];
pub const VIDEO_TYPES: [&str; 2] = ["video/mp4", "video/webm"];
/// Bytes read from the start of an upload to tell its type.
pub const SNIFF_BYTES: u64 = 256;

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "image" => Some(Kind::Image),
            "video" => Some(Kind::Video),
            _ => None,
        }
    }

    pub fn types(self) -> &'static [&'static str] {
        match self {
            Kind::Image => &IMAGE_TYPES,
            Kind::Video => &VIDEO_TYPES,
        }
    }

    pub fn max_bytes(self, limits: &Limits) -> i64 {
        match self {
            Kind::Image => limits.max_image_bytes,
            Kind::Video => limits.max_video_bytes,
        }
    }
}

/// The content type the bytes show, when it is one `kind` accepts.
pub fn sniff(kind: Kind, first_bytes: &[u8]) -> Option<&'static str> {
    let found = infer::get(first_bytes)?.mime_type();
    kind.types().iter().copied().find(|t| *t == found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_decide_not_names() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff(Kind::Image, png), Some("image/png"));
        assert_eq!(sniff(Kind::Video, png), None);
        assert_eq!(sniff(Kind::Image, b"just some text, named photo.png"), None);
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];
        assert_eq!(sniff(Kind::Image, &jpeg), Some("image/jpeg"));
    }
}
