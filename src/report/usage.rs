//! What the process has used so far: CPU time and peak resident memory, for the manifest's
//! per-stage table (issue 12: wall, CPU and peak RSS per stage).
//!
//! Linux only (`getrusage` and `/proc/self`); elsewhere every reading is `None` and the
//! manifest leaves the fields out. The peak is the kernel's high-water mark since the process
//! started, so it rises in the stage that sets a new peak. It is never restarted
//! (`/proc/self/clear_refs` could): that would also hide the true peak from `getrusage` and
//! `/usr/bin/time`, which read the same mark.

/// CPU seconds (user + system, all threads) the process has used so far.
pub fn cpu_seconds() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes a whole `rusage` into the pointer it is given.
        let status = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
        if status != 0 {
            return None;
        }
        // SAFETY: the call succeeded, so the struct is initialised (and it was zeroed before).
        let usage = unsafe { usage.assume_init() };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        Some(secs(usage.ru_utime) + secs(usage.ru_stime))
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Peak resident memory (kB) since the process started (`VmHWM` of `/proc/self/status`).
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn readings_grow_with_work() {
        let cpu0 = cpu_seconds().expect("getrusage works on Linux");
        // touch 64 MiB: the peak is then at least that much
        let mut block = vec![0u8; 64 << 20];
        for i in (0..block.len()).step_by(4096) {
            block[i] = 1;
        }
        let touched: u64 = block.iter().map(|&b| u64::from(b)).sum();
        assert_eq!(touched, (64 << 20) / 4096);
        let peak = peak_rss_kb().expect("VmHWM");
        // (the kernel's counts are batched per thread: a few hundred kB of slack)
        assert!(peak >= (64 << 10) - 1024, "peak {peak} kB after touching 64 MiB");
        drop(block);
        // the kernel accounts CPU time in ticks: work until the next one shows (bounded)
        let started = std::time::Instant::now();
        let mut spin = 0u64;
        while cpu_seconds().expect("getrusage") <= cpu0 && started.elapsed().as_secs() < 5 {
            spin = (0..100_000u64).fold(spin, |a, i| a.wrapping_mul(31).wrapping_add(i));
        }
        assert!(cpu_seconds().expect("getrusage") > cpu0, "5 s of work added no CPU time ({spin})");
    }
}
