//! The study sets' evidence rows (the `hlh_evidence` audit trail) spilled to disk chunk by chunk
//! while detection runs, instead of being held in memory next to the measurements: at 1 M
//! patients they are ~8 M rows, ~1.4 GB as structs, at the moment memory peaks.
//!
//! Each chunk of patients under each set becomes one CSV body (no header), written by the one
//! table writer ([`ResultTable::write_csv_rows`] of an [`evidence_table`]), in a folder inside
//! the run's temporary output folder. The first rows of every chunk are also kept as rows, so
//! that the report shows the table's first rows without reading the text back.
//! [`EvidenceSpill::write_table`] joins the chunks in (set, chunk) order — the order the rows had in
//! memory — and removes the folder.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::hlh::{evidence_table, Detection, Evidence, EvidenceSink};
use crate::table::{Cell, ResultTable};

use super::outputs::{keep_preview, StreamedCsv};

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

    /// Write the whole evidence table of `detections` (set `k` = `detections[k]`) to the CSV file
    /// `csv` — the header, then per set its in-memory rows and its spilled chunks in order,
    /// copied file to file — and return its preview (header, types and first rows). Removes
    /// the folder.
    pub(crate) fn write_table(self, detections: &[Detection], csv: &Path) -> io::Result<(ResultTable, StreamedCsv)> {
        let mut parts: Vec<PathBuf> = fs::read_dir(&self.dir)?.map(|e| e.map(|e| e.path())).collect::<io::Result<_>>()?;
        parts.sort();
        let heads = self.heads.into_inner().map_err(|_| io::Error::other("evidence spill: a writer panicked"))?;
        let mut heads = heads.into_iter().peekable();
        let mut preview = evidence_table(EVIDENCE_TABLE, &[]);
        let mut out = BufWriter::with_capacity(1 << 20, fs::File::create(csv)?);
        out.write_all(preview.csv_header().as_bytes())?;
        let mut rows = 0usize;
        let mut next = parts.iter().peekable();
        for (k, d) in detections.iter().enumerate() {
            let in_memory = evidence_table(EVIDENCE_TABLE, &d.evidence);
            in_memory.write_csv_rows(rows, &mut out).map_err(io::Error::other)?;
            rows += in_memory.rows.len();
            keep_preview(&mut preview, in_memory.rows, self.preview_rows);
            let prefix = format!("{k:03}-");
            while let Some(p) = next.next_if(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix))) {
                io::copy(&mut fs::File::open(p)?, &mut out)?;
            }
            while let Some((_, (head, n))) = heads.next_if(|((set, _), _)| *set == k) {
                keep_preview(&mut preview, head, self.preview_rows);
                rows += n;
            }
        }
        if let Some(p) = next.next() {
            return Err(io::Error::other(format!("evidence chunk {} belongs to no criteria set", p.display())));
        }
        out.flush()?;
        fs::remove_dir_all(&self.dir)?;
        Ok((preview, StreamedCsv { path: csv.to_path_buf(), rows }))
    }
}

impl EvidenceSink for EvidenceSpill {
    /// Writes the chunk's rows (a row number in an error counts from the chunk's first row).
    fn take(&self, set: usize, chunk: usize, rows: &[Evidence]) -> io::Result<()> {
        let mut w = BufWriter::new(fs::File::create(self.part(set, chunk))?);
        let table = evidence_table(EVIDENCE_TABLE, rows);
        table.write_csv_rows(0, &mut w).map_err(io::Error::other)?;
        w.flush()?;
        let head: Vec<Vec<Cell>> = table.rows.into_iter().take(self.preview_rows).collect();
        let mut heads = self.heads.lock().map_err(|_| io::Error::other("evidence spill: a writer panicked"))?;
        heads.insert((set, chunk), (head, rows.len()));
        drop_unneeded_heads(&mut heads, (set, chunk), self.preview_rows);
        Ok(())
    }
}

/// Empty the heads the preview cannot reach: once the chunks held so far, in (set, chunk)
/// order, reach `preview_rows` rows, the rows of every later chunk come after the preview
/// (a chunk that arrives later only moves that point earlier). Keeps the memory of the heads
/// at about one preview instead of one per chunk (~1 GB of cells at 1 M patients).
fn drop_unneeded_heads(heads: &mut ChunkHeads, inserted: (usize, usize), preview_rows: usize) {
    let mut seen = 0usize;
    let mut cut = None;
    for (key, (_, n)) in heads.iter() {
        seen += n;
        if seen >= preview_rows {
            cut = Some(*key);
            break;
        }
    }
    let Some(cut) = cut else { return };
    if inserted > cut {
        if let Some((head, _)) = heads.get_mut(&inserted) {
            *head = Vec::new();
        }
    }
    // After every call the heads after the cut are empty, and the cut only moves earlier: the
    // heads between the new and the old cut are the only others to empty (no chunk is sent
    // empty, so the first empty head is past the old cut).
    for (_, (head, _)) in heads.range_mut((std::ops::Bound::Excluded(cut), std::ops::Bound::Unbounded)) {
        if head.is_empty() {
            break;
        }
        *head = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In any arrival order, the heads left after pruning give the preview that every head gives.
    #[test]
    fn pruned_heads_give_the_same_preview_in_any_arrival_order() {
        let preview_rows = 5;
        let keys: Vec<(usize, usize)> = (0..3).flat_map(|set| (0..12).map(move |chunk| (set, chunk))).collect();
        let head_of = |(set, chunk): (usize, usize)| {
            let n = 1 + (set * 7 + chunk * 3) % 4;
            let rows: Vec<Vec<Cell>> =
                (0..n.min(preview_rows)).map(|i| vec![Cell::Int((set * 1000 + chunk * 10 + i) as i64)]).collect();
            (rows, n)
        };
        let preview_of = |heads: &ChunkHeads| {
            let mut t = ResultTable::new("t", &["x"]);
            for (head, _) in heads.values() {
                keep_preview(&mut t, head.clone(), preview_rows);
            }
            t.rows
        };
        let all: ChunkHeads = keys.iter().map(|&k| (k, head_of(k))).collect();
        let expected = preview_of(&all);
        assert_eq!(expected.len(), preview_rows);
        let mut state = 12345u64;
        for round in 0..50 {
            let mut order = keys.clone();
            for i in (1..order.len()).rev() {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                order.swap(i, (state >> 33) as usize % (i + 1));
            }
            if round == 0 {
                order.reverse(); // latest chunks first: the cut moves earlier many times
            }
            let mut heads = ChunkHeads::new();
            for k in order {
                heads.insert(k, head_of(k));
                drop_unneeded_heads(&mut heads, k, preview_rows);
            }
            assert_eq!(preview_of(&heads), expected, "round {round}");
            let kept = heads.values().filter(|(h, _)| !h.is_empty()).count();
            assert!(kept <= preview_rows, "round {round}: {kept} heads kept");
            assert_eq!(heads.values().map(|(_, n)| n).sum::<usize>(), all.values().map(|(_, n)| n).sum::<usize>());
        }
    }
}
