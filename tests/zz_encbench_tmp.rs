#[test]
#[ignore]
fn encode_cost() {
    use volley::metrics::{new_histogram, TimelineRow};
    for n in [100u64, 1_000, 10_000] {
        let mut h = new_histogram();
        let mut x: u64 = 12345;
        for _ in 0..n {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // log-uniform 100µs .. 2s
            let v = (100.0 * (20000f64).powf((x >> 11) as f64 / (1u64 << 53) as f64)) as u64;
            h.record(v).unwrap();
        }
        let t = std::time::Instant::now();
        let mut len = 0;
        for _ in 0..200 {
            len = TimelineRow::encode_hist(&h).unwrap().len();
        }
        let enc = t.elapsed() / 200;
        let s = TimelineRow::encode_hist(&h).unwrap();
        let t = std::time::Instant::now();
        for _ in 0..200 {
            TimelineRow::decode_hist(&s).unwrap();
        }
        let dec = t.elapsed() / 200;
        eprintln!("n={n}: encode {enc:?}, decode {dec:?}, {len} base64 chars");
    }
}
