//! Masking secret values (and their base64, URL-encoded and JSON-escaped forms) in log text.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use indexmap::IndexSet;

/// The shortest base64 fragment of an *embedded* secret that is masked (in base64 chars).
///
/// A secret inside a larger base64 text (`base64("user:secret")`) only determines the chars that
/// encode its own bits, which for a short secret is a short run of chars (3 bytes at an offset of
/// one byte fix only 3 chars). Runs shorter than 6 chars (36 bits; secrets shorter than 5 bytes)
/// would mask unrelated text too often, so they are not registered. The secret itself and its
/// standalone base64 encodings are always masked, whatever their length: they are no shorter than
/// the secret.
pub const MIN_BASE64_FRAGMENT: usize = 6;

/// The shortest line of a multi-line secret that is masked on its own (in bytes, after trimming).
///
/// Logs are stored line by line, so a multi-line secret (a PEM key, a JSON credential) never
/// appears whole in one line; each of its lines is masked instead, except lines shorter than this
/// (`{`, `}`, `-----`…) which carry next to no secret and would mask much unrelated text.
pub const MIN_SECRET_LINE: usize = 4;

/// How many escaping layers are looked through: a secret URL-encoded inside a JSON string, or a
/// JSON text escaped again inside another JSON string, is masked; three layers deep is not.
pub const MAX_DECODE_DEPTH: usize = 2;

/// What a masked value (or each masked run of text) is replaced with.
pub const MASK: &str = "***";

/// Replaces every secret value, and its base64 forms, with `***`.
///
/// For each non-empty secret these texts are masked:
///
/// * the secret itself, and each line (trimmed, at least [`MIN_SECRET_LINE`] bytes) of a
///   multi-line secret;
/// * its standalone base64 encodings: standard and URL-safe alphabets, padded and unpadded;
/// * the base64 chars fully determined by the secret when it is embedded in a larger encoded text
///   at each of the 3 byte alignments (encode with 0, 1 and 2 leading bytes of offset and keep
///   only the chars whose 6 bits all come from the secret), in both alphabets, if at least
///   [`MIN_BASE64_FRAGMENT`] chars long; and the same fragment extended to the end of the encoding
///   (with the last partial char and padding) for a secret at the end of the encoded text.
///
/// Each of these forms is also masked where it appears *escaped* in the text (see [`MAX_DECODE_DEPTH`]):
///
/// * URL-encoded: any bytes written as `%XX` (either hex case, whichever characters the encoder
///   chose to escape), and `+` for a space as in form data (`tok%3Dab%2Fc`, `a+b%21`);
/// * JSON-escaped: inside a JSON string (`\"`, `\\`, `\/`, `\n`, `\t`, `\uXXXX` with surrogate
///   pairs, …), so a secret holding quotes, backslashes, control or non-ASCII characters is
///   masked in a JSON log line too.
///
/// The whole escape sequences that spell the secret are replaced, so no part of it stays visible.
///
/// One pass of an Aho–Corasick automaton finds every occurrence, overlapping ones included
/// (standard match semantics with overlapping search); the union of the matched byte ranges is
/// replaced, each maximal run by one `***`. So overlapping and adjacent secrets are masked
/// completely, which a leftmost-longest non-overlapping scan would not do (`abc` and `cde` in
/// `abcde` would leave `de`).
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// `None` when there is nothing to mask.
    automaton: Option<AhoCorasick>,
}

/// The chars of the unpadded standard base64 encoding of `secret`, preceded by `offset` bytes,
/// that are determined by `secret` alone: `(fragment, fragment + rest of the encoding)`.
fn embedded_forms(secret: &[u8], offset: usize) -> (String, String) {
    let mut input = vec![0u8; offset];
    input.extend_from_slice(secret);
    let padded = STANDARD.encode(&input);
    let first_bit = 8 * offset;
    let end_bit = 8 * input.len();
    let start = first_bit.div_ceil(6);
    let end = end_bit / 6;
    let fragment = padded.get(start..end).unwrap_or_default().to_string();
    let to_end = padded.get(start..).unwrap_or_default().to_string();
    (fragment, to_end)
}

fn url_safe(standard: &str) -> String {
    standard
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect()
}

fn patterns_of(secret: &str, patterns: &mut IndexSet<String>) {
    if secret.is_empty() {
        return;
    }
    patterns.insert(secret.to_string());
    if secret.contains('\n') {
        for line in secret.lines() {
            let line = line.trim();
            if line.len() >= MIN_SECRET_LINE {
                patterns.insert(line.to_string());
            }
        }
    }
    let bytes = secret.as_bytes();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        patterns.insert(engine.encode(bytes));
    }
    for offset in 0..3 {
        let (fragment, to_end) = embedded_forms(bytes, offset);
        if fragment.len() >= MIN_BASE64_FRAGMENT {
            patterns.insert(url_safe(&fragment));
            patterns.insert(url_safe(&to_end));
            patterns.insert(url_safe(to_end.trim_end_matches('=')));
            patterns.insert(to_end.trim_end_matches('=').to_string());
            patterns.insert(to_end);
            patterns.insert(fragment);
        }
    }
}

impl Masker {
    pub fn new<I, S>(secrets: I) -> Masker
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns = IndexSet::new();
        for secret in secrets {
            patterns_of(secret.as_ref(), &mut patterns);
        }
        patterns.retain(|p| !p.is_empty());
        if patterns.is_empty() {
            return Masker::default();
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .ok();
        Masker { automaton }
    }

    /// Whether there is no secret to mask.
    pub fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// Mask every string inside a JSON value (outputs, for example). A number or boolean whose
    /// text contains a secret becomes the string `***`.
    pub fn mask_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        if self.automaton.is_none() {
            return value.clone();
        }
        match value {
            Value::String(s) => Value::String(self.mask(s).into_owned()),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.mask_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.mask(k).into_owned(), self.mask_json(v)))
                    .collect(),
            ),
            Value::Number(_) | Value::Bool(_) => {
                let text = value.to_string();
                if self.mask(&text) == text {
                    value.clone()
                } else {
                    Value::String(MASK.to_string())
                }
            }
            Value::Null => Value::Null,
        }
    }

    /// `text` with every secret form replaced by `***` (borrowed when nothing matched).
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(automaton) = &self.automaton else {
            return Cow::Borrowed(text);
        };
        let Some(mut ranges) = matched_ranges(automaton, text) else {
            // Cannot happen with standard match semantics; fail closed rather than leak.
            return Cow::Owned(MASK.to_string());
        };
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        // Merge the matched ranges into maximal runs. Overlapping matches are reported in order
        // of their end; a later one may start before an earlier run, so merge by start position.
        ranges.sort_unstable();
        let bytes = text.as_bytes();
        let mut out: Vec<u8> = Vec::with_capacity(text.len());
        let mut copied = 0; // bytes of `text` handled so far
        let mut run: Option<(usize, usize)> = None;
        for (start, end) in ranges {
            match run {
                Some((s, e)) if start <= e => run = Some((s, e.max(end))),
                _ => {
                    if let Some((s, e)) = run {
                        out.extend_from_slice(bytes.get(copied..s).unwrap_or_default());
                        out.extend_from_slice(MASK.as_bytes());
                        copied = e;
                    }
                    run = Some((start, end));
                }
            }
        }
        if let Some((s, e)) = run {
            out.extend_from_slice(bytes.get(copied..s).unwrap_or_default());
            out.extend_from_slice(MASK.as_bytes());
            copied = e;
        }
        out.extend_from_slice(bytes.get(copied..).unwrap_or_default());
        // Patterns are whole UTF-8 strings, so every range lies on char boundaries.
        Cow::Owned(match String::from_utf8(out) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }
}

/// Every range of `text` (byte offsets) that spells a pattern, plainly or through up to
/// [`MAX_DECODE_DEPTH`] layers of URL or JSON escaping. `None` if the automaton refuses to search.
fn matched_ranges(automaton: &AhoCorasick, text: &str) -> Option<Vec<(usize, usize)>> {
    let mut ranges = Vec::new();
    for m in automaton.try_find_overlapping_iter(text).ok()? {
        ranges.push((m.start(), m.end()));
    }
    // Decoded views of the text, each byte knowing the range of `text` it came from; views of
    // views for nested escaping. Only texts with an escape character are decoded at all.
    let mut layer: Vec<View> = vec![View::identity(text.as_bytes())];
    for _ in 0..MAX_DECODE_DEPTH {
        let mut next = Vec::new();
        for view in &layer {
            for decoder in DECODERS {
                if let Some(decoded) = view.decode(decoder) {
                    for m in automaton
                        .try_find_overlapping_iter(&decoded.bytes[..])
                        .ok()?
                    {
                        if let Some(range) = decoded.origin_of(m.start(), m.end()) {
                            ranges.push(range);
                        }
                    }
                    next.push(decoded);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        layer = next;
    }
    Some(ranges)
}

/// A decoding of the text: its bytes, and for each byte the range of the original text it
/// stands for (a whole escape sequence, or the byte itself).
struct View {
    bytes: Vec<u8>,
    origin: Vec<(usize, usize)>,
}

/// Decodes one escaping layer: a view whose origins are ranges of the input, or `None` when the
/// input holds nothing this decoder would change.
type Decoder = fn(&[u8]) -> Option<View>;

const DECODERS: [Decoder; 3] = [percent_decode, form_decode, json_unescape];

impl View {
    fn identity(bytes: &[u8]) -> View {
        View {
            bytes: bytes.to_vec(),
            origin: (0..bytes.len()).map(|i| (i, i + 1)).collect(),
        }
    }

    /// This view decoded once more, with origins in the original text.
    fn decode(&self, decoder: Decoder) -> Option<View> {
        let View { bytes, origin } = decoder(&self.bytes)?;
        let origin = origin
            .iter()
            .map(|&(start, end)| self.origin_of(start, end))
            .collect::<Option<Vec<_>>>()?;
        Some(View { bytes, origin })
    }

    /// The range of the original text that bytes `start..end` of this view stand for.
    fn origin_of(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        let first = self.origin.get(start)?;
        let last = self.origin.get(end.checked_sub(1)?)?;
        Some((first.0, last.1))
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `%XX` → the byte (either hex case); everything else as it is.
fn percent_decode(input: &[u8]) -> Option<View> {
    url_decode(input, false)
}

/// Like [`percent_decode`], and `+` → space (`application/x-www-form-urlencoded`).
fn form_decode(input: &[u8]) -> Option<View> {
    if !input.contains(&b'+') {
        return None;
    }
    url_decode(input, true)
}

fn url_decode(input: &[u8], plus_is_space: bool) -> Option<View> {
    if !input.contains(&b'%') && !plus_is_space {
        return None;
    }
    let mut bytes = Vec::with_capacity(input.len());
    let mut origin = Vec::with_capacity(input.len());
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        let escaped = (b == b'%')
            .then(|| Some(hex_value(*input.get(i + 1)?)? * 16 + hex_value(*input.get(i + 2)?)?))
            .flatten();
        match escaped {
            Some(decoded) => {
                bytes.push(decoded);
                origin.push((i, i + 3));
                changed = true;
                i += 3;
            }
            None if plus_is_space && b == b'+' => {
                bytes.push(b' ');
                origin.push((i, i + 1));
                changed = true;
                i += 1;
            }
            None => {
                bytes.push(b);
                origin.push((i, i + 1));
                i += 1;
            }
        }
    }
    changed.then_some(View { bytes, origin })
}

/// The escapes of a JSON string (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\uXXXX`
/// and surrogate pairs `\uD83D\uDE00`) → what they stand for (UTF-8); everything else as it is.
fn json_unescape(input: &[u8]) -> Option<View> {
    if !input.contains(&b'\\') {
        return None;
    }
    let hex4 = |at: usize| -> Option<u32> {
        let digits = input.get(at..at + 4)?;
        digits
            .iter()
            .try_fold(0u32, |acc, &d| Some(acc * 16 + u32::from(hex_value(d)?)))
    };
    let mut bytes = Vec::with_capacity(input.len());
    let mut origin = Vec::with_capacity(input.len());
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        // (the char an escape stands for, the escape's length)
        let escape: Option<(char, usize)> = if b == b'\\' {
            match input.get(i + 1) {
                Some(b'"') => Some(('"', 2)),
                Some(b'\\') => Some(('\\', 2)),
                Some(b'/') => Some(('/', 2)),
                Some(b'b') => Some(('\u{8}', 2)),
                Some(b'f') => Some(('\u{c}', 2)),
                Some(b'n') => Some(('\n', 2)),
                Some(b'r') => Some(('\r', 2)),
                Some(b't') => Some(('\t', 2)),
                Some(b'u') => hex4(i + 2).and_then(|unit| {
                    if (0xD800..0xDC00).contains(&unit) {
                        let low = (input.get(i + 6..i + 8) == Some(&b"\\u"[..]))
                            .then(|| hex4(i + 8))
                            .flatten()
                            .filter(|low| (0xDC00..0xE000).contains(low))?;
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        Some((char::from_u32(code)?, 12))
                    } else {
                        Some((char::from_u32(unit)?, 6))
                    }
                }),
                _ => None,
            }
        } else {
            None
        };
        match escape {
            Some((c, len)) => {
                for &d in c.encode_utf8(&mut [0u8; 4]).as_bytes() {
                    bytes.push(d);
                    origin.push((i, i + len));
                }
                changed = true;
                i += len;
            }
            None => {
                bytes.push(b);
                origin.push((i, i + 1));
                i += 1;
            }
        }
    }
    changed.then_some(View { bytes, origin })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn empty_masker_changes_nothing() {
        let m = Masker::new(Vec::<String>::new());
        assert!(m.is_empty());
        assert!(matches!(m.mask("abc"), Cow::Borrowed("abc")));
        let m = Masker::new(["", ""]);
        assert!(m.is_empty());
        assert_eq!(m.mask("abc"), "abc");
        assert!(Masker::default().is_empty());
    }

    #[test]
    fn json_values_are_masked_inside() {
        let m = Masker::new(["hunter2", "424242"]);
        let value = serde_json::json!({
            "token": "x-hunter2-y",
            "list": ["hunter2", 1, true],
            "pin": 424242,
            "hunter2": null,
            "plain": 7
        });
        assert_eq!(
            m.mask_json(&value),
            serde_json::json!({
                "token": "x-***-y",
                "list": ["***", 1, true],
                "pin": "***",
                "***": null,
                "plain": 7
            })
        );
        assert_eq!(Masker::default().mask_json(&value), value);
    }

    #[test]
    fn plain_secrets_are_masked() {
        let m = Masker::new(["hunter2", "tok-123"]);
        assert!(!m.is_empty());
        let cases = [
            ("password is hunter2", "password is ***"),
            ("hunter2hunter2", "***"),
            ("a hunter2 b hunter2 c", "a *** b *** c"),
            ("tok-123 and hunter2", "*** and ***"),
            ("nothing here", "nothing here"),
            ("hunter", "hunter"),
            ("", ""),
        ];
        for (text, want) in cases {
            assert_eq!(m.mask(text), want, "{text:?}");
        }
        assert!(matches!(m.mask("nothing"), Cow::Borrowed(_)));
    }

    #[test]
    fn unicode_secrets_and_text() {
        let m = Masker::new(["pässwörd→"]);
        assert_eq!(m.mask("ü pässwörd→ ü"), "ü *** ü");
    }

    #[test]
    fn standalone_base64_forms_are_masked() {
        // "secret?>" encodes with both '+'/'/' and their URL-safe forms and needs padding
        let secret = "s3cr3t?>~";
        let m = Masker::new([secret]);
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let enc = engine.encode(secret);
            assert_eq!(m.mask(&format!("x {enc} y")), "x *** y", "{enc}");
        }
        // a padded one leaves no padding visible
        let m = Masker::new(["abcd"]);
        assert_eq!(b64("abcd"), "YWJjZA==");
        assert_eq!(m.mask("v=YWJjZA=="), "v=***");
        assert_eq!(m.mask("v=YWJjZA"), "v=***");
    }

    #[test]
    fn url_safe_alphabet_differs_and_is_masked() {
        let secret = "\u{fb}\u{ff}\u{fe}>>>?"; // chars whose encoding has + and /
        let std = STANDARD.encode(secret);
        let url = URL_SAFE.encode(secret);
        assert_ne!(std, url);
        let m = Masker::new([secret]);
        assert_eq!(m.mask(&std), "***");
        assert_eq!(m.mask(&url), "***");
    }

    #[test]
    fn embedded_base64_at_every_alignment_is_masked() {
        let secret = "correct-horse-battery";
        let m = Masker::new([secret]);
        for prefix in ["", "u:", "us:", "use:", "user:", "a longer prefix:"] {
            for suffix in ["", "\n", "@host", "xy"] {
                let plain = format!("{prefix}{secret}{suffix}");
                let enc = b64(&plain);
                let masked = m.mask(&enc).into_owned();
                assert!(masked.contains(MASK), "{plain:?} → {enc} → {masked}");
                // at most the chars that also encode prefix/suffix bits stay visible
                let visible = masked.len() - MASK.len();
                let context_chars =
                    (prefix.len() * 8).div_ceil(6) + (suffix.len() * 8).div_ceil(6) + 4;
                assert!(visible <= context_chars, "{plain:?} → {masked}");
                // what is left does not decode to the secret
                assert!(!masked.contains(&b64(secret)[..8]), "{masked}");
            }
        }
    }

    #[test]
    fn basic_auth_header_is_masked() {
        let m = Masker::new(["s3cr3t-p4ss"]);
        // "admin:" is 6 bytes: the secret starts on a 3-byte boundary
        let header = format!("Authorization: Basic {}", b64("admin:s3cr3t-p4ss"));
        assert_eq!(
            m.mask(&header),
            format!("Authorization: Basic {}***", b64("admin:"))
        );
        // "root:" is 5 bytes: the secret starts 2 bytes into a group; the char that mixes
        // ':' and the secret's first bits stays visible, nothing after it
        let enc = b64("root:s3cr3t-p4ss");
        let header = format!("Authorization: Basic {enc}");
        assert_eq!(
            m.mask(&header),
            format!("Authorization: Basic {}***", &enc[..7])
        );
    }

    #[test]
    fn embedded_url_safe_base64_is_masked() {
        let secret = "\u{fb}\u{ff}secret\u{fe}>>>?";
        let m = Masker::new([secret]);
        let enc = URL_SAFE_NO_PAD.encode(format!("k:{secret}"));
        let masked = m.mask(&enc);
        assert!(masked.ends_with(MASK), "{masked}");
        assert!(masked.len() <= MASK.len() + 3, "{masked}");
    }

    #[test]
    fn short_secrets_have_no_embedded_forms() {
        // 4 bytes: fragments at offsets 1 and 2 are 4 chars, under the minimum
        let patterns = {
            let mut p = IndexSet::new();
            patterns_of("abcd", &mut p);
            p
        };
        assert!(
            patterns.iter().all(|p| p == "abcd" || p.len() >= 6),
            "{patterns:?}"
        );
        // 5 bytes: the shifted fragments reach 6 chars
        let mut p = IndexSet::new();
        patterns_of("abcde", &mut p);
        assert!(p.contains(&embedded_forms(b"abcde", 1).0));
        assert_eq!(embedded_forms(b"abcde", 1).0.len(), 6);
    }

    #[test]
    fn embedded_fragment_math() {
        // offset 0: whole chars of the secret alone
        assert_eq!(
            embedded_forms(b"abc", 0),
            ("YWJj".to_string(), "YWJj".to_string())
        );
        // offset 1: "\0abc" = AGFiYw==, chars 2.. are determined by "abc": floor(32/6)=5 → "FiY"
        assert_eq!(
            embedded_forms(b"abc", 1),
            ("FiY".to_string(), "FiYw==".to_string())
        );
        // offset 2: "\0\0abc" = AABhYmM=, start ceil(16/6)=3, end floor(40/6)=6 → "hYm"
        assert_eq!(
            embedded_forms(b"abc", 2),
            ("hYm".to_string(), "hYmM=".to_string())
        );
        // the fragment appears in any text that embeds the secret at that alignment
        for (prefix, offset) in [("x", 1), ("xy", 2), ("xyz", 0), ("wxyz", 1)] {
            let enc = b64(&format!("{prefix}abcdefgh!"));
            let (fragment, _) = embedded_forms(b"abcdefgh!", offset);
            assert!(enc.contains(&fragment), "{prefix}: {enc} ∌ {fragment}");
        }
    }

    #[test]
    fn overlapping_and_adjacent_secrets_are_masked_fully() {
        let m = Masker::new(["abcd", "cdef"]);
        assert_eq!(m.mask("xabcdefx"), "x***x");
        let m = Masker::new(["abc", "def"]);
        assert_eq!(m.mask("abcdef"), "***");
        assert_eq!(m.mask("abc def"), "*** ***");
        let m = Masker::new(["bcdefgh", "abc"]);
        assert_eq!(m.mask("abcdefgh"), "***");
        // one secret inside another
        let m = Masker::new(["xyz", "wxyz1"]);
        assert_eq!(m.mask("wxyz1 xyz wxyz"), "*** *** w***");
        // repeated overlapping occurrences
        let m = Masker::new(["aa"]);
        assert_eq!(m.mask("aaa b aaaa"), "*** b ***");
    }

    #[test]
    fn multi_line_secrets_mask_each_line() {
        let key = "-----BEGIN KEY-----\nMIIBVwIBADANBgkq\nhkiG9w0BAQEFAASC\n-----END KEY-----\n";
        let m = Masker::new([key]);
        assert_eq!(m.mask("MIIBVwIBADANBgkq"), "***");
        assert_eq!(m.mask("  hkiG9w0BAQEFAASC  "), "  ***  ");
        assert_eq!(m.mask(key), "***");
        let json = "{\n  \"private_key\": \"abc123\"\n}";
        let m = Masker::new([json]);
        assert_eq!(m.mask("{ }"), "{ }", "short lines are not masked");
        assert_eq!(m.mask("line:   \"private_key\": \"abc123\""), "line:   ***");
    }

    #[test]
    fn url_encoded_forms_are_masked() {
        let secret = "p@ss w/rd&=?ü";
        let m = Masker::new([secret]);
        for encoded in [
            // every reserved byte escaped, upper and lower case hex
            "p%40ss%20w%2Frd%26%3D%3F%C3%BC",
            "p%40ss%20w%2frd%26%3d%3f%c3%bc",
            // form data: `+` for the space
            "p%40ss+w%2Frd%26%3D%3F%C3%BC",
            // an encoder that leaves `@` and `/` alone
            "p@ss%20w/rd%26%3D%3F%C3%BC",
            // everything escaped, even letters
            "%70%40%73%73%20%77%2F%72%64%26%3D%3F%C3%BC",
        ] {
            let line = format!("GET /login?user=me&password={encoded}&x=1");
            assert_eq!(
                m.mask(&line),
                "GET /login?user=me&password=***&x=1",
                "{encoded}"
            );
        }
        // `%` that is no escape, and `+` in text without secrets, stay as they are
        assert_eq!(m.mask("100% sure, 1+1"), "100% sure, 1+1");
        assert!(matches!(m.mask("a%zz+b"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_escaped_forms_are_masked() {
        let secret = "quo\"te\\back\tslash→🎉";
        let m = Masker::new([secret]);
        let json = serde_json::to_string(&serde_json::json!({ "password": secret })).unwrap();
        assert_eq!(m.mask(&json), r#"{"password":"***"}"#);
        // `\uXXXX` escapes (ASCII-only JSON encoders), surrogate pairs included
        let ascii_only = r#"{"password":"quo\"te\\back\tslash\u2192\ud83c\udf89"}"#;
        assert_eq!(m.mask(ascii_only), r#"{"password":"***"}"#);
        let slashes = Masker::new(["a/b"]);
        assert_eq!(slashes.mask(r#"{"p":"a\/b"}"#), r#"{"p":"***"}"#);
        // a JSON document escaped again inside a JSON string (two layers)
        let twice = serde_json::to_string(&json).unwrap();
        assert_eq!(m.mask(&twice), r#""{\"password\":\"***\"}""#);
        // a URL-encoded secret inside a JSON string
        let m = Masker::new(["a b/c"]);
        assert_eq!(m.mask(r#"{"url":"x?t=a%20b%2Fc"}"#), r#"{"url":"x?t=***"}"#);
        // broken escapes are left alone
        assert_eq!(m.mask(r"\u12 \x \"), r"\u12 \x \");
    }

    #[test]
    fn masking_is_idempotent() {
        let m = Masker::new(["topsecret", "other"]);
        let once = m.mask("topsecret other b64:dG9wc2VjcmV0").into_owned();
        assert_eq!(once, "*** *** b64:***");
        assert_eq!(m.mask(&once), once);
    }
}
