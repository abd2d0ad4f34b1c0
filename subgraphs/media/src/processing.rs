//! What an image upload becomes: decoded within limits, turned upright by its
//! EXIF orientation, and re-encoded as JPEG variants. Re-encoding is what
//! strips the metadata: a variant carries pixels only (no EXIF, no GPS, no
//! camera serial). The original object is never served.

use std::io::Cursor;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::settings::Limits;

/// The long sides of the variants (px); an image smaller than a size gets a
/// variant at its own size instead, once.
pub const VARIANT_LONG_SIDES: [u32; 3] = [128, 512, 1080];
/// JPEG quality of the variants.
const JPEG_QUALITY: u8 = 85;

/// A variant made, before it is stored.
pub struct Variant {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

pub struct ProcessedImage {
    /// The upright size of the original.
    pub width: u32,
    pub height: u32,
    pub variants: Vec<Variant>,
}

/// Why an upload is refused for good, in words the client can show.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Decode within `limits`, apply the orientation, make the variants.
pub fn process_image(bytes: &[u8], limits: &Limits) -> Result<ProcessedImage, Refused> {
    // The JPEG decoder fills a cut-off scan with grey rather than failing.
    if bytes.starts_with(&[0xFF, 0xD8]) && !jpeg_is_complete(bytes) {
        return Err(Refused("the file is not a complete, readable image".into()));
    }
    let unreadable = |error: image::ImageError| match error {
        image::ImageError::Limits(_) => Refused(format!(
            "the image is too large: at most {} px on a side",
            limits.max_image_side
        )),
        _ => Refused("the file is not a complete, readable image".into()),
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| Refused("the file is not a readable image".into()))?;
    let mut decode_limits = image::Limits::default();
    decode_limits.max_image_width = Some(limits.max_image_side);
    decode_limits.max_image_height = Some(limits.max_image_side);
    decode_limits.max_alloc = Some(limits.max_decode_bytes);
    reader.limits(decode_limits);
    // The header's size is checked against the limits here, before any pixel
    // is allocated: a few-KB file declaring 20 000 × 20 000 px stops now.
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    image.apply_orientation(orientation);
    let upright = image.to_rgb8();
    drop(image);
    let (width, height) = upright.dimensions();
    let mut variants = Vec::new();
    let mut resizer = Resizer::new();
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
    for long_side in VARIANT_LONG_SIDES {
        let (w, h) = fit(width, height, long_side);
        if variants
            .iter()
            .any(|v: &Variant| (v.width, v.height) == (w, h))
        {
            continue;
        }
        let resized = if (w, h) == (width, height) {
            upright.clone()
        } else {
            let mut resized = RgbImage::new(w, h);
            resizer
                .resize(&upright, &mut resized, &options)
                .map_err(|e| Refused(format!("the image could not be resized: {e}")))?;
            resized
        };
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
            .encode_image(&resized)
            .map_err(|e| Refused(format!("the image could not be encoded: {e}")))?;
        variants.push(Variant {
            name: format!("w{long_side}"),
            width: w,
            height: h,
            bytes: jpeg,
        });
    }
    Ok(ProcessedImage {
        width,
        height,
        variants,
    })
}

/// Whether a JPEG's last scan is followed by its end-of-image marker. Scan data
/// never holds `FF D9` (a data `FF` is written `FF 00`), so a file cut short
/// anywhere after its last start-of-scan lacks it.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|pair| pair == [0xFF, 0xDA]);
    match last_scan {
        Some(scan) => bytes[scan..].windows(2).any(|pair| pair == [0xFF, 0xD9]),
        None => false,
    }
}

/// The size of `width` × `height` scaled so its long side is at most
/// `long_side` (never enlarged), each side at least 1 px.
pub fn fit(width: u32, height: u32, long_side: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= long_side {
        return (width, height);
    }
    let scale = |side: u32| {
        ((u64::from(side) * u64::from(long_side) + u64::from(long) / 2) / u64::from(long)).max(1)
            as u32
    };
    (scale(width), scale(height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_keeps_the_aspect_and_never_enlarges() {
        assert_eq!(fit(4000, 3000, 1080), (1080, 810));
        assert_eq!(fit(3000, 4000, 128), (96, 128));
        assert_eq!(fit(100, 50, 512), (100, 50));
        assert_eq!(fit(10_000, 1, 128), (128, 1));
    }

    #[test]
    fn a_cut_off_jpeg_is_incomplete() {
        let whole = [
            0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x01, 0xFF, 0x00, 0x12, 0xFF, 0xD9,
        ];
        assert!(jpeg_is_complete(&whole));
        assert!(!jpeg_is_complete(&whole[..8]));
        assert!(!jpeg_is_complete(&[0xFF, 0xD8, 0xFF, 0xD9]));
    }
}
