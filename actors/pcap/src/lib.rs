//! Capture files: reading pcap and pcapng, writing pcapng.
//!
//! Owns the file formats only: records come out as (interface, link type, timestamp, bytes); what
//! the bytes mean is `spider-decode`'s business.
