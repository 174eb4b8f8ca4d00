//! A step's output bytes: the line splitter, the `[COUT]` collector and typed outputs.
//!
//! The first byte of the input chooses how the rest is cut into chunks and spread over stdout
//! and stderr. Checked: the lines are the same however the bytes are chunked, no line is longer
//! than the limit, and the collector's limits hold (keys, bytes, reported problems).
#![no_main]

use co_protocol::{
    typed_outputs, Line, LineSplitter, OutputCollector, OutputDecl, Stream, ValueType,
    MAX_LINE_BYTES, MAX_OUTPUTS_BYTES, MAX_OUTPUT_KEYS, MAX_REPORTED_ERRORS, MAX_VALUE_BYTES,
};
use indexmap::IndexMap;
use libfuzzer_sys::fuzz_target;

/// Split `bytes` into lines, pushing `chunk`-sized pieces to the streams `stream_of(i)` chooses.
fn split(bytes: &[u8], chunk: usize, stream_of: impl Fn(usize) -> Stream) -> Vec<Line> {
    let mut splitter = LineSplitter::new();
    let mut lines = Vec::new();
    for (i, piece) in bytes.chunks(chunk.max(1)).enumerate() {
        splitter.push(stream_of(i), piece, &mut |l| lines.push(l));
    }
    splitter.finish(&mut |l| lines.push(l));
    lines
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control & 0x3f) + 1;
    let whole = split(bytes, bytes.len(), |_| Stream::Stdout);
    let chunked = split(bytes, chunk, |_| Stream::Stdout);
    assert_eq!(
        whole, chunked,
        "lines depend on chunking (chunks of {chunk})"
    );
    for line in &whole {
        assert!(line.text.len() <= MAX_LINE_BYTES);
    }

    // Both streams, interleaved by chunk.
    let mixed = split(bytes, chunk, |i| {
        if control & 0x40 != 0 && i % 2 == 1 {
            Stream::Stderr
        } else {
            Stream::Stdout
        }
    });
    let mut collector = OutputCollector::new();
    for line in &mixed {
        collector.feed(line);
    }
    let collected = collector.finish();
    assert!(collected.outputs.len() <= MAX_OUTPUT_KEYS);
    assert!(collected.errors.len() <= MAX_REPORTED_ERRORS + 1);
    let kept: usize = collected
        .outputs
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    assert!(kept <= MAX_OUTPUTS_BYTES);
    for (key, value) in &collected.outputs {
        assert!(!key.is_empty() && key != "CO_RESULT");
        assert!(value.len() <= MAX_VALUE_BYTES);
    }

    let mut declared = IndexMap::new();
    for (name, ty) in [
        ("s", ValueType::String),
        ("i", ValueType::Int),
        ("f", ValueType::Float),
        ("b", ValueType::Bool),
        ("j", ValueType::Json),
        ("k", ValueType::Secret),
    ] {
        declared.insert(
            name.to_string(),
            OutputDecl {
                ty,
                required: control & 0x80 != 0,
            },
        );
    }
    let (typed, problems) = typed_outputs(&collected.outputs, &declared);
    assert!(typed.keys().all(|k| declared.contains_key(k)));
    assert!(typed.len() + problems.len() <= declared.len());
    let (all, none) = typed_outputs(&collected.outputs, &IndexMap::new());
    assert_eq!(all.len(), collected.outputs.len());
    assert!(none.is_empty());
});
