//! The study sets' evidence rows (the `hlh_evidence` audit trail) spilled to disk chunk by chunk
//! while detection runs, instead of being held in memory next to the measurements: at 1 M
//! patients they are ~8 M rows, ~1.4 GB as structs, at the moment memory peaks.
//!
//! Each chunk of patients under each set becomes one CSV body (no header) in a folder inside the
//! run's temporary output folder; [`EvidenceSpill::table`] reads them back in (set, chunk)
//! order — the order the rows had in memory — and removes the folder.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::hlh::{write_evidence_rows, Detection, Evidence, EvidenceSink, EVIDENCE_COLUMNS};

/// A folder of evidence chunks, `SSS-CCCCCCCC.csv` (set, chunk; zero-padded so that the name
/// order is the numeric order).
pub(crate) struct EvidenceSpill {
    dir: PathBuf,
}

impl EvidenceSpill {
    /// Create the (empty) folder `dir`.
    pub(crate) fn create(dir: &Path) -> io::Result<EvidenceSpill> {
        fs::create_dir_all(dir)?;
        Ok(EvidenceSpill { dir: dir.to_path_buf() })
    }

    fn part(&self, set: usize, chunk: usize) -> PathBuf {
        self.dir.join(format!("{set:03}-{chunk:08}.csv"))
    }

    /// The folder.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The whole evidence table of `detections` (set `k` = `detections[k]`): the header, then
    /// per set its in-memory rows and its spilled chunks in order. Removes the folder.
    pub(crate) fn table(self, detections: &[Detection]) -> io::Result<Vec<u8>> {
        let mut parts: Vec<PathBuf> = fs::read_dir(&self.dir)?.map(|e| e.map(|e| e.path())).collect::<io::Result<_>>()?;
        parts.sort();
        let total: u64 = parts.iter().map(|p| fs::metadata(p).map(|m| m.len())).sum::<io::Result<u64>>()?;
        let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0) + 4096);
        out.extend_from_slice(EVIDENCE_COLUMNS.join(",").as_bytes());
        out.push(b'\n');
        let mut next = parts.iter().peekable();
        for (k, d) in detections.iter().enumerate() {
            write_evidence_rows(&d.evidence, &mut out)?;
            let prefix = format!("{k:03}-");
            while let Some(p) = next.next_if(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix))) {
                out.extend_from_slice(&fs::read(p)?);
            }
        }
        if let Some(p) = next.next() {
            return Err(io::Error::other(format!("evidence chunk {} belongs to no criteria set", p.display())));
        }
        fs::remove_dir_all(&self.dir)?;
        Ok(out)
    }
}

impl EvidenceSink for EvidenceSpill {
    fn take(&self, set: usize, chunk: usize, rows: &[Evidence]) -> io::Result<()> {
        let mut w = BufWriter::new(fs::File::create(self.part(set, chunk))?);
        write_evidence_rows(rows, &mut w)?;
        w.flush()
    }
}
