//! Predictable, valid and unique names for containers and volumes.
//!
//! Docker and Podman accept names matching `[a-zA-Z0-9][a-zA-Z0-9_.-]*`. Run ids and step keys may
//! contain other characters (`build[os=linux,n=1]`), so they are sanitised; whenever sanitising
//! (or shortening) changed a part, a short hash of the original is appended so two different keys
//! never map to the same name.

/// Longest sanitised part kept before the hash is appended.
const MAX_PART: usize = 64;

/// `co-<run>-<step>-<attempt>`.
pub fn container_name(run_id: &str, step_key: &str, attempt: u32) -> String {
    format!("co-{}-{}-{attempt}", part(run_id), part(step_key))
}

/// `co-ws-<run>`: the run's workspace volume.
pub fn volume_name(run_id: &str) -> String {
    format!("co-ws-{}", part(run_id))
}

/// Longest Docker Swarm service name (a DNS label).
pub const MAX_SERVICE_NAME: usize = 63;

/// A Docker Swarm service name for an attempt: [`container_name`] made a DNS label (letters,
/// digits and dashes, at most 63), always ending in a hash of the run, step and attempt, so two
/// attempts never share one however the readable part was cut.
pub fn service_name(run_id: &str, step_key: &str, attempt: u32) -> String {
    let full = format!("{run_id}\u{0}{step_key}\u{0}{attempt}");
    let hash = format!("{:08x}", short_hash(&full));
    let mut readable = String::new();
    for c in container_name(run_id, step_key, attempt).chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && readable.ends_with('-')) {
            readable.push(c);
        }
    }
    let keep = MAX_SERVICE_NAME - hash.len() - 1;
    let readable: String = readable.chars().take(keep).collect();
    format!("{}-{hash}", readable.trim_end_matches('-'))
}

fn part(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut last_dash = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
            out.push(c);
            last_dash = c == '-';
        } else if !last_dash {
            out.push('-');
            last_dash = true;
        }
    }
    let trimmed = out.trim_matches('-');
    let mut clean: String = trimmed.chars().take(MAX_PART).collect();
    if clean != raw {
        if !clean.is_empty() {
            clean.push('-');
        }
        clean.push_str(&format!("{:08x}", short_hash(raw)));
    }
    clean
}

/// FNV-1a (64 bit) folded to 32 bits: stable across versions and platforms, no dependency.
fn short_hash(s: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    ((h >> 32) ^ (h & 0xffff_ffff)) as u32
}

/// Whether `name` is a valid container/volume name.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_stay_readable() {
        assert_eq!(container_name("01JABC", "say", 1), "co-01JABC-say-1");
        assert_eq!(volume_name("01JABC"), "co-ws-01JABC");
    }

    #[test]
    fn matrix_keys_are_sanitised_and_stay_unique() {
        let a = container_name("r1", "build[os=linux,n=1]", 2);
        let b = container_name("r1", "build[os=linux,n=2]", 2);
        let c = container_name("r1", "build(os=linux,n=1)", 2);
        assert!(a.starts_with("co-r1-build-os-linux-n-1-"), "{a}");
        assert!(a.ends_with("-2"));
        for n in [&a, &b, &c] {
            assert!(is_valid_name(n), "{n}");
        }
        assert_ne!(a, b);
        assert_ne!(a, c);
        // Stable.
        assert_eq!(a, container_name("r1", "build[os=linux,n=1]", 2));
    }

    #[test]
    fn service_names_are_dns_labels_and_unique() {
        let long = "x".repeat(300);
        let keys = [
            "say",
            "build[os=linux,n=1]",
            "build[os=linux,n=2]",
            "a_b.c",
            &long,
        ];
        let mut seen = std::collections::HashSet::new();
        for key in keys {
            for attempt in [1, 2] {
                let n = service_name("01JABC_run", key, attempt);
                assert!(n.len() <= MAX_SERVICE_NAME, "{n}");
                assert!(n.starts_with("co-01JABC-run-"), "{n}");
                assert!(
                    n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                    "{n}"
                );
                assert!(!n.contains("--") && !n.ends_with('-'), "{n}");
                assert!(seen.insert(n));
            }
        }
        assert_eq!(service_name("r", "say", 1), service_name("r", "say", 1));
    }

    #[test]
    fn odd_inputs_still_give_valid_names() {
        for key in ["", "ü", "[]", "a b", &"x".repeat(300), "-lead", ".dot"] {
            let n = container_name("run id/1", key, 1);
            assert!(is_valid_name(&n), "{key:?} -> {n}");
            assert!(n.len() < 160, "{n}");
            assert!(is_valid_name(&volume_name(key)), "{key:?}");
        }
        assert_ne!(
            container_name("r", "-lead", 1),
            container_name("r", "lead", 1)
        );
    }
}
