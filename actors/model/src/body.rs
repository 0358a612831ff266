use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What was seen of one HTTP message body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BodyCapture {
    /// The `Content-Length` the message announced, if any.
    pub announced_length: Option<u64>,
    /// Body bytes seen on the wire (after de-chunking, before content decoding).
    pub wire_length: u64,
    /// Body bytes after content decoding (gzip, deflate, br); equal to `wire_length` without encoding.
    pub decoded_length: u64,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    /// The decoded body, up to the configured bound; `None` when no body or none was kept.
    pub data: Option<BodyData>,
    /// True when `data` holds less than `decoded_length` because of the bound or of capture loss.
    pub truncated: bool,
}

/// A body's bytes: text when they are valid UTF-8, base64 otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "encoding", content = "value", rename_all = "lowercase")]
pub enum BodyData {
    Utf8(String),
    Base64(String),
}

impl BodyData {
    pub fn from_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::Utf8(text.to_owned()),
            Err(_) => Self::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    /// Like [`Self::from_bytes`], without copying text.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        match String::from_utf8(bytes) {
            Ok(text) => Self::Utf8(text),
            Err(error) => {
                Self::Base64(base64::engine::general_purpose::STANDARD.encode(error.as_bytes()))
            }
        }
    }

    /// The bytes back; `None` when base64 text is malformed (it came from outside).
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Self::Utf8(text) => Some(text.as_bytes().to_vec()),
            Self::Base64(text) => base64::engine::general_purpose::STANDARD.decode(text).ok(),
        }
    }
}

/// Serde for byte vectors as base64 text (JSON has no bytes).
pub(crate) mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_data_keeps_text_and_binary() {
        assert_eq!(
            BodyData::from_bytes(b"hello"),
            BodyData::Utf8("hello".into())
        );
        let binary = [0xff_u8, 0x00, 0x80];
        let data = BodyData::from_bytes(&binary);
        assert!(matches!(data, BodyData::Base64(_)));
        assert_eq!(data.to_bytes().as_deref(), Some(&binary[..]));
    }
}
