//! Predictable, valid and unique Kubernetes names and label values.
//!
//! - Object names (Pods, PVCs) must be DNS-1123 labels: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most
//!   63 characters. Step keys (`build[os=linux,n=1]`) and, in principle, run ids can contain
//!   anything, so they are sanitised; whenever sanitising or shortening changed anything, a hash
//!   of the exact original is appended, so two different keys never share a name.
//! - Label values must be empty or `[A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?`, at most 63
//!   characters: the same treatment. The exact values are kept in annotations of the same keys
//!   (see [`crate::spec`]), which have no such limits; labels are only for selecting.

/// Longest Kubernetes name or label value.
pub const MAX_LEN: usize = 63;

/// `co-<run>-<step>-<attempt>`: the Pod of one attempt.
pub fn pod_name(run_id: &str, step_key: &str, attempt: u32) -> String {
    let run = dns_part(run_id);
    let step = dns_part(step_key);
    let suffix = format!("-{attempt}");
    let plain = format!("co-{run}-{step}{suffix}");
    if run == run_id && step == step_key && !step.is_empty() && plain.len() <= MAX_LEN {
        return plain;
    }
    let hash = hash_hex(&format!("{run_id}\n{step_key}"));
    hashed("co", &format!("{run}-{step}"), &hash, &suffix)
}

/// `co-ws-<run>`: the run's workspace PersistentVolumeClaim.
pub fn pvc_name(run_id: &str) -> String {
    let run = dns_part(run_id);
    let plain = format!("co-ws-{run}");
    if run == run_id && !run.is_empty() && plain.len() <= MAX_LEN {
        return plain;
    }
    hashed("co-ws", &run, &hash_hex(run_id), "")
}

/// `<prefix>-<body…>-<hash><suffix>`, `body` cut so the whole fits in [`MAX_LEN`].
fn hashed(prefix: &str, body: &str, hash: &str, suffix: &str) -> String {
    let budget = MAX_LEN - prefix.len() - 1 - hash.len() - 1 - suffix.len();
    let body: String = body.chars().take(budget).collect();
    let body = body.trim_matches('-');
    if body.is_empty() {
        format!("{prefix}-{hash}{suffix}")
    } else {
        format!("{prefix}-{body}-{hash}{suffix}")
    }
}

/// Lower-case; every run of characters outside `[a-z0-9]` becomes one `-`; no `-` at the ends.
fn dns_part(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut last_dash = true;
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
            last_dash = false;
        } else if !last_dash {
            out.push('-');
            last_dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// A valid label value for `raw`: `raw` itself when it is one, else its sanitised form with a
/// hash of `raw` appended.
pub fn label_value(raw: &str) -> String {
    if is_label_value(raw) {
        return raw.to_string();
    }
    let mut clean = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
            clean.push(c);
        } else {
            clean.push('-');
        }
    }
    let hash = hash_hex(raw);
    let budget = MAX_LEN - 1 - hash.len();
    let cut: String = clean.chars().take(budget).collect();
    let body = cut.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if body.is_empty() {
        hash
    } else {
        format!("{body}-{hash}")
    }
}

/// Whether `s` is a valid label value.
pub fn is_label_value(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let bytes = s.as_bytes();
    s.len() <= MAX_LEN
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `s` is a valid DNS-1123 label (Pod and PVC names here).
pub fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !s.is_empty()
        && s.len() <= MAX_LEN
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// 10 lower-case hex digits (40 bits) of FNV-1a 64: stable across versions and platforms.
fn hash_hex(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Fold the high bits in, then keep 40.
    let folded = h ^ (h >> 40);
    format!("{:010x}", folded & 0xff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ULID: &str = "01jcz8m9qg3d5n2w7x4y6a8b0c";

    #[test]
    fn plain_keys_stay_readable() {
        assert_eq!(pod_name(ULID, "say", 1), format!("co-{ULID}-say-1"));
        assert_eq!(pvc_name(ULID), format!("co-ws-{ULID}"));
        assert_eq!(label_value("build-linux"), "build-linux");
        assert_eq!(label_value(ULID), ULID);
    }

    #[test]
    fn matrix_keys_are_sanitised_and_stay_unique() {
        let a = pod_name(ULID, "build[os=linux,n=1]", 2);
        let b = pod_name(ULID, "build[os=linux,n=2]", 2);
        let c = pod_name(ULID, "build(os=linux,n=1)", 2);
        let d = pod_name(ULID, "build[os=linux,n=1]", 3);
        assert!(
            a.starts_with(&format!("co-{ULID}-build-os-linux-n-1-")),
            "{a}"
        );
        assert!(a.ends_with("-2"), "{a}");
        for n in [&a, &b, &c, &d] {
            assert!(is_dns_label(n), "{n}");
        }
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_eq!(a, pod_name(ULID, "build[os=linux,n=1]", 2), "stable");
        let la = label_value("build[os=linux,n=1]");
        let lb = label_value("build[os=linux,n=2]");
        assert!(is_label_value(&la) && is_label_value(&lb), "{la} {lb}");
        assert_ne!(la, lb);
    }

    #[test]
    fn long_and_odd_inputs_still_give_valid_unique_names() {
        let long = "x".repeat(300);
        let keys = [
            "",
            "ü",
            "[]",
            "a b",
            long.as_str(),
            "-lead",
            "lead",
            ".dot",
            "UPPER",
            "upper",
        ];
        let mut names = std::collections::HashSet::new();
        let mut labels = std::collections::HashSet::new();
        for key in keys {
            for attempt in [1, 10, u32::MAX] {
                let n = pod_name("Run ID/1", key, attempt);
                assert!(is_dns_label(&n), "{key:?} -> {n}");
                assert!(names.insert(n));
            }
            let l = label_value(key);
            assert!(is_label_value(&l), "{key:?} -> {l}");
            assert!(labels.insert(l), "{key:?}");
            let p = pvc_name(key);
            assert!(is_dns_label(&p), "{key:?} -> {p}");
        }
        // Exactly at the limit stays plain; one more is hashed.
        let step = "s".repeat(MAX_LEN - 3 - ULID.len() - 1 - 2);
        let n = pod_name(ULID, &step, 1);
        assert_eq!(n.len(), MAX_LEN);
        assert_eq!(n, format!("co-{ULID}-{step}-1"));
        let longer = format!("{step}s");
        let n = pod_name(ULID, &longer, 1);
        assert_eq!(n.len(), MAX_LEN, "{n}");
        assert_ne!(n, pod_name(ULID, &format!("{longer}s"), 1));
        let label = "a".repeat(MAX_LEN);
        assert_eq!(label_value(&label), label);
        let over = label_value(&format!("{label}a"));
        assert_eq!(over.len(), MAX_LEN);
        assert!(is_label_value(&over));
    }
}
