//! Masking `name=value&…` parameters: query strings, URL fragments and form bodies.
//!
//! A name is percent-decoded (`+` is a space) before it is compared; the value of a configured
//! name is masked byte for byte up to the next `&` (or the end of the list).

use crate::out::{Out, MASK};
use crate::rules::Rules;

/// The state of one parameter list between pieces.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParamMasker {
    in_value: bool,
    secret: bool,
    name: Vec<u8>,
    name_too_long: bool,
    /// Hex digits of a `%XX` escape still to come in the name (0, 1 or 2) and the value so far.
    escape: (u8, u8),
}

impl ParamMasker {
    /// A new parameter starts (after `&`, `?` or `#`).
    pub fn next_param(&mut self) {
        self.in_value = false;
        self.secret = false;
        self.name.clear();
        self.name_too_long = false;
        self.escape = (0, 0);
    }

    /// One byte of the list, at `out.buf[i]`; `&` separates parameters.
    pub fn byte(&mut self, rules: &Rules, out: &mut Out<'_>, i: usize) {
        let byte = out.buf[i];
        if byte == b'&' {
            self.next_param();
            return;
        }
        if self.in_value {
            if self.secret {
                out.set(i, MASK);
            }
            return;
        }
        if byte == b'=' {
            self.in_value = true;
            self.secret = !self.name_too_long && rules.is_param(&self.name);
            return;
        }
        let decoded = match (self.escape.0, byte) {
            (0, b'%') => {
                self.escape = (2, 0);
                return;
            }
            (0, b'+') => b' ',
            (0, _) => byte,
            (left, _) => match (byte as char).to_digit(16) {
                Some(digit) => {
                    let value = (self.escape.1 << 4) | digit as u8;
                    self.escape = (left - 1, value);
                    if left > 1 {
                        return;
                    }
                    value
                }
                None => {
                    // A `%` that starts no escape: such a name is none of the configured ones.
                    self.escape = (0, 0);
                    self.name_too_long = true;
                    return;
                }
            },
        };
        if self.name.len() < rules.max_param() {
            self.name.push(decoded.to_ascii_lowercase());
        } else {
            self.name_too_long = true;
        }
    }

    /// Scans `out.buf[from..to]` as part of one list (a form body).
    pub fn feed(&mut self, rules: &Rules, out: &mut Out<'_>, from: usize, to: usize) {
        for i in from..to {
            self.byte(rules, out, i);
        }
    }
}

/// Where a URL scanner is: in the path, or in a parameter list (after `?` or `#`).
#[derive(Debug, Clone, Default)]
pub(crate) struct UrlMasker {
    in_params: bool,
    params: ParamMasker,
}

impl UrlMasker {
    /// One byte of the URL (the caller stops at what ends it: a space, CR or LF).
    pub fn byte(&mut self, rules: &Rules, out: &mut Out<'_>, i: usize) {
        match out.buf[i] {
            b'?' | b'#' => {
                self.in_params = true;
                self.params.next_param();
            }
            _ if self.in_params => self.params.byte(rules, out, i),
            _ => {}
        }
    }
}

/// Masks the configured parameters of a URL (a request target, a `Location`), same length.
pub fn mask_url(rules: &Rules, url: &mut [u8]) {
    if !rules.has_params() {
        return;
    }
    crate::out::with_out(url, |out| {
        let mut masker = UrlMasker::default();
        for i in 0..out.buf.len() {
            masker.byte(rules, out, i);
        }
    });
}

/// Masks the configured fields of an `application/x-www-form-urlencoded` body, same length.
pub fn mask_form(rules: &Rules, body: &mut [u8]) {
    if !rules.has_params() {
        return;
    }
    crate::out::with_out(body, |out| {
        let len = out.buf.len();
        ParamMasker::default().feed(rules, out, 0, len);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    fn url(text: &str) -> String {
        let rules = Rules::new(&RuleSet::default());
        let mut bytes = text.as_bytes().to_vec();
        mask_url(&rules, &mut bytes);
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn query_and_fragment_parameters() {
        assert_eq!(
            url("/a/b?user=ann&api_key=abc%20d&x=1"),
            "/a/b?user=ann&api_key=*******&x=1"
        );
        assert_eq!(url("/p?API%5FKEY=zz&Token=q"), "/p?API%5FKEY=**&Token=*");
        assert_eq!(
            url("https://x/cb#access_token=t0k&state=s"),
            "https://x/cb#access_token=***&state=s"
        );
        assert_eq!(url("/token?tokenx=1&token"), "/token?tokenx=1&token");
        assert_eq!(url("/p?a=%zz&secret=%"), "/p?a=%zz&secret=*");
    }

    #[test]
    fn form_bodies() {
        let rules = Rules::new(&RuleSet::default());
        let mut body = b"user=alice&password=s3cret+x&remember=1".to_vec();
        mask_form(&rules, &mut body);
        assert_eq!(&body, b"user=alice&password=********&remember=1");
    }
}
