//! The standard `process_*` families (the names every Prometheus client library uses), read from
//! `/proc` at every scrape on Linux; elsewhere they are left out.
//!
//! - `/proc/self/stat`: CPU time (user + system, in clock ticks), start time (ticks after boot),
//!   virtual memory (bytes);
//! - `/proc/self/status`: resident memory (`VmRSS`, kB);
//! - `/proc/self/fd`: open file descriptors; `/proc/self/limits`: their soft limit;
//! - `/proc/stat`: the boot time (`btime`, seconds since the epoch).

use std::fmt::Write as _;

use super::{MetricFamily, FAMILIES};

pub const CPU_SECONDS: &str = "process_cpu_seconds_total";
pub const RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
pub const VIRTUAL_MEMORY: &str = "process_virtual_memory_bytes";
pub const OPEN_FDS: &str = "process_open_fds";
pub const MAX_FDS: &str = "process_max_fds";
pub const START_TIME: &str = "process_start_time_seconds";

/// Clock ticks per second of the times in `/proc/self/stat` (`USER_HZ`): 100 is part of the
/// kernel's ABI on every architecture (the Prometheus Go and Python clients assume it too).
const TICKS_PER_SECOND: f64 = 100.0;

/// Whether the family `name` is rendered here (not by the recorder).
pub fn owns(name: &str) -> bool {
    name.starts_with("process_")
}

/// Appends the families whose values could be read (an unreadable file leaves its families out
/// rather than failing the scrape).
pub fn render(out: &mut String) {
    for (name, value) in read() {
        if let Some(family) = FAMILIES.iter().find(|f| f.name == name) {
            write_family(out, family, value);
        }
    }
}

fn write_family(out: &mut String, family: &MetricFamily, value: f64) {
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n",
        name = family.name,
        help = family.help,
        kind = family.kind.as_str(),
        value = number(value),
    );
}

/// A sample value as the exposition format writes it (`+Inf`, not Rust's `inf`).
fn number(value: f64) -> String {
    if value == f64::INFINITY {
        "+Inf".to_string()
    } else {
        value.to_string()
    }
}

#[cfg(target_os = "linux")]
fn read() -> Vec<(&'static str, f64)> {
    let file = |path: &str| std::fs::read_to_string(path).ok();
    let mut values = Vec::new();
    let stat = file("/proc/self/stat").and_then(|s| parse_stat(&s));
    if let Some(stat) = &stat {
        values.push((
            CPU_SECONDS,
            (stat.utime + stat.stime) as f64 / TICKS_PER_SECOND,
        ));
    }
    if let Some(rss) = file("/proc/self/status").and_then(|s| parse_rss(&s)) {
        values.push((RESIDENT_MEMORY, rss as f64));
    }
    if let Some(stat) = &stat {
        values.push((VIRTUAL_MEMORY, stat.vsize as f64));
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        values.push((OPEN_FDS, fds.count() as f64));
    }
    if let Some(max) = file("/proc/self/limits").and_then(|s| parse_max_fds(&s)) {
        values.push((MAX_FDS, max));
    }
    if let (Some(stat), Some(boot)) = (&stat, file("/proc/stat").and_then(|s| parse_btime(&s))) {
        values.push((
            START_TIME,
            boot as f64 + stat.starttime as f64 / TICKS_PER_SECOND,
        ));
    }
    values
}

#[cfg(not(target_os = "linux"))]
fn read() -> Vec<(&'static str, f64)> {
    Vec::new()
}

/// The fields of `/proc/self/stat` used here.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    utime: u64,
    stime: u64,
    starttime: u64,
    vsize: u64,
}

/// Parses `/proc/PID/stat` (proc(5)): the command name (field 2) is in parentheses and may hold
/// spaces and parentheses itself, so the fields are counted after its last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field N is fields[N - 3].
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        utime: field(14)?,
        stime: field(15)?,
        starttime: field(22)?,
        vsize: field(23)?,
    })
}

/// `VmRSS:    12345 kB` of `/proc/PID/status`, in bytes.
fn parse_rss(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib = line.split_whitespace().next()?.parse::<u64>().ok()?;
    kib.checked_mul(1024)
}

/// The soft limit of `Max open files` in `/proc/PID/limits` (`unlimited` is +Inf).
fn parse_max_fds(text: &str) -> Option<f64> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    match line.split_whitespace().next()? {
        "unlimited" => Some(f64::INFINITY),
        n => n.parse::<u64>().ok().map(|n| n as f64),
    }
}

/// `btime SECONDS` of `/proc/stat`: when the system booted.
fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // A command name with spaces and parentheses, as a process may name itself.
        let text = "4242 (co (server) 1) S 1 4242 4242 0 -1 4194560 2000 0 0 0 \
                    250 75 0 0 20 0 12 0 98765 123456789 3000 18446744073709551615 1 1 0 0 0 0 0 \
                    0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                utime: 250,
                stime: 75,
                starttime: 98765,
                vsize: 123456789,
            })
        );
        assert_eq!(parse_stat("4242 (truncated"), None);
        assert_eq!(parse_stat("4242 (x) S 1 2"), None);
    }

    #[test]
    fn memory_limits_and_boot_time() {
        let status =
            "Name:\tcontainerops\nVmPeak:\t  900000 kB\nVmRSS:\t   20480 kB\nThreads:\t9\n";
        assert_eq!(parse_rss(status), Some(20480 * 1024));
        assert_eq!(parse_rss("Name:\tx\n"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63704                63704                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_max_fds(limits), Some(1024.0));
        assert_eq!(
            parse_max_fds(
                "Max open files            unlimited            unlimited            files\n"
            ),
            Some(f64::INFINITY)
        );
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(1024.0), "1024");
        assert_eq!(
            parse_btime("cpu  1 2 3\nbtime 1764000000\nprocesses 9\n"),
            Some(1_764_000_000)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_sensible_values() {
        let values: std::collections::HashMap<&str, f64> = read().into_iter().collect();
        for name in [
            CPU_SECONDS,
            RESIDENT_MEMORY,
            VIRTUAL_MEMORY,
            OPEN_FDS,
            MAX_FDS,
            START_TIME,
        ] {
            assert!(values.contains_key(name), "{name}: {values:?}");
        }
        assert!(values[RESIDENT_MEMORY] > 1e6, "{values:?}");
        assert!(
            values[VIRTUAL_MEMORY] >= values[RESIDENT_MEMORY],
            "{values:?}"
        );
        assert!(
            values[OPEN_FDS] >= 3.0 && values[OPEN_FDS] <= values[MAX_FDS],
            "{values:?}"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(values[START_TIME] <= now + 1.0, "{values:?}");
        assert!(values[START_TIME] > 1.6e9, "{values:?}");
        let mut text = String::new();
        render(&mut text);
        assert!(
            text.contains("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "),
            "{text}"
        );
    }
}
