//! The study sets' evidence rows (the `hlh_evidence` audit trail) spilled to disk chunk by chunk
//! while detection runs, instead of being held in memory next to the measurements: at 1 M
//! patients they are ~8 M rows, ~1.4 GB as structs, at the moment memory peaks.
//!
//! Each chunk of patients under each set becomes one CSV body (no header), written by the one
//! table writer ([`ResultTable::write_csv_rows`] of an [`evidence_table`]), in a folder inside
//! the run's temporary output folder. The first rows of every chunk are also kept as rows, so
//! that the report shows the table's first rows without reading the text back.
//! [`EvidenceSpill::table`] joins the chunks in (set, chunk) order — the order the rows had in
//! memory — and removes the folder.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::hlh::{evidence_table, Detection, Evidence, EvidenceSink};
use crate::table::{Cell, ResultTable};

use super::outputs::StreamedCsv;

/// Name of the evidence table of a run.
pub(crate) const EVIDENCE_TABLE: &str = "hlh_evidence";

/// The first rows (as cells) and the row count of each spilled chunk, by (set, chunk).
type ChunkHeads = BTreeMap<(usize, usize), (Vec<Vec<Cell>>, usize)>;

/// A folder of evidence chunks, `SSS-CCCCCCCC.csv` (set, chunk; zero-padded so that the name
/// order is the numeric order).
pub(crate) struct EvidenceSpill {
    dir: PathBuf,
    /// Rows kept per chunk for the preview.
    preview_rows: usize,
    /// The first `preview_rows` rows and the row count of every chunk, by (set, chunk).
    heads: Mutex<ChunkHeads>,
}

impl EvidenceSpill {
    /// Create the (empty) folder `dir`; the table's first `preview_rows` rows will be kept as rows.
    pub(crate) fn create(dir: &Path, preview_rows: usize) -> io::Result<EvidenceSpill> {
        fs::create_dir_all(dir)?;
        Ok(EvidenceSpill { dir: dir.to_path_buf(), preview_rows, heads: Mutex::new(BTreeMap::new()) })
    }

    fn part(&self, set: usize, chunk: usize) -> PathBuf {
        self.dir.join(format!("{set:03}-{chunk:08}.csv"))
    }

    /// The folder.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The whole evidence table of `detections` (set `k` = `detections[k]`): a preview (header,
    /// types and first rows) and the CSV text — the header, then per set its in-memory rows and
    /// its spilled chunks in order. Removes the folder.
    pub(crate) fn table(self, detections: &[Detection]) -> io::Result<(ResultTable, StreamedCsv)> {
        let mut parts: Vec<PathBuf> = fs::read_dir(&self.dir)?.map(|e| e.map(|e| e.path())).collect::<io::Result<_>>()?;
        parts.sort();
        let heads = self.heads.into_inner().map_err(|_| io::Error::other("evidence spill: a writer panicked"))?;
        let mut heads = heads.into_iter().peekable();
        let total: u64 = parts.iter().map(|p| fs::metadata(p).map(|m| m.len())).sum::<io::Result<u64>>()?;
        let mut preview = evidence_table(EVIDENCE_TABLE, &[]);
        let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0) + 4096);
        out.extend_from_slice(preview.csv_header().as_bytes());
        let mut rows = 0usize;
        let mut next = parts.iter().peekable();
        for (k, d) in detections.iter().enumerate() {
            let in_memory = evidence_table(EVIDENCE_TABLE, &d.evidence);
            in_memory.write_csv_rows(rows, &mut out).map_err(io::Error::other)?;
            rows += in_memory.rows.len();
            keep_preview(&mut preview, in_memory.rows, self.preview_rows);
            let prefix = format!("{k:03}-");
            while let Some(p) = next.next_if(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix))) {
                out.extend_from_slice(&fs::read(p)?);
            }
            while let Some((_, (head, n))) = heads.next_if(|((set, _), _)| *set == k) {
                keep_preview(&mut preview, head, self.preview_rows);
                rows += n;
            }
        }
        if let Some(p) = next.next() {
            return Err(io::Error::other(format!("evidence chunk {} belongs to no criteria set", p.display())));
        }
        fs::remove_dir_all(&self.dir)?;
        Ok((preview, StreamedCsv { bytes: out, rows }))
    }
}

/// Append `rows` to `preview` until it holds `max` rows.
fn keep_preview(preview: &mut ResultTable, rows: Vec<Vec<Cell>>, max: usize) {
    let room = max.saturating_sub(preview.rows.len());
    preview.rows.extend(rows.into_iter().take(room));
}

impl EvidenceSink for EvidenceSpill {
    /// Writes the chunk's rows (a row number in an error counts from the chunk's first row).
    fn take(&self, set: usize, chunk: usize, rows: &[Evidence]) -> io::Result<()> {
        let mut w = BufWriter::new(fs::File::create(self.part(set, chunk))?);
        let table = evidence_table(EVIDENCE_TABLE, rows);
        table.write_csv_rows(0, &mut w).map_err(io::Error::other)?;
        w.flush()?;
        let head: Vec<Vec<Cell>> = table.rows.into_iter().take(self.preview_rows).collect();
        self.heads
            .lock()
            .map_err(|_| io::Error::other("evidence spill: a writer panicked"))?
            .insert((set, chunk), (head, rows.len()));
        Ok(())
    }
}
