//! A streaming JSON scanner that masks the values of configured keys.
//!
//! It sees each byte once and decides it then (a key is complete before its value starts), so a
//! body cut anywhere into pieces is masked the same as whole. It tolerates what is not JSON: bytes
//! it does not understand outside strings pass. What a matched key's value becomes, keeping the
//! document valid JSON of the same length:
//!
//! - a string: every byte between the quotes becomes `*` (escapes included);
//! - a number: its first byte becomes `0`, the rest spaces (`12345` → `0    `);
//! - an object or array: every string value and number inside, at any depth, as above (keys
//!   stay);
//! - `true`, `false`, `null`: kept.
//!
//! Keys are compared byte for byte (escapes are not decoded), without regard to ASCII case.

use crate::out::{Out, MASK};
use crate::rules::Rules;

/// Containers deeper than this are not tracked: every string and number inside is masked.
const MAX_DEPTH: u32 = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    Between,
    Str {
        key: bool,
        secret: bool,
        escape: bool,
    },
    Num {
        secret: bool,
    },
}

/// The scanner's state between pieces of one body.
#[derive(Debug, Clone)]
pub(crate) struct JsonMasker {
    /// Bit `d` set: the container at depth `d + 1` is an object.
    objects: u128,
    depth: u32,
    expect_key: bool,
    lex: Lex,
    key: Vec<u8>,
    key_too_long: bool,
    /// A matched key's value has not started yet.
    pending: bool,
    /// Inside a masked container opened at this depth.
    secret_depth: Option<u32>,
}

impl JsonMasker {
    pub fn new() -> Self {
        Self {
            objects: 0,
            depth: 0,
            expect_key: false,
            lex: Lex::Between,
            key: Vec::new(),
            key_too_long: false,
            pending: false,
            secret_depth: None,
        }
    }

    fn in_object(&self) -> bool {
        self.depth > 0 && self.depth <= MAX_DEPTH && self.objects & (1u128 << (self.depth - 1)) != 0
    }

    fn masking(&self) -> bool {
        self.secret_depth.is_some() || self.depth > MAX_DEPTH
    }

    fn push(&mut self, object: bool) {
        self.depth = self.depth.saturating_add(1);
        if self.depth <= MAX_DEPTH {
            let bit = 1u128 << (self.depth - 1);
            if object {
                self.objects |= bit;
            } else {
                self.objects &= !bit;
            }
        }
        self.expect_key = object;
    }

    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        if self.secret_depth == Some(self.depth) {
            self.secret_depth = None;
        }
        self.expect_key = false;
    }

    /// Scans `out.buf[from..to]`, masking in place.
    pub fn feed(&mut self, rules: &Rules, out: &mut Out<'_>, from: usize, to: usize) {
        let mut i = from;
        while i < to {
            let byte = out.buf[i];
            match self.lex {
                Lex::Str {
                    key: false,
                    secret: false,
                    escape: false,
                } => {
                    // Fast path through plain string content.
                    match out.buf[i..to]
                        .iter()
                        .position(|b| *b == b'"' || *b == b'\\')
                    {
                        Some(at) => {
                            i += at;
                            self.string_byte(rules, out, i);
                            i += 1;
                        }
                        None => i = to,
                    }
                }
                Lex::Str { .. } => {
                    self.string_byte(rules, out, i);
                    i += 1;
                }
                Lex::Num { secret } => {
                    if matches!(byte, b'0'..=b'9' | b'+' | b'-' | b'.' | b'e' | b'E') {
                        if secret {
                            out.set(i, b' ');
                        }
                        i += 1;
                    } else {
                        self.lex = Lex::Between;
                    }
                }
                Lex::Between => {
                    self.between(out, i, byte);
                    i += 1;
                }
            }
        }
    }

    fn string_byte(&mut self, rules: &Rules, out: &mut Out<'_>, i: usize) {
        let Lex::Str {
            key,
            secret,
            escape,
        } = self.lex
        else {
            return;
        };
        let byte = out.buf[i];
        if byte == b'"' && !escape {
            self.lex = Lex::Between;
            if key {
                self.pending = !self.key_too_long && rules.is_field(&self.key);
                self.expect_key = false;
            }
            return;
        }
        self.lex = Lex::Str {
            key,
            secret,
            escape: !escape && byte == b'\\',
        };
        if secret {
            out.set(i, MASK);
        }
        if key {
            if self.key.len() < rules.max_field() {
                self.key.push(byte);
            } else {
                self.key_too_long = true;
            }
        }
    }

    fn between(&mut self, out: &mut Out<'_>, i: usize, byte: u8) {
        match byte {
            b'"' => {
                let key = self.expect_key && self.in_object();
                let secret = !key && (self.pending || self.masking());
                self.pending = false;
                self.key.clear();
                self.key_too_long = false;
                self.lex = Lex::Str {
                    key,
                    secret,
                    escape: false,
                };
            }
            b':' => self.expect_key = false,
            b',' => {
                self.expect_key = self.in_object();
                self.pending = false;
            }
            b'{' | b'[' => {
                if self.pending {
                    self.secret_depth = Some(self.depth);
                    self.pending = false;
                }
                self.push(byte == b'{');
            }
            b'}' | b']' => {
                self.pending = false;
                self.pop();
            }
            b'-' | b'0'..=b'9' => {
                let secret = self.pending || self.masking();
                self.pending = false;
                if secret {
                    out.set(i, b'0');
                }
                self.lex = Lex::Num { secret };
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => self.pending = false,
        }
    }
}

/// Masks the configured fields of a whole JSON document (or the start of one), same length.
pub fn mask_json(rules: &Rules, bytes: &mut [u8]) {
    if !rules.has_fields() {
        return;
    }
    let len = bytes.len();
    crate::out::with_out(bytes, |out| JsonMasker::new().feed(rules, out, 0, len));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::out::with_out;
    use crate::rules::RuleSet;

    fn mask(text: &str) -> String {
        let rules = Rules::new(&RuleSet::default());
        let mut bytes = text.as_bytes().to_vec();
        let len = bytes.len();
        with_out(&mut bytes, |out| {
            JsonMasker::new().feed(&rules, out, 0, len)
        });
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn string_values_of_matched_keys_are_masked() {
        assert_eq!(
            mask(r#"{"user":"alice","password":"s3cr\"et","n":1}"#),
            r#"{"user":"alice","password":"********","n":1}"#
        );
        assert_eq!(
            mask(r#"{"Token" : "abc", "tokens": "keep"}"#),
            r#"{"Token" : "***", "tokens": "keep"}"#
        );
    }

    #[test]
    fn nested_values_numbers_and_arrays() {
        assert_eq!(
            mask(r#"[{"a":{"secret":{"k":"v","n":[12,"x"]}},"b":"ok"}]"#),
            r#"[{"a":{"secret":{"k":"*","n":[0 ,"*"]}},"b":"ok"}]"#
        );
        assert_eq!(mask(r#"{"token": -1.5e3}"#), r#"{"token": 0     }"#);
        assert_eq!(
            mask(r#"{"token": null, "x": "token"}"#),
            r#"{"token": null, "x": "token"}"#
        );
        // A value that is a key name elsewhere is not a key.
        assert_eq!(
            mask(r#"["password", "secret"]"#),
            r#"["password", "secret"]"#
        );
    }

    #[test]
    fn every_split_gives_the_same_bytes() {
        let rules = Rules::new(&RuleSet::default());
        let text = br#"{"a":[1,{"access_token":"xyz","b":{"client_secret":[1,"q"]}}],"c":"d\"e"}"#;
        let whole = {
            let mut bytes = text.to_vec();
            let len = bytes.len();
            with_out(&mut bytes, |out| {
                JsonMasker::new().feed(&rules, out, 0, len)
            });
            bytes
        };
        for cut in 0..text.len() {
            let mut bytes = text.to_vec();
            let len = bytes.len();
            let mut masker = JsonMasker::new();
            with_out(&mut bytes, |out| {
                masker.feed(&rules, out, 0, cut);
                masker.feed(&rules, out, cut, len);
            });
            assert_eq!(bytes, whole, "cut at {cut}");
        }
        assert!(!whole.windows(3).any(|w| w == b"xyz"));
    }
}
