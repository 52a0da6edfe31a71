//! Any bytes as one line of Event NDJSON v1: decoding never panics, and an
//! accepted event survives `to_json_line` and decoding again unchanged.
//! `tests/fuzz_corpus.rs` in the main crate runs the same check over the
//! corpus; keep the two in step.
#![no_main]

use heatstore::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = Event::from_json_line(data) else {
        return;
    };
    let line = event.to_json_line();
    match Event::from_json_line(line.as_bytes()) {
        Ok(again) => assert_eq!(again, event, "round trip of {line}"),
        Err(e) => panic!("{line} does not decode again: {e}"),
    }
});
