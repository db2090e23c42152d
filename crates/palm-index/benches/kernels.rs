//! Criterion benches of the two hot kernels: the coarse scan and the full (re-ranking) match.
//! `cargo bench -p palm-index`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use palm_engine::{Engine, Prepared, Template};
use palm_index::coarse;
use palm_synth::{Capture, Identity, Scene, png_bytes};
use std::hint::black_box;

fn templates(n: u64) -> Vec<Template> {
    let engine = Engine::default();
    (1..=n)
        .map(|s| {
            engine
                .template(&png_bytes(
                    &Identity::new(s).render(Scene::Roi { size: 128 }, Capture::new(1)),
                ))
                .expect("synthetic palm")
        })
        .collect()
}

fn kernels(c: &mut Criterion) {
    let ts = templates(64);
    // 100,000 gallery codes: the 64 palms' codes repeated (the scan does not care).
    let codes: Vec<coarse::CoarseCode> = (0..100_000)
        .map(|i| coarse::encode(&ts[i % 64].mask, &ts[i % 64].planes, (0, 0)))
        .collect();
    let probe = coarse::probe_codes(&ts[0].mask, &ts[0].planes);
    let mut scores = Vec::with_capacity(codes.len());
    let mut group = c.benchmark_group("coarse_scan");
    group.throughput(Throughput::Elements(codes.len() as u64));
    group.bench_function("100k codes", |b| {
        b.iter(|| coarse::scan(black_box(&probe), black_box(&codes), &mut scores))
    });
    group.finish();

    let engine = Engine::default();
    let prepared: Vec<Prepared> = ts.iter().map(Prepared::new).collect();
    let mut group = c.benchmark_group("full_match");
    group.throughput(Throughput::Elements(1));
    group.bench_function("prepared pair", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % 63;
            engine
                .matcher()
                .similarity_prepared(black_box(&prepared[k]), black_box(&prepared[k + 1]))
        })
    });
    group.bench_function("prepare + match", |b| {
        b.iter(|| engine.similarity(black_box(&ts[3]), black_box(&ts[4])))
    });
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
