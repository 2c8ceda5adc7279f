//! The server-sent events parser: any bytes, split anywhere, give the same events as
//! the whole stream at once (never a panic), and no event's data outgrows the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use volley::engine::executor::sse::{parse_all, Parser, MAX_EVENT};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let whole = parse_all(bytes);
    for e in &whole {
        assert!(e.data.len() <= MAX_EVENT * 3, "{} bytes of data", e.data.len());
    }
    let cut = (cut as usize).min(bytes.len());
    // A byte-order mark is skipped only when it comes whole in the first read.
    if cut < 3 && bytes.starts_with(b"\xEF") {
        return;
    }
    let mut p = Parser::new();
    let mut split = Vec::new();
    p.feed(&bytes[..cut], |e| split.push(e));
    p.feed(&[], |e| split.push(e));
    p.feed(&bytes[cut..], |e| split.push(e));
    assert_eq!(split, whole, "split at {cut}");
});
