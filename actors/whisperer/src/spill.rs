//! The bounded spill to disk: batches that did not fit in memory, in order, in segment files of a
//! folder of their own. The buffer writes at the tail and reads at the head; a segment is deleted
//! once read. What is on disk at start belongs to a previous process (another incarnation, whose
//! batch ids cannot be continued) and is deleted, with a warning.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use spider_model::{PacketRecord, TcpSessionRecord};

use crate::batcher::Batch;

/// A segment is closed for writing past this size.
const SEGMENT_BYTES: u64 = 8 << 20;

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    bytes: u64,
    batches: usize,
}

/// Batches on disk, first in first out.
#[derive(Debug)]
pub struct Spill {
    dir: PathBuf,
    max_bytes: u64,
    whisperer: String,
    /// Sealed segments (complete, read from the front) then the one being written, if any.
    segments: VecDeque<Segment>,
    writer: Option<BufWriter<File>>,
    reader: Option<BufReader<File>>,
    next_segment: u64,
    bytes: u64,
    batches: usize,
}

impl Spill {
    /// Prepares `dir` (created if missing, old segments deleted).
    pub fn open(dir: &Path, max_bytes: u64, whisperer: &str) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut removed = 0u64;
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "spill") {
                fs::remove_file(&path)?;
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::warn!(
                dir = %dir.display(),
                segments = removed,
                "deleted spill segments of a previous run (their batch ids cannot be continued)"
            );
        }
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
            whisperer: whisperer.to_owned(),
            segments: VecDeque::new(),
            writer: None,
            reader: None,
            next_segment: 0,
            bytes: 0,
            batches: 0,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.batches == 0
    }

    /// Batches and bytes on disk.
    pub fn depth(&self) -> (usize, u64) {
        (self.batches, self.bytes)
    }

    /// Appends `batch`; `Ok(false)` when it does not fit in the bound.
    pub fn push(&mut self, batch: &Batch) -> io::Result<bool> {
        let encoded = encode(batch)?;
        let len = encoded.len() as u64 + 4;
        if self.bytes + len > self.max_bytes {
            return Ok(false);
        }
        let start_new = match self.segments.back() {
            Some(last) => self.writer.is_none() || last.bytes >= SEGMENT_BYTES,
            None => true,
        };
        if start_new {
            self.close_writer()?;
            let path = self
                .dir
                .join(format!("segment-{:010}.spill", self.next_segment));
            self.next_segment += 1;
            self.writer = Some(BufWriter::new(File::create(&path)?));
            self.segments.push_back(Segment {
                path,
                bytes: 0,
                batches: 0,
            });
        }
        let (Some(writer), Some(segment)) = (self.writer.as_mut(), self.segments.back_mut()) else {
            return Err(io::Error::other("spill writer missing"));
        };
        let frame_len = u32::try_from(encoded.len()).map_err(io::Error::other)?;
        writer.write_all(&frame_len.to_le_bytes())?;
        writer.write_all(&encoded)?;
        segment.bytes += len;
        segment.batches += 1;
        self.bytes += len;
        self.batches += 1;
        Ok(true)
    }

    fn close_writer(&mut self) -> io::Result<()> {
        if let Some(mut writer) = self.writer.take() {
            writer.flush()?;
        }
        Ok(())
    }

    /// Takes the oldest batch. An error means the head segment is damaged: it is deleted and
    /// the batches it still held are returned as lost (their count).
    pub fn pop(&mut self) -> Option<Result<Batch, (io::Error, usize)>> {
        if self.batches == 0 {
            return None;
        }
        Some(self.pop_inner().map_err(|error| {
            let lost = self.segments.front().map_or(0, |s| s.batches);
            self.drop_head();
            (error, lost)
        }))
    }

    fn pop_inner(&mut self) -> io::Result<Batch> {
        let head_is_tail = self.segments.len() == 1;
        if head_is_tail && self.writer.is_some() {
            // Reading the segment being written: close it, later batches start a new one.
            self.close_writer()?;
        }
        if self.reader.is_none() {
            let head = self
                .segments
                .front()
                .ok_or_else(|| io::Error::other("spill segment missing"))?;
            self.reader = Some(BufReader::new(File::open(&head.path)?));
        }
        let reader = self
            .reader
            .as_mut()
            .ok_or_else(|| io::Error::other("spill reader missing"))?;
        let mut len = [0u8; 4];
        reader.read_exact(&mut len)?;
        let mut payload = vec![0; u32::from_le_bytes(len) as usize];
        reader.read_exact(&mut payload)?;
        let batch = decode(&payload, &self.whisperer)?;
        let head = self
            .segments
            .front_mut()
            .ok_or_else(|| io::Error::other("spill segment missing"))?;
        head.batches -= 1;
        self.batches -= 1;
        if head.batches == 0 {
            self.drop_head();
        }
        Ok(batch)
    }

    fn drop_head(&mut self) {
        self.reader = None;
        if let Some(head) = self.segments.pop_front() {
            self.bytes = self.bytes.saturating_sub(head.bytes);
            self.batches = self.batches.saturating_sub(head.batches);
            if self.segments.is_empty() {
                self.writer = None;
            }
            if let Err(error) = fs::remove_file(&head.path) {
                tracing::warn!(path = %head.path.display(), %error, "cannot delete a spill segment");
            }
        }
    }
}

fn encode(batch: &Batch) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(batch.bytes as usize + 64);
    out.extend_from_slice(&batch.shard.to_le_bytes());
    out.extend_from_slice(&batch.bytes.to_le_bytes());
    out.extend_from_slice(&batch.wire_bytes.to_le_bytes());
    let count = u32::try_from(batch.frames.len()).map_err(io::Error::other)?;
    out.extend_from_slice(&count.to_le_bytes());
    for frame in &batch.frames {
        out.extend_from_slice(&frame.session_id.to_le_bytes());
        out.extend_from_slice(&frame.time.to_le_bytes());
        out.extend_from_slice(&frame.interface.to_le_bytes());
        out.extend_from_slice(&frame.link_type.to_le_bytes());
        out.extend_from_slice(&frame.wire_len.to_le_bytes());
        out.push(u8::from(frame.from_client));
        let len = u32::try_from(frame.frame.len()).map_err(io::Error::other)?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&frame.frame);
    }
    rmp_serde::encode::write(&mut out, &batch.sessions).map_err(io::Error::other)?;
    Ok(out)
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "spill record cut short",
            ));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

fn decode(bytes: &[u8], whisperer: &str) -> io::Result<Batch> {
    let mut cursor = Cursor(bytes);
    let shard = u16::from_le_bytes(cursor.array()?);
    let size = u64::from_le_bytes(cursor.array()?);
    let wire_bytes = u64::from_le_bytes(cursor.array()?);
    let count = u32::from_le_bytes(cursor.array()?) as usize;
    let mut frames = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let session_id = u64::from_le_bytes(cursor.array()?);
        let time = i64::from_le_bytes(cursor.array()?);
        let interface = u32::from_le_bytes(cursor.array()?);
        let link_type = u16::from_le_bytes(cursor.array()?);
        let wire_len = u32::from_le_bytes(cursor.array()?);
        let [from_client] = cursor.array()?;
        let len = u32::from_le_bytes(cursor.array()?) as usize;
        frames.push(PacketRecord {
            whisperer: whisperer.to_owned(),
            session_id,
            time,
            interface,
            link_type,
            wire_len,
            from_client: from_client != 0,
            frame: cursor.take(len)?.to_vec(),
        });
    }
    let sessions: Vec<TcpSessionRecord> =
        rmp_serde::from_slice(cursor.0).map_err(io::Error::other)?;
    Ok(Batch {
        shard,
        frames,
        sessions,
        bytes: size,
        wire_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(shard: u16, frames: usize) -> Batch {
        let frames: Vec<PacketRecord> = (0..frames)
            .map(|i| PacketRecord {
                whisperer: "w".into(),
                session_id: i as u64,
                time: i as i64 * 1000,
                interface: 2,
                link_type: 1,
                wire_len: 1500,
                from_client: i % 2 == 0,
                frame: vec![i as u8; 100 + i],
            })
            .collect();
        Batch {
            shard,
            bytes: frames.iter().map(|f| f.frame.len() as u64).sum(),
            wire_bytes: 1500 * frames.len() as u64,
            frames,
            sessions: Vec::new(),
        }
    }

    #[test]
    fn batches_come_back_in_order_and_the_bound_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("segment-old.spill"), b"junk").expect("write");
        let mut spill = Spill::open(dir.path(), 4096, "w").expect("open");
        assert!(!dir.path().join("segment-old.spill").exists());
        let mut pushed = Vec::new();
        for shard in 0..100 {
            let b = batch(shard, 3);
            if !spill.push(&b).expect("push") {
                break;
            }
            pushed.push(b);
        }
        assert!(pushed.len() > 2 && pushed.len() < 100, "{}", pushed.len());
        assert!(spill.depth().1 <= 4096);
        let first = spill.pop().expect("some").expect("ok");
        assert_eq!(first, pushed[0]);
        // Writing after reading started goes to a new segment, still in order.
        let extra = batch(999, 1);
        assert!(spill.push(&extra).expect("push"));
        pushed.push(extra);
        let mut got = vec![first];
        while let Some(b) = spill.pop() {
            got.push(b.expect("ok"));
        }
        assert_eq!(got, pushed);
        assert!(spill.is_empty());
        assert_eq!(spill.depth(), (0, 0));
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}
