//! The Whisperer's side of the pipeline: frames get their session ids and directions.

use spider_decode::{Decoder, LinkType, SessionEvent, SessionTracker, Side};
use spider_model::{EpochNanos, PacketRecord, TcpSessionRecord};

use crate::config::PipelineConfig;

/// Gives every frame the session id and direction the tracker decides, as a Whisperer does
/// before sending frames to the backend.
#[derive(Debug)]
pub struct FrameTagger {
    whisperer: String,
    decoder: Decoder,
    tracker: SessionTracker,
    events: Vec<SessionEvent>,
}

/// A tagged frame, and the sessions that ended before it.
#[derive(Debug)]
pub struct Tagged {
    pub packet: PacketRecord,
    pub closed: Vec<TcpSessionRecord>,
}

impl FrameTagger {
    pub fn new(whisperer: impl Into<String>, config: PipelineConfig) -> Self {
        Self {
            whisperer: whisperer.into(),
            decoder: Decoder::new(config.decoder),
            tracker: SessionTracker::new(config.tracker),
            events: Vec::new(),
        }
    }

    /// Tags one frame. Frames that are not IP (or not decodable) get session 0: they are stored
    /// as packets but belong to no session.
    pub fn tag(
        &mut self,
        interface: u32,
        link_type: u16,
        time: EpochNanos,
        frame: &[u8],
        wire_len: u32,
    ) -> Tagged {
        let (session_id, from_client) =
            match self
                .decoder
                .decode(LinkType(link_type), time, frame, wire_len)
            {
                Ok(Some(packet)) => {
                    let tracked = self.tracker.track(&packet, &mut self.events);
                    (tracked.id, tracked.from == Side::Client)
                }
                Ok(None) | Err(_) => (0, true),
            };
        Tagged {
            packet: PacketRecord {
                whisperer: self.whisperer.clone(),
                session_id,
                time,
                interface,
                link_type,
                wire_len,
                from_client,
                frame: frame.to_vec(),
            },
            closed: self.drain_closed(),
        }
    }

    /// Tags one record of a capture file.
    pub fn tag_record(&mut self, record: &spider_pcap::RecordRef<'_>) -> Tagged {
        self.tag(
            record.interface,
            record.link_type.0,
            record.ts_nanos,
            record.data,
            record.orig_len,
        )
    }

    /// The capture ended: every open session's final record.
    pub fn finish(&mut self) -> Vec<TcpSessionRecord> {
        self.tracker.flush(&mut self.events);
        self.drain_closed()
    }

    fn drain_closed(&mut self) -> Vec<TcpSessionRecord> {
        self.events
            .drain(..)
            .map(|SessionEvent::Closed(record)| *record)
            .collect()
    }
}
