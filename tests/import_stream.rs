//! `volley import har` reads the file as a stream: a HAR several times larger than the
//! importer's peak memory imports fine. Alone in its test binary, because it reads the
//! peak RSS of the children this process has waited for (getrusage), which other tests'
//! children would blur.

use std::io::{BufWriter, Write};
use std::process::Command;

/// Peak RSS in bytes of the waited-for children of this process so far.
fn children_max_rss() -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    assert_eq!(rc, 0);
    ru.ru_maxrss as u64 * 1024
}

#[test]
fn a_har_much_larger_than_memory_is_streamed() {
    let dir = std::env::temp_dir().join(format!("volley-import-big-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("big.har");
    // 3,000 entries, each with a 16 KB page in its response (ignored without parsing it
    // into memory) and a JSON body: about 50 MB.
    let page = "x".repeat(16 * 1024);
    let mut w = BufWriter::new(std::fs::File::create(&file).unwrap());
    write!(
        w,
        r#"{{"log":{{"version":"1.2","creator":{{"name":"test","version":"1"}},"entries":["#
    )
    .unwrap();
    let n = 3000;
    for i in 0..n {
        if i > 0 {
            w.write_all(b",").unwrap();
        }
        write!(
            w,
            r#"{{"startedDateTime":"2026-12-01T10:00:{:02}.{:03}Z","time":2,"request":{{"method":"POST","url":"http://127.0.0.1:8080/api/items/{}","headers":[{{"name":"Content-Type","value":"application/json"}},{{"name":"User-Agent","value":"x"}}],"postData":{{"mimeType":"application/json","text":"{{\"n\":{}}}"}}}},"response":{{"status":200,"headers":[],"content":{{"mimeType":"text/html","text":"{page}"}}}}}}"#,
            (i / 1000) % 60,
            i % 1000,
            i % 700,
            i % 700
        )
        .unwrap();
    }
    w.write_all(b"]}}").unwrap();
    w.flush().unwrap();
    drop(w);
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 45 << 20, "{size}");

    // What the binary itself takes (its mapped code and data grow with the program, in a
    // debug build by megabytes): the import's own memory is what it adds to that.
    let tiny = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["import", "curl", "--", "curl", "http://127.0.0.1:8080/"])
        .output()
        .unwrap();
    assert!(tiny.status.success());
    let baseline = children_max_rss();

    let out = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args(["import", "har", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let toml = String::from_utf8(out.stdout).unwrap();
    // 700 distinct requests in the file: the first 500 are kept, the rest counted.
    assert!(
        toml.contains("3000 entries read; kept 1000 requests (500 distinct)"),
        "{}",
        &toml[..400.min(toml.len())]
    );
    assert!(toml.contains("past the limits"));
    let rss = children_max_rss();
    let grew = rss.saturating_sub(baseline);
    eprintln!(
        "HAR {} MB, importer peak RSS {} MB ({} MB over a tiny import's)",
        size >> 20,
        rss >> 20,
        grew >> 20
    );
    assert!(
        grew < size / 2,
        "peak RSS {rss} ({grew} over a tiny import's {baseline}) is not well below the file's {size} bytes: not streamed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
