//! TLS: recognising a handshake on a stream, and the server name (SNI) of a ClientHello.
//!
//! Only the client's first bytes are read: the records that carry the ClientHello (it may span
//! several), never anything encrypted.

use std::borrow::Cow;

/// The largest ClientHello waited for (its handshake body); a longer one is an error.
pub const MAX_CLIENT_HELLO_LEN: usize = 16 * 1024;

/// The largest record length field accepted (TLSCiphertext: 2^14 + 2048).
const MAX_RECORD_LEN: usize = 16 * 1024 + 2048;
const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const NAME_TYPE_HOST: u8 = 0;

/// Why no server name came out of a client's first bytes. Stream offsets count from the first
/// byte of the stream; ClientHello offsets from the first byte of the handshake message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The bytes end before the ClientHello does: call again with at least `needed` bytes in all.
    #[error("incomplete tls client hello: at least {needed} bytes needed")]
    Incomplete { needed: usize },
    #[error("tls record at byte offset {offset} has content type {content_type}, not handshake")]
    NotHandshake { offset: usize, content_type: u8 },
    #[error("tls record at byte offset {offset} has unknown version {major}.{minor}")]
    BadVersion { offset: usize, major: u8, minor: u8 },
    #[error("tls record at byte offset {offset} is {len} bytes long, more than {limit}")]
    RecordTooLong {
        offset: usize,
        len: usize,
        limit: usize,
    },
    #[error("first tls handshake message has type {msg_type}, not client hello")]
    NotClientHello { msg_type: u8 },
    #[error("tls client hello of {len} bytes exceeds the limit of {limit}")]
    TooLong { len: usize, limit: usize },
    #[error("malformed tls client hello: bad {what} at byte {offset} of the handshake message")]
    Malformed { offset: usize, what: &'static str },
}

/// Whether a client's first bytes look like a TLS handshake record (type 22, version 3.x).
pub fn looks_like_handshake(bytes: &[u8]) -> bool {
    let [CONTENT_HANDSHAKE, 3, minor, rest @ ..] = bytes else {
        return false;
    };
    let len_ok = match rest {
        [hi, lo, ..] => (1..=MAX_RECORD_LEN).contains(&usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => true,
    };
    *minor <= 4 && len_ok
}

/// The server name (SNI `host_name`) of the ClientHello at the start of a client's stream.
///
/// `Ok(None)` when the complete ClientHello has no server name; [`TlsError::Incomplete`] when
/// more bytes are needed (at most about [`MAX_CLIENT_HELLO_LEN`] plus record headers). The name is
/// returned as sent (case kept).
pub fn client_hello_server_name(bytes: &[u8]) -> Result<Option<String>, TlsError> {
    let hello = client_hello_body(bytes)?;
    server_name(&hello)
}

/// The ClientHello body (after the 4-byte handshake header), joined from its records.
fn client_hello_body(stream: &[u8]) -> Result<Cow<'_, [u8]>, TlsError> {
    let mut message: Cow<'_, [u8]> = Cow::Borrowed(&[]);
    let mut pos = 0;
    loop {
        // Bytes of the handshake message still missing, once its header is known.
        let mut missing = 4usize.saturating_sub(message.len());
        if let [msg_type, a, b, c, ..] = message[..] {
            if msg_type != HANDSHAKE_CLIENT_HELLO {
                return Err(TlsError::NotClientHello { msg_type });
            }
            let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
            if len > MAX_CLIENT_HELLO_LEN {
                return Err(TlsError::TooLong {
                    len,
                    limit: MAX_CLIENT_HELLO_LEN,
                });
            }
            missing = (4 + len).saturating_sub(message.len());
            if missing == 0 {
                return Ok(match message {
                    Cow::Borrowed(b) => Cow::Borrowed(b.get(4..4 + len).unwrap_or(&[])),
                    Cow::Owned(mut v) => {
                        v.truncate(4 + len);
                        v.drain(..4);
                        Cow::Owned(v)
                    }
                });
            }
        }
        let Some(&[content_type, major, minor, hi, lo]) = stream.get(pos..pos + 5) else {
            return Err(TlsError::Incomplete {
                needed: pos + 5 + missing,
            });
        };
        if content_type != CONTENT_HANDSHAKE {
            return Err(TlsError::NotHandshake {
                offset: pos,
                content_type,
            });
        }
        if major != 3 || minor > 4 {
            let offset = pos;
            return Err(TlsError::BadVersion {
                offset,
                major,
                minor,
            });
        }
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len > MAX_RECORD_LEN {
            let limit = MAX_RECORD_LEN;
            return Err(TlsError::RecordTooLong {
                offset: pos,
                len,
                limit,
            });
        }
        let end = pos + 5 + len;
        let Some(fragment) = stream.get(pos + 5..end) else {
            let needed = end.max(pos + 5 + missing);
            return Err(TlsError::Incomplete { needed });
        };
        message = if message.is_empty() {
            Cow::Borrowed(fragment)
        } else {
            let mut joined = message.into_owned();
            joined.extend_from_slice(fragment);
            Cow::Owned(joined)
        };
        pos = end;
    }
}

/// A cursor over part of the ClientHello; `base` is the handshake message offset of `bytes[0]`.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], TlsError> {
        let Some(bytes) = self.bytes.get(self.pos..self.pos + n) else {
            let offset = self.offset();
            return Err(TlsError::Malformed { offset, what });
        };
        self.pos += n;
        Ok(bytes)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, TlsError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, TlsError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a one- or two-byte length prefix.
    fn vector(&mut self, wide: bool, what: &'static str) -> Result<Reader<'a>, TlsError> {
        let len = if wide {
            usize::from(self.u16(what)?)
        } else {
            usize::from(self.u8(what)?)
        };
        let base = self.offset();
        let bytes = self.take(len, what)?;
        Ok(Reader {
            bytes,
            pos: 0,
            base,
        })
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

fn server_name(body: &[u8]) -> Result<Option<String>, TlsError> {
    let mut r = Reader {
        bytes: body,
        pos: 0,
        base: 4,
    };
    r.take(2 + 32, "version and random")?;
    r.vector(false, "session id")?;
    r.vector(true, "cipher suites")?;
    r.vector(false, "compression methods")?;
    if r.is_empty() {
        return Ok(None);
    }
    let mut extensions = r.vector(true, "extensions")?;
    while !extensions.is_empty() {
        let ext_type = extensions.u16("extension")?;
        let mut data = extensions.vector(true, "extension")?;
        if ext_type != EXT_SERVER_NAME {
            continue;
        }
        let mut names = data.vector(true, "server name list")?;
        while !names.is_empty() {
            let name_type = names.u8("server name")?;
            let name = names.vector(true, "server name")?;
            if name_type != NAME_TYPE_HOST {
                continue;
            }
            return match std::str::from_utf8(name.bytes) {
                Ok(text) if !text.is_empty() => Ok(Some(text.to_owned())),
                _ => Err(TlsError::Malformed {
                    offset: name.base,
                    what: "host name",
                }),
            };
        }
        return Ok(None);
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn vector(wide: bool, content: &[u8]) -> Vec<u8> {
        let mut v = if wide {
            (content.len() as u16).to_be_bytes().to_vec()
        } else {
            vec![content.len() as u8]
        };
        v.extend_from_slice(content);
        v
    }

    fn extension(ext_type: u16, data: &[u8]) -> Vec<u8> {
        [ext_type.to_be_bytes().to_vec(), vector(true, data)].concat()
    }

    fn sni(names: &[(u8, &str)]) -> Vec<u8> {
        let entry = |(t, n): &(u8, &str)| [vec![*t], vector(true, n.as_bytes())].concat();
        let list: Vec<u8> = names.iter().flat_map(entry).collect();
        extension(0, &vector(true, &list))
    }

    /// A ClientHello handshake message (header included) with these extensions.
    fn hello(extensions: Option<&[Vec<u8>]>) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend([7u8; 32]);
        body.extend(vector(false, &[1; 32]));
        body.extend(vector(true, &[0x13, 0x01, 0xc0, 0x2f]));
        body.extend(vector(false, &[0]));
        if let Some(exts) = extensions {
            body.extend(vector(true, &exts.concat()));
        }
        let len = (body.len() as u32).to_be_bytes();
        [vec![1, len[1], len[2], len[3]], body].concat()
    }

    /// The message cut into records of at most `size` bytes.
    fn records(message: &[u8], size: usize) -> Vec<u8> {
        let record = |chunk: &[u8]| [vec![22, 3, 1], vector(true, chunk)].concat();
        message.chunks(size).flat_map(record).collect()
    }

    fn name(bytes: &[u8]) -> Result<Option<String>, TlsError> {
        client_hello_server_name(bytes)
    }

    #[test]
    fn server_name_in_one_or_many_records() {
        let alpn = extension(16, &vector(true, b"\x02h2"));
        let exts = [
            alpn,
            sni(&[(0, "Shop.Example.test")]),
            extension(0x15, &[0; 40]),
        ];
        let message = hello(Some(&exts));
        let want = Ok(Some("Shop.Example.test".to_string()));
        for size in [message.len(), 100, 7, 1] {
            let stream = records(&message, size);
            assert!(looks_like_handshake(&stream));
            assert_eq!(name(&stream), want, "{size}");
            // Application data after the ClientHello changes nothing.
            assert_eq!(name(&[&stream[..], &[23, 3, 3, 0, 1, 0]].concat()), want);
            // Every prefix asks for more, and never for more than the whole.
            for cut in 0..stream.len() {
                match name(&stream[..cut]) {
                    Err(TlsError::Incomplete { needed }) => {
                        assert!(
                            needed > cut && needed <= stream.len(),
                            "{size} {cut}: {needed}"
                        )
                    }
                    other => panic!("{size} {cut}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn no_server_name() {
        assert_eq!(name(&records(&hello(None), 1000)), Ok(None));
        let exts = [extension(16, &vector(true, b"\x02h2"))];
        assert_eq!(name(&records(&hello(Some(&exts)), 1000)), Ok(None));
        // A name list without a host_name entry.
        let exts = [sni(&[(7, "other")])];
        assert_eq!(name(&records(&hello(Some(&exts)), 1000)), Ok(None));
    }

    #[test]
    fn not_a_client_hello() {
        let not_tls = TlsError::NotHandshake {
            offset: 0,
            content_type: b'G',
        };
        assert_eq!(name(b"GET / HTTP/1.1\r\n"), Err(not_tls));
        assert!(!looks_like_handshake(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_handshake(&[22, 3]));
        assert!(!looks_like_handshake(&[22, 2, 0, 0, 5]));
        assert!(!looks_like_handshake(&[22, 3, 1, 0, 0]));
        assert!(looks_like_handshake(&[22, 3, 1]));
        let mut server_hello = hello(None);
        server_hello[0] = 2;
        let err = name(&records(&server_hello, 1000));
        assert_eq!(err, Err(TlsError::NotClientHello { msg_type: 2 }));
        assert!(matches!(
            name(&[0x80, 0x2e, 1, 0, 2]),
            Err(TlsError::NotHandshake { .. })
        ));
        // A record of another content type inside the ClientHello.
        let mut stream = records(&hello(Some(&[sni(&[(0, "a.test")])])), 50);
        stream[55] = 23;
        let err = TlsError::NotHandshake {
            offset: 55,
            content_type: 23,
        };
        assert_eq!(name(&stream), Err(err));
    }

    #[test]
    fn absurd_lengths_and_damage() {
        let too_long = TlsError::TooLong {
            len: 0xff_ffff,
            limit: MAX_CLIENT_HELLO_LEN,
        };
        assert_eq!(name(&[22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]), Err(too_long));
        let record = [22, 3, 1, 0xff, 0xff];
        assert!(matches!(
            name(&record),
            Err(TlsError::RecordTooLong { offset: 0, .. })
        ));
        // The longest ClientHello accepted spans two records; one byte more is too long.
        let with_pad = |n: usize| {
            hello(Some(&[
                sni(&[(0, "big.test")]),
                extension(0x15, &vec![0; n]),
            ]))
        };
        let pad = MAX_CLIENT_HELLO_LEN + 4 - with_pad(0).len();
        let stream = records(&with_pad(pad), 16 * 1024);
        assert_eq!(stream.len(), MAX_CLIENT_HELLO_LEN + 4 + 2 * 5);
        assert_eq!(name(&stream), Ok(Some("big.test".into())));
        let first = TlsError::Incomplete {
            needed: 16 * 1024 + 5,
        };
        assert_eq!(name(&stream[..100]), Err(first));
        let stream = records(&with_pad(pad + 1), 16 * 1024);
        assert!(matches!(name(&stream), Err(TlsError::TooLong { .. })));
        // An extension that runs past the extensions block.
        let mut message = hello(Some(&[sni(&[(0, "a.test")])]));
        let at = message.len() - 13;
        message[at] = 0x40; // the SNI extension's length
        let err = name(&records(&message, 1000));
        assert!(
            matches!(
                err,
                Err(TlsError::Malformed {
                    what: "extension",
                    ..
                })
            ),
            "{err:?}"
        );
        let mut message = hello(Some(&[sni(&[(0, "ab.test")])]));
        let at = message.len() - 6;
        message[at] = 0xff; // not UTF-8
        let err = name(&records(&message, 1000));
        assert!(
            matches!(
                err,
                Err(TlsError::Malformed {
                    what: "host name",
                    ..
                })
            ),
            "{err:?}"
        );
        // Mutations never panic.
        let good = records(&hello(Some(&[sni(&[(0, "a.test")])])), 40);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut bytes = good.clone();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed >> 8) as usize % bytes.len();
            bytes[at] = (seed >> 32) as u8;
            let _ = name(&bytes);
        }
    }

    /// The ClientHello of testdata/mixed.pcap (frame 10, from tshark): 344 bytes, then the zeros
    /// of its padding extension up to 517.
    const MIXED_HELLO: [&str; 8] = [
        "1603010200010001fc03035bd533665f6e543ac9e4f61c46e6df05340e1e4a8d317f7a5624f4a9f80956b220",
        "4e88a98b46eeac73c934f9324ccf515c41dc520dcb96b6f9b1695f7cabdbcc50003e130213031301c02cc030",
        "009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d",
        "003c0035002f00ff010001750000001500130000107365637572652e73686f702e74657374000b0004030001",
        "02000a00160014001d0017001e00190018010001010102010301040010000e000c02683208687474702f312e",
        "31001600000017000000310000000d002a0028040305030603080708080809080a080b080408050806040105",
        "010601030303010302040205020602002b0009080304030303020301002d00020101003300260024001d0020",
        "e8aeaab4a8199fb8252dd140b3b27160eccbdd85ecf61ab244035d3a0dfc1c37001500ad",
    ];

    #[test]
    fn mixed_capture_client_hello() {
        let hex = MIXED_HELLO.concat();
        let digit = |i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
        let mut stream: Vec<u8> = (0..hex.len()).step_by(2).map(digit).collect();
        stream.resize(517, 0);
        assert!(looks_like_handshake(&stream));
        assert_eq!(name(&stream), Ok(Some("secure.shop.test".into())));
        assert_eq!(
            name(&stream[..300]),
            Err(TlsError::Incomplete { needed: 517 })
        );
    }
}
