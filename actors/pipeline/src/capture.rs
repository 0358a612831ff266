use std::io::Read;
use std::path::Path;

use spider_model::Record;
use spider_pcap::{CaptureReader, PcapError};

use crate::{Analyzer, AnalyzerStats, PipelineConfig};

/// How a capture file's analysis ended.
#[derive(Debug)]
pub struct CaptureSummary {
    pub frames: u64,
    pub stats: AnalyzerStats,
    /// The damage that ended reading early; what came before it was analysed.
    pub error: Option<PcapError>,
}

/// Progress callbacks come every this many frames.
const PROGRESS_EVERY: u64 = 16 * 1024;

/// Runs every record of `reader` through `analyzer`, then finishes it.
///
/// A damaged file stops the reading, not the analysis: the records before the damage are
/// analysed and finished, and the error is returned in the summary.
pub fn analyze_capture<R: Read>(
    reader: &mut CaptureReader<R>,
    analyzer: &mut Analyzer,
    sink: &mut impl FnMut(Record),
    progress: &mut impl FnMut(u64),
) -> CaptureSummary {
    let mut frames = 0;
    let error = loop {
        match reader.next_record() {
            Ok(Some(record)) => {
                frames += 1;
                analyzer.process_frame(
                    record.link_type,
                    record.ts_nanos,
                    record.data,
                    record.orig_len,
                    sink,
                );
                if frames % PROGRESS_EVERY == 0 {
                    progress(reader.position());
                }
            }
            Ok(None) => break None,
            Err(error) => break Some(error),
        }
    };
    analyzer.finish(sink);
    progress(reader.position());
    CaptureSummary {
        frames,
        stats: analyzer.stats(),
        error,
    }
}

/// Opens and analyses a capture file with `config`; the error is the file's opening only.
pub fn analyze_file(
    path: &Path,
    config: PipelineConfig,
    sink: &mut impl FnMut(Record),
) -> Result<CaptureSummary, PcapError> {
    let mut reader = CaptureReader::open(path)?;
    let mut analyzer = Analyzer::new(config);
    Ok(analyze_capture(
        &mut reader,
        &mut analyzer,
        sink,
        &mut |_| {},
    ))
}
