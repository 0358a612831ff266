//! Helpers shared by the conversions: IP addresses, endpoints, text, lists and Cap'n Proto's size
//! limits (checked before writing, because the `capnp` builders panic past them).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use capnp::traits::{HasStructSize, IntoInternalStructReader, OwnedStruct};
use capnp::{struct_list, text, text_list};
use spider_model::Endpoint;

use crate::schema::records_capnp::{endpoint, name_value};
use crate::SchemaError;

/// Most elements a list (or bytes a Data) may hold; Cap'n Proto counts them in 29 bits.
const MAX_ELEMENTS: usize = (1 << 29) - 1;
/// Most words a list of structs may take.
const MAX_STRUCT_LIST_WORDS: usize = (1 << 29) - 1;
/// Capacity reserved up front when reading a list: the wire's element count is not trusted further
/// (a list of empty structs costs the reader one traversal word each, the model much more).
const READ_PREALLOC: usize = 1024;

/// The wire form of an IP address: its 4 or 16 octets, in network byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpOctets {
    octets: [u8; 16],
    len: usize,
}

impl IpOctets {
    pub fn as_slice(&self) -> &[u8] {
        &self.octets[..self.len]
    }
}

/// The octets to put in a `Data` field that holds an IP address (4 for IPv4, 16 for IPv6; an
/// IPv4-mapped IPv6 address stays 16, so that it reads back the same).
pub fn ip_octets(ip: IpAddr) -> IpOctets {
    let mut octets = [0; 16];
    match ip {
        IpAddr::V4(v4) => {
            octets[..4].copy_from_slice(&v4.octets());
            IpOctets { octets, len: 4 }
        }
        IpAddr::V6(v6) => IpOctets {
            octets: v6.octets(),
            len: 16,
        },
    }
}

/// An IP address from a `Data` field; `field` names it in the error when its length is not 4 or 16.
pub fn read_ip(field: &'static str, data: &[u8]) -> Result<IpAddr, SchemaError> {
    if let Ok(v4) = <[u8; 4]>::try_from(data) {
        Ok(IpAddr::V4(Ipv4Addr::from(v4)))
    } else if let Ok(v6) = <[u8; 16]>::try_from(data) {
        Ok(IpAddr::V6(Ipv6Addr::from(v6)))
    } else {
        Err(SchemaError::InvalidIp {
            field,
            len: data.len(),
        })
    }
}

/// Reads an IP address held in a `Data` field, as returned by a generated `get_*` method.
pub(crate) fn read_ip_field(
    field: &'static str,
    data: capnp::Result<capnp::data::Reader<'_>>,
) -> Result<IpAddr, SchemaError> {
    read_ip(field, data.map_err(SchemaError::malformed(field))?)
}

/// Writes an endpoint.
pub fn write_endpoint(mut builder: endpoint::Builder<'_>, endpoint: &Endpoint) {
    builder.set_ip(ip_octets(endpoint.ip).as_slice());
    builder.set_port(endpoint.port);
}

/// Reads an endpoint; `field` names it in errors.
pub fn read_endpoint(
    field: &'static str,
    reader: endpoint::Reader<'_>,
) -> Result<Endpoint, SchemaError> {
    Ok(Endpoint::new(
        read_ip_field(field, reader.get_ip())?,
        reader.get_port(),
    ))
}

/// Reads a required endpoint field: absent is an error.
pub(crate) fn read_required_endpoint(
    field: &'static str,
    present: bool,
    reader: capnp::Result<endpoint::Reader<'_>>,
) -> Result<Endpoint, SchemaError> {
    read_endpoint(field, required(field, present, reader)?)
}

/// A required struct (or other pointer) field: absent or damaged is an error.
pub(crate) fn required<T>(
    field: &'static str,
    present: bool,
    value: capnp::Result<T>,
) -> Result<T, SchemaError> {
    if !present {
        return Err(SchemaError::Missing { field });
    }
    value.map_err(SchemaError::malformed(field))
}

/// An optional pointer field: absent is `None`, damaged is an error.
pub(crate) fn optional<T>(
    field: &'static str,
    present: bool,
    value: capnp::Result<T>,
) -> Result<Option<T>, SchemaError> {
    if present {
        value.map(Some).map_err(SchemaError::malformed(field))
    } else {
        Ok(None)
    }
}

/// A Text field as a `String` (null reads as empty).
pub(crate) fn read_text(
    field: &'static str,
    value: capnp::Result<text::Reader<'_>>,
) -> Result<String, SchemaError> {
    value
        .map_err(SchemaError::malformed(field))?
        .to_string()
        .map_err(|_| SchemaError::InvalidUtf8 { field })
}

/// An optional Text field: null is `None`, empty is `Some("")`.
pub(crate) fn read_optional_text(
    field: &'static str,
    present: bool,
    value: capnp::Result<text::Reader<'_>>,
) -> Result<Option<String>, SchemaError> {
    if present {
        read_text(field, value).map(Some)
    } else {
        Ok(None)
    }
}

/// `text` if Cap'n Proto can hold it (with its NUL terminator).
pub(crate) fn checked_text<'t>(field: &'static str, text: &'t str) -> Result<&'t str, SchemaError> {
    if text.len() < MAX_ELEMENTS {
        Ok(text)
    } else {
        Err(SchemaError::TooLarge {
            field,
            len: text.len(),
        })
    }
}

/// `data` if Cap'n Proto can hold it.
pub(crate) fn checked_data<'d>(
    field: &'static str,
    data: &'d [u8],
) -> Result<&'d [u8], SchemaError> {
    list_len(field, data.len()).map(|_| data)
}

/// The element count of a list of primitives or pointers, if Cap'n Proto can hold it.
pub(crate) fn list_len(field: &'static str, len: usize) -> Result<u32, SchemaError> {
    u32::try_from(len)
        .ok()
        .filter(|_| len <= MAX_ELEMENTS)
        .ok_or(SchemaError::TooLarge { field, len })
}

/// The element count of a list of structs `O`, if Cap'n Proto can hold it.
pub(crate) fn struct_list_len<O: OwnedStruct>(
    field: &'static str,
    len: usize,
) -> Result<u32, SchemaError> {
    let words = <O::Builder<'static> as HasStructSize>::STRUCT_SIZE.total() as usize;
    match len.checked_mul(words.max(1)) {
        Some(total) if total <= MAX_STRUCT_LIST_WORDS => list_len(field, len),
        _ => Err(SchemaError::TooLarge { field, len }),
    }
}

/// Reads every element of a list of structs with `read`, without trusting its length for memory.
/// A list whose elements are zero-sized (no data, no pointers: no Spider struct is) is refused
/// before any is read; the elements of a list all have the size of the first.
pub(crate) fn read_struct_list<'a, O, T>(
    field: &'static str,
    list: capnp::Result<struct_list::Reader<'a, O>>,
    mut read: impl FnMut(O::Reader<'a>) -> Result<T, SchemaError>,
) -> Result<Vec<T>, SchemaError>
where
    O: OwnedStruct,
{
    let list = list.map_err(SchemaError::malformed(field))?;
    if let Some(first) = list.iter().next() {
        let size = first
            .into_internal_struct_reader()
            .total_size()
            .map_err(SchemaError::malformed(field))?;
        if size.word_count == 0 && size.cap_count == 0 {
            return Err(SchemaError::ZeroSized {
                field,
                len: list.len(),
            });
        }
    }
    let mut out = Vec::with_capacity((list.len() as usize).min(READ_PREALLOC));
    for item in list.iter() {
        out.push(read(item)?);
    }
    Ok(out)
}

/// Reads a list of Text.
pub(crate) fn read_text_list(
    field: &'static str,
    list: capnp::Result<text_list::Reader<'_>>,
) -> Result<Vec<String>, SchemaError> {
    let list = list.map_err(SchemaError::malformed(field))?;
    let mut out = Vec::with_capacity((list.len() as usize).min(READ_PREALLOC));
    for item in list.iter() {
        out.push(read_text(field, item)?);
    }
    Ok(out)
}

/// Fills a list of Text initialised with `strings.len()` elements (see [`list_len`]).
pub(crate) fn write_text_list(
    field: &'static str,
    mut list: text_list::Builder<'_>,
    strings: &[String],
) -> Result<(), SchemaError> {
    for (index, string) in (0..list.len()).zip(strings) {
        list.set(index, checked_text(field, string)?);
    }
    Ok(())
}

/// Reads a list of name-value pairs (headers, query parameters).
pub(crate) fn read_pairs(
    field: &'static str,
    list: capnp::Result<struct_list::Reader<'_, name_value::Owned>>,
) -> Result<Vec<(String, String)>, SchemaError> {
    read_struct_list(field, list, |pair| {
        Ok((
            read_text(field, pair.get_name())?,
            read_text(field, pair.get_value())?,
        ))
    })
}

/// The length to initialise a list of name-value pairs with.
pub(crate) fn pairs_len(
    field: &'static str,
    pairs: &[(String, String)],
) -> Result<u32, SchemaError> {
    struct_list_len::<name_value::Owned>(field, pairs.len())
}

/// Fills a list of name-value pairs initialised with [`pairs_len`] elements.
pub(crate) fn write_pairs(
    field: &'static str,
    mut list: struct_list::Builder<'_, name_value::Owned>,
    pairs: &[(String, String)],
) -> Result<(), SchemaError> {
    for (index, (name, value)) in (0..list.len()).zip(pairs) {
        let mut pair = list.reborrow().get(index);
        pair.set_name(checked_text(field, name)?);
        pair.set_value(checked_text(field, value)?);
    }
    Ok(())
}

/// Reads a named union `{ none :Void; value :T }` into an `Option<T>`:
/// `read_option!("field", reader.get_x(), path::to::x)`.
macro_rules! read_option {
    ($field:literal, $union:expr, $($module:ident)::+) => {
        match $union
            .which()
            .map_err($crate::SchemaError::not_in_schema($field))?
        {
            $($module)::+::Which::None(()) => None,
            $($module)::+::Which::Value(value) => Some(value),
        }
    };
}
pub(crate) use read_option;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_octets_round_trip_and_bad_lengths_fail() {
        for text in ["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1"] {
            let ip: IpAddr = text.parse().expect("test address");
            let octets = ip_octets(ip);
            assert_eq!(read_ip("ip", octets.as_slice()).ok(), Some(ip));
        }
        for len in [0, 3, 5, 15, 17] {
            assert!(matches!(
                read_ip("ip", &vec![0; len]),
                Err(SchemaError::InvalidIp { field: "ip", len: l }) if l == len
            ));
        }
    }

    #[test]
    fn list_limits() {
        assert_eq!(list_len("x", 3).ok(), Some(3));
        assert!(list_len("x", MAX_ELEMENTS + 1).is_err());
        // name_value is two pointers: 2^28 of them are already too many words.
        assert!(struct_list_len::<name_value::Owned>("x", 1 << 28).is_err());
        assert!(struct_list_len::<name_value::Owned>("x", (1 << 28) - 1).is_ok());
    }
}
