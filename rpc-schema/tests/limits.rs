//! What one agent message may cost: the fuzzing finding of issue 9 (a 2 kB `CaptureBatch` whose
//! zero-sized frames each got a copy of a 2 KiB `whisperer`) and the bounds that refuse it.

use std::time::{Duration, Instant};

use spider_rpc_schema::ingest_capnp::capture_batch;
use spider_rpc_schema::limits::{
    read_name, read_records, reader_options, MAX_BATCH_RECORDS, MAX_MESSAGE_WORDS, MAX_NAME_BYTES,
};
use spider_rpc_schema::{read_frame, read_tcp_session, SchemaError};

/// The reproducer of `fuzz/README.md` (finding 5): root, whisperer text, then an inline
/// composite list of `frames` zero-sized structs. Serialized with its segment table.
fn amplifying_batch(whisperer_len: usize, frames: u64) -> Vec<u8> {
    let mut text = vec![b'w'; whisperer_len];
    text.push(0);
    let text_words = text.len().div_ceil(8) as u64;
    let words: [u64; 9] = [
        7 << 48,
        0,
        1 | 6 << 2 | 2 << 32 | (text.len() as u64) << 35,
        1 | 4 << 2 | 7 << 32,
        0,
        0,
        0,
        0,
        frames << 2,
    ];
    let mut body: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    text.resize(text_words as usize * 8, 0);
    body.extend_from_slice(&text);
    let mut message = Vec::new();
    message.extend_from_slice(&0u32.to_le_bytes());
    message.extend_from_slice(&((body.len() / 8) as u32).to_le_bytes());
    message.extend_from_slice(&body);
    message
}

/// Reads a capture batch as the backend's ingest does: names first, then the record lists.
fn read_as_ingest(bytes: &[u8]) -> Result<usize, SchemaError> {
    let message =
        capnp::serialize::read_message_from_flat_slice(&mut &bytes[..], reader_options())?;
    let batch = message.get_root::<capture_batch::Reader<'_>>()?;
    let whisperer = read_name("batch.whisperer", batch.get_whisperer())?;
    let frames = read_records("batch.frames", batch.get_frames(), |frame| {
        read_frame(frame, &whisperer)
    })?;
    let sessions = read_records("batch.sessions", batch.get_sessions(), read_tcp_session)?;
    Ok(frames.len() + sessions.len())
}

#[test]
fn the_fuzzing_reproducer_is_refused_at_once() {
    // 2048 + 1 bytes of whisperer: too long a name, refused before a frame is read.
    let reproducer = amplifying_batch(2048, 200_000);
    assert!(reproducer.len() < 2200, "{} bytes", reproducer.len());
    let started = Instant::now();
    let error = read_as_ingest(&reproducer).expect_err("the reproducer was read");
    assert!(
        matches!(error, SchemaError::TextTooLong { field: "batch.whisperer", len: 2048, max } if max == MAX_NAME_BYTES),
        "{error}"
    );
    // With a short name, the zero-sized frames are refused before the first is read.
    for frames in [1000, u64::from(MAX_BATCH_RECORDS)] {
        let error = read_as_ingest(&amplifying_batch(8, frames)).expect_err("read");
        assert!(
            matches!(error, SchemaError::ZeroSized { field: "batch.frames", len } if u64::from(len) == frames),
            "{error}"
        );
        assert!(error.to_string().contains("zero-sized"), "{error}");
    }
    // 200 000: refused as too many, before the elements' size is looked at.
    let error = read_as_ingest(&amplifying_batch(8, 200_000)).expect_err("read");
    assert!(
        matches!(error, SchemaError::TooMany { len: 200_000, .. }),
        "{error}"
    );
    // 8 million (the default traversal limit's worth): the listener's traversal limit refuses
    // the list itself (Cap'n Proto counts a zero-sized element as one word read).
    let error = read_as_ingest(&amplifying_batch(8, 8 << 20)).expect_err("read");
    assert!(error.to_string().contains("Read limit exceeded"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn zero_sized_lists_are_refused_inside_records_too() {
    // AgentInfo's interfaces (the fuzzer's first find), as 100 000 zero-sized structs.
    let mut builder = capnp::message::Builder::new_default();
    builder.init_root::<spider_rpc_schema::agent_capnp::agent_info::Builder<'_>>();
    let mut words = capnp::serialize::write_message_to_words(&builder);
    // Root struct of AgentInfo as written, then replace its `interfaces` pointer by an inline
    // composite list of 100 000 zero-sized structs appended at the end of the segment.
    let message = capnp::serialize::read_message_from_flat_slice(&mut &words[..], reader_options())
        .expect("read");
    let root = message
        .get_root::<spider_rpc_schema::agent_capnp::agent_info::Reader<'_>>()
        .expect("root");
    assert!(spider_rpc_schema::read_agent_info(root).is_ok());
    drop(message);
    // The segment: [root pointer][root struct: data words, pointers]; find the struct's size.
    let root_pointer = u64::from_le_bytes(words[8..16].try_into().expect("8 bytes"));
    let data_words = ((root_pointer >> 32) & 0xffff) as usize;
    let pointers = ((root_pointer >> 48) & 0xffff) as usize;
    let interfaces_field = interfaces_pointer_index();
    assert!(interfaces_field < pointers);
    let segment_words = u32::from_le_bytes(words[4..8].try_into().expect("4 bytes")) as usize;
    // The pointer's own word index (from the segment start) and the tag appended at the end.
    let pointer_word = 1 + data_words + interfaces_field;
    let tag_word = segment_words;
    let offset = (tag_word - pointer_word - 1) as u64;
    let list_pointer: u64 = 1 | offset << 2 | 7 << 32;
    let start = 8 + pointer_word * 8;
    words[start..start + 8].copy_from_slice(&list_pointer.to_le_bytes());
    words.extend_from_slice(&(100_000u64 << 2).to_le_bytes());
    words[4..8].copy_from_slice(&((segment_words + 1) as u32).to_le_bytes());
    let message = capnp::serialize::read_message_from_flat_slice(&mut &words[..], reader_options())
        .expect("read");
    let root = message
        .get_root::<spider_rpc_schema::agent_capnp::agent_info::Reader<'_>>()
        .expect("root");
    assert_eq!(root.get_interfaces().expect("list").len(), 100_000);
    let error = spider_rpc_schema::read_agent_info(root).expect_err("zero-sized interfaces");
    assert!(
        matches!(error, SchemaError::ZeroSized { len: 100_000, .. }),
        "{error}"
    );
}

/// The index of `interfaces` among AgentInfo's pointer fields, found by writing one.
fn interfaces_pointer_index() -> usize {
    let mut builder = capnp::message::Builder::new_default();
    let mut info = builder.init_root::<spider_rpc_schema::agent_capnp::agent_info::Builder<'_>>();
    info.reborrow().init_interfaces(1);
    let words = capnp::serialize::write_message_to_words(&builder);
    let root_pointer = u64::from_le_bytes(words[8..16].try_into().expect("8 bytes"));
    let data_words = ((root_pointer >> 32) & 0xffff) as usize;
    let pointers = ((root_pointer >> 48) & 0xffff) as usize;
    (0..pointers)
        .find(|index| {
            let at = 8 + (1 + data_words + index) * 8;
            words[at..at + 8] != [0; 8]
        })
        .expect("the interfaces pointer")
}

#[test]
fn batches_over_the_bounds_are_refused_and_within_them_read() {
    let mut builder = capnp::message::Builder::new_default();
    let mut batch = builder.init_root::<capture_batch::Builder<'_>>();
    batch.set_whisperer("w".repeat(MAX_NAME_BYTES).as_str());
    batch.reborrow().init_sessions(MAX_BATCH_RECORDS + 1);
    let words = capnp::serialize::write_message_to_words(&builder);
    let error = read_as_ingest(&words).expect_err("too many sessions");
    assert!(
        matches!(error, SchemaError::TooMany { field: "batch.sessions", len, max } if len == max + 1),
        "{error}"
    );
    let mut builder = capnp::message::Builder::new_default();
    let mut batch = builder.init_root::<capture_batch::Builder<'_>>();
    batch.set_whisperer("w".repeat(MAX_NAME_BYTES).as_str());
    let mut frames = batch.init_frames(3);
    for index in 0..3 {
        frames.reborrow().get(index).set_frame(&[0xab; 60]);
    }
    let words = capnp::serialize::write_message_to_words(&builder);
    assert_eq!(read_as_ingest(&words).ok(), Some(3));
}

#[test]
fn messages_over_the_size_limit_are_refused_whole() {
    let mut builder = capnp::message::Builder::new_default();
    let mut batch = builder.init_root::<capture_batch::Builder<'_>>();
    batch.set_whisperer("big");
    let mut frames = batch.init_frames(40);
    for index in 0..40 {
        frames.reborrow().get(index).set_frame(&vec![0; 1 << 20]);
    }
    let words = capnp::serialize::write_message_to_words(&builder);
    assert!(words.len() > MAX_MESSAGE_WORDS * 8);
    let error = read_as_ingest(&words).expect_err("too large");
    assert!(error.to_string().contains("too large"), "{error}");
}
