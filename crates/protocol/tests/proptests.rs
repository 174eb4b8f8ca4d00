//! Property tests of the protocol's invariants.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use co_protocol::{
    coerce, decode_co_data, encode_co_data, typed_outputs, value_text, Line, LineSplitter, Masker,
    OutputCollector, OutputDecl, Stream, ValueType, MAX_LINE_BYTES,
};
use indexmap::IndexMap;
use proptest::prelude::*;
use serde_json::Value;

fn key() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_-]{0,12}"
}

/// Any Unicode text, control chars and all kinds of white space included.
fn unicode_text(max: usize) -> impl Strategy<Value = String> {
    let interesting = prop_oneof![
        Just(' '),
        Just('"'),
        Just('\\'),
        Just('='),
        Just('\n'),
        Just('\r'),
        Just('\t'),
        Just('\u{a0}'),
        Just('\u{2028}'),
        Just('é'),
        Just('🎉'),
    ];
    prop::collection::vec(prop_oneof![any::<char>(), interesting], 0..max)
        .prop_map(|chars| chars.into_iter().collect())
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => unicode_text(24).prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
        1 => prop::collection::vec(unicode_text(6), 0..3)
            .prop_map(|v| Value::Array(v.into_iter().map(Value::String).collect())),
    ]
}

/// Bytes that look like process output: text, newlines, CRs, multi-byte chars, invalid bytes.
fn output_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => "[a-z ]{0,8}".prop_map(String::into_bytes),
        2 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => Just("é→🎉".as_bytes().to_vec()),
        1 => Just(b"[COUT] k = v\n".to_vec()),
        1 => Just(b"[COUT] d<<EOF\n".to_vec()),
        1 => Just(b"EOF\n".to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..6),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Splits `bytes` into chunks at the given (sorted, deduplicated) cut points.
fn chunks<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

fn lines_of(schedule: &[(Stream, &[u8])]) -> (Vec<Line>, Vec<Line>) {
    let mut splitter = LineSplitter::new();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut sort = |line: Line| match line.stream {
        Stream::Stdout => out.push(line),
        Stream::Stderr => err.push(line),
    };
    for (stream, chunk) in schedule {
        splitter.push(*stream, chunk, &mut sort);
    }
    splitter.finish(&mut sort);
    (out, err)
}

/// Interleaves the chunks of both streams, taking from stdout when `pick` says so.
fn interleave<'a>(out: &[&'a [u8]], err: &[&'a [u8]], pick: &[bool]) -> Vec<(Stream, &'a [u8])> {
    let (mut i, mut j) = (0, 0);
    let mut schedule = Vec::new();
    let mut picks = pick.iter().cycle();
    while i < out.len() || j < err.len() {
        let take_out = j >= err.len() || (i < out.len() && *picks.next().unwrap_or(&true));
        if take_out {
            schedule.push((Stream::Stdout, out[i]));
            i += 1;
        } else {
            schedule.push((Stream::Stderr, err[j]));
            j += 1;
        }
    }
    schedule
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn co_data_round_trips(inputs in prop::collection::vec((key(), json_value()), 0..8)) {
        let encoded = encode_co_data(&inputs);
        let decoded = decode_co_data(&encoded)
            .map_err(|e| TestCaseError::fail(format!("{encoded:?}: {e}")))?;
        let want: Vec<(String, String)> =
            inputs.iter().map(|(k, v)| (k.clone(), value_text(v))).collect();
        prop_assert_eq!(decoded, want);
    }

    #[test]
    fn co_data_plain_values_are_written_unchanged(
        k in key(),
        v in "[!#-\\[\\]-~]{1,20}", // printable ASCII without space, '"' and '\\'
    ) {
        let encoded = encode_co_data(&[(k.clone(), Value::String(v.clone()))]);
        prop_assert_eq!(encoded, format!("{k}={v}"));
    }

    #[test]
    fn decode_never_panics(text in unicode_text(64)) {
        let _ = decode_co_data(&text);
    }

    #[test]
    fn line_splitting_is_independent_of_chunking(
        out in output_bytes(),
        err in output_bytes(),
        out_cuts in prop::collection::vec(any::<usize>(), 0..12),
        err_cuts in prop::collection::vec(any::<usize>(), 0..12),
        pick in prop::collection::vec(any::<bool>(), 1..16),
    ) {
        let whole = lines_of(&[(Stream::Stdout, &out[..]), (Stream::Stderr, &err[..])]);
        let out_chunks = chunks(&out, &out_cuts);
        let err_chunks = chunks(&err, &err_cuts);
        let chunked = lines_of(&interleave(&out_chunks, &err_chunks, &pick));
        prop_assert_eq!(&whole, &chunked);
        // and every line is what splitting the whole text at '\n' gives
        let expected: Vec<String> = {
            let mut parts: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
            if parts.last().is_some_and(|p| p.is_empty()) {
                parts.pop();
            }
            parts
                .into_iter()
                .map(|p| String::from_utf8_lossy(p.strip_suffix(b"\r").unwrap_or(p)).into_owned())
                .collect()
        };
        let got: Vec<String> = whole.0.iter().map(|l| l.text.clone()).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn output_collection_is_independent_of_chunking(
        out in output_bytes(),
        err in output_bytes(),
        out_cuts in prop::collection::vec(any::<usize>(), 0..12),
        err_cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let collect = |schedule: &[(Stream, &[u8])]| {
            let mut splitter = LineSplitter::new();
            let mut collector = OutputCollector::new();
            for (stream, chunk) in schedule {
                splitter.push(*stream, chunk, &mut |l| collector.feed(&l));
            }
            splitter.finish(&mut |l| collector.feed(&l));
            collector.finish()
        };
        // The same lines in the same order, however the bytes were chunked.
        let whole = collect(&[(Stream::Stdout, &out[..]), (Stream::Stderr, &err[..])]);
        let mut schedule: Vec<(Stream, &[u8])> =
            chunks(&out, &out_cuts).into_iter().map(|c| (Stream::Stdout, c)).collect();
        if !out.is_empty() && out.last() != Some(&b'\n') {
            // an unterminated stdout line is only emitted at finish: keep it after stderr's lines
            let whole_split = collect(&[(Stream::Stderr, &err[..]), (Stream::Stdout, &out[..])]);
            schedule = chunks(&err, &err_cuts).into_iter().map(|c| (Stream::Stderr, c))
                .chain(schedule).collect();
            prop_assert_eq!(&whole_split, &collect(&schedule));
        } else {
            schedule.extend(chunks(&err, &err_cuts).into_iter().map(|c| (Stream::Stderr, c)));
            prop_assert_eq!(&whole, &collect(&schedule));
        }
    }

    #[test]
    fn nothing_panics_on_arbitrary_bytes(
        out in prop::collection::vec(any::<u8>(), 0..512),
        err in prop::collection::vec(any::<u8>(), 0..512),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        secrets in prop::collection::vec(unicode_text(12), 0..3),
    ) {
        let masker = Masker::new(&secrets);
        let mut splitter = LineSplitter::new();
        let mut collector = OutputCollector::new();
        let mut feed = |l: Line| {
            let _ = masker.mask(&l.text);
            collector.feed(&l);
        };
        for chunk in chunks(&out, &cuts) {
            splitter.push(Stream::Stdout, chunk, &mut feed);
            splitter.push(Stream::Stderr, &err, &mut feed);
        }
        splitter.finish(&mut feed);
        let collected = collector.finish();
        let mut declared = IndexMap::new();
        for (i, key) in collected.outputs.keys().enumerate() {
            let ty = ValueType::ALL[i % ValueType::ALL.len()];
            declared.insert(key.clone(), OutputDecl { ty, required: i % 2 == 0 });
        }
        let _ = typed_outputs(&collected.outputs, &declared);
        let _ = typed_outputs(&collected.outputs, &IndexMap::new());
        let text = String::from_utf8_lossy(&out);
        for ty in ValueType::ALL {
            let _ = coerce(&Value::String(text.to_string()), ty);
        }
    }

    #[test]
    fn masker_never_leaves_a_secret_visible(
        // '*' excluded: the mask itself is made of it
        secrets in prop::collection::vec(
            unicode_text(16).prop_filter("non-empty, no '*'", |s| !s.is_empty() && !s.contains('*')),
            1..4,
        ),
        pieces in prop::collection::vec(unicode_text(8), 4),
        which in 0usize..16,
    ) {
        let masker = Masker::new(&secrets);
        let secret = &secrets[which % secrets.len()];
        let forms = [
            secret.clone(),
            STANDARD.encode(secret),
            STANDARD_NO_PAD.encode(secret),
            URL_SAFE.encode(secret),
            URL_SAFE_NO_PAD.encode(secret),
        ];
        let text = format!(
            "{}{}{}{}{}{}{}{}{}",
            pieces[0], forms[0], pieces[1], forms[1], pieces[2], forms[4], pieces[3], forms[3],
            forms[0]
        );
        let masked = masker.mask(&text);
        for s in &secrets {
            prop_assert!(!masked.contains(s.as_str()), "{s:?} in {masked:?}");
            for form in [STANDARD.encode(s), STANDARD_NO_PAD.encode(s), URL_SAFE.encode(s),
                         URL_SAFE_NO_PAD.encode(s)] {
                prop_assert!(!masked.contains(&form), "{form:?} in {masked:?}");
            }
        }
        prop_assert!(masked.contains("***"));
    }

    #[test]
    fn masker_hides_embedded_base64(
        secret in "[ -)+-~]{8,24}", // printable ASCII without '*'
        prefix in "[ -~]{0,7}",
        suffix in "[ -~]{0,4}",
    ) {
        let masker = Masker::new([&secret]);
        let encoded = STANDARD.encode(format!("{prefix}{secret}{suffix}"));
        let masked = masker.mask(&encoded);
        prop_assert!(masked.contains("***"), "{encoded} → {masked}");
        // at most the chars carrying prefix or suffix bits (plus one mixed char each side and
        // padding) remain
        let budget = (prefix.len() * 8).div_ceil(6) + (suffix.len() * 8).div_ceil(6) + 4;
        prop_assert!(masked.len() - 3 <= budget, "{encoded} → {masked}");
    }
}

/// `text` URL-encoded the way some encoder might: every byte that must be escaped (non-ASCII,
/// controls, `%`, `+`, space) is, others only where `escape_others` says so; hex digits in upper
/// or lower case; a space as `%20` or `+`.
fn url_encode(text: &str, choices: &[(bool, bool)]) -> String {
    let mut out = String::new();
    for (i, b) in text.bytes().enumerate() {
        let (escape_other, lower) = choices
            .get(i % choices.len().max(1))
            .copied()
            .unwrap_or_default();
        if b == b' ' && escape_other {
            out.push('+');
        } else if b.is_ascii_graphic() && !matches!(b, b'%' | b'+') && !escape_other {
            out.push(char::from(b));
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decoding with `+` as a space (the test's own, independent of the masker's).
fn url_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = |j: usize| bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or_default());
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// JSON string escaping with every non-ASCII char as `\uXXXX` (surrogate pairs above U+FFFF),
/// as ASCII-only JSON encoders write it.
fn json_ascii(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

proptest! {
    #[test]
    fn masker_hides_url_encoded_secrets(
        secret in unicode_text(16).prop_filter("non-empty, no '*'", |s| !s.is_empty() && !s.contains('*')),
        prefix in unicode_text(8),
        suffix in unicode_text(8),
        choices in prop::collection::vec(any::<(bool, bool)>(), 1..16),
    ) {
        let masker = Masker::new([&secret]);
        let encoded = url_encode(&format!("{prefix}{secret}{suffix}"), &choices);
        let masked = masker.mask(&encoded);
        prop_assert!(masked.contains("***"), "{encoded} → {masked}");
        prop_assert!(
            !contains_bytes(&url_decode(&masked), secret.as_bytes()),
            "{secret:?}: {encoded} → {masked}"
        );
    }

    #[test]
    fn masker_hides_json_escaped_secrets(
        secret in unicode_text(16).prop_filter("non-empty, no '*'", |s| !s.is_empty() && !s.contains('*')),
        prefix in unicode_text(8),
        suffix in unicode_text(8),
        ascii_only in any::<bool>(),
    ) {
        let masker = Masker::new([&secret]);
        let whole = format!("{prefix}{secret}{suffix}");
        let json = if ascii_only {
            json_ascii(&whole)
        } else {
            serde_json::to_string(&whole).unwrap()
        };
        let masked = masker.mask(&json);
        prop_assert!(masked.contains("***"), "{json} → {masked}");
        for form in [serde_json::to_string(&secret).unwrap(), json_ascii(&secret)] {
            let inner = &form[1..form.len() - 1];
            prop_assert!(!masked.contains(inner), "{inner:?} in {masked}");
        }
        // Where the masked text is still a JSON string (a plain match of the secret may cut an
        // escape in two), its value does not hold the secret either.
        if let Ok(decoded) = serde_json::from_str::<String>(&masked) {
            prop_assert!(!decoded.contains(secret.as_str()), "{json} → {masked}");
        }
    }
}

proptest! {
    // Lines around the 1 MiB limit are expensive: a few cases only.
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn long_lines_are_cut_identically_however_chunked(
        extra in 0usize..8,
        tail in prop::collection::vec(prop_oneof![Just("é"), Just("🎉"), Just("x"), Just("\r")], 1..4),
        cuts in prop::collection::vec(any::<usize>(), 1..6),
    ) {
        let mut bytes = vec![b'a'; MAX_LINE_BYTES - 4 + extra];
        bytes.extend(tail.concat().into_bytes());
        bytes.extend_from_slice(b"\nnext");
        let whole = lines_of(&[(Stream::Stdout, &bytes[..])]);
        let schedule: Vec<(Stream, &[u8])> =
            chunks(&bytes, &cuts).into_iter().map(|c| (Stream::Stdout, c)).collect();
        let chunked = lines_of(&schedule);
        prop_assert_eq!(&whole, &chunked);
        let first = &whole.0[0];
        prop_assert!(first.text.len() <= MAX_LINE_BYTES);
        prop_assert!(!first.text.contains(char::REPLACEMENT_CHARACTER));
        let original = bytes.len() - "\nnext".len();
        let cr = usize::from(bytes[original - 1] == b'\r');
        prop_assert_eq!(first.text.len() + first.truncated_bytes + cr, original);
        prop_assert_eq!(&whole.0[1].text, "next");
    }
}
