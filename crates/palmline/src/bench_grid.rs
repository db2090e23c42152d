//! `palmline bench identify --distributed --gallery N --sets S --replicas R`: search through the
//! palm grid on one machine, end to end.
//!
//! The gallery (real palms' first images plus `bench identify`'s synthetic distractors) is
//! written to a database as people with one palm each; a nats-server is started on loopback;
//! S x R matchers (in this process, each with its own NATS connection) load their sets from the
//! database; a relay publishes changes; a gateway scatters every real probe to the sets. Printed:
//! the same keys as `bench identify` where they apply (one replica of every set is killed
//! halfway through the probes), plus the top-1 agreement with one
//! exhaustive search over everyone, the decisions that named a wrong person, and how long a
//! deletion takes to leave every matcher (`deletion_propagation_ms_p99`).
//!
//! The stored templates are the protected bytes without the envelope encryption the service
//! adds (the bench has no key folder); matchers open them with a parser instead of the data-key
//! opener `palmline matcher` uses, which costs one AES-GCM open per palm at load only.

use crate::bench_identify::{Distractors, Genuine, IdentifyBenchArgs, genuine};
use crate::figures::percentile;
use anyhow::{Context, Result, bail};
use palm_engine::{Engine, Template};
use palm_grid::gateway::{Gateway, GridDecision, GridOutcome};
use palm_grid::local::LocalNats;
use palm_grid::matcher::{IndexHolder, Matcher};
use palm_grid::relay::Relay;
use palm_index::placement::{ShardSet, VIRTUAL_SHARDS};
use palm_index::{
    Calibration, Gallery, IndexConfig, PalmId, Policy, ProtectedPalm, SHIPPED_CALIBRATION, Search,
};
use palm_service::palm_feed::{PalmFeedStore, PlacedPalm};
use palm_service::store::{
    AuditRow, CardRow, ConsentRow, NewPerson, PalmRow, PeopleStore, PersonId, PersonRow,
    PrivacyStore,
};
use palm_service::{Clock, Store};
use palm_store::SqlStore;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Transactions written at once while the gallery is loaded.
const WRITERS: usize = 16;
/// People written in one transaction.
const BATCH: usize = 1000;

/// Palm ids: real palms by their set index from 1, distractors from a billion.
const DISTRACTOR_IDS: i64 = 1_000_000_000;

/// A person with one palm, as the bench stores them (placeholders where the service would seal).
fn person(name: String, palm: i64, template: Vec<u8>) -> NewPerson {
    let last4 = format!("{:04}", bucket_of(palm));
    let id = PersonId::new(name.clone());
    NewPerson {
        person: PersonRow {
            id: id.clone(),
            phone_sealed: vec![],
            phone_fingerprint: format!("phone-{name}"),
            phone_last4: last4,
            wrapped_key: vec![],
            default_card: None,
            created: 0,
            last_used: 0,
            pending_since: None,
        },
        consent: ConsentRow {
            id: format!("con-{name}"),
            person_id: id.clone(),
            text_version: "bench".into(),
            accepted_at: 0,
        },
        palms: vec![PalmRow {
            id: palm,
            person_id: id.clone(),
            hand: "right".into(),
            template_sealed: template,
            created: 0,
        }],
        card: CardRow {
            id: format!("card-{name}"),
            person_id: id,
            brand: "visa".into(),
            last4: "0000".into(),
            exp_month: 1,
            exp_year: 2099,
            number_sealed: vec![],
            holder_sealed: vec![],
            fingerprint: format!("card-{name}"),
            created: 0,
        },
    }
}

/// The phone-digit bucket the bench gives a palm's owner (a till's hint narrows a search to it).
fn bucket_of(palm: i64) -> u16 {
    (palm % 10_000) as u16
}

/// The virtual shards split into `sets` contiguous ranges.
fn shard_sets(sets: usize) -> Result<Vec<ShardSet>> {
    let n = usize::from(VIRTUAL_SHARDS);
    if sets == 0 || sets > n {
        bail!("--sets must be from 1 to {n}");
    }
    (0..sets)
        .map(|s| {
            let (first, last) = (s * n / sets, (s + 1) * n / sets - 1);
            Ok(ShardSet::parse(&format!("{first}-{last}"))?)
        })
        .collect()
}

pub fn run(args: &IdentifyBenchArgs) -> Result<()> {
    let sets = shard_sets(args.sets)?;
    if args.replicas == 0 {
        bail!("--replicas must be at least 1");
    }
    let engine = Engine::default();
    let Genuine {
        set,
        enrolled,
        probes,
    } = genuine(&engine, args)?;
    let source = Distractors::new(&engine, args.identities);
    let distractors = args.gallery.saturating_sub(enrolled.len());
    let transform = palm_engine::protect::Transform::new(1, rand::random());
    // One gallery over everyone: the reference a distributed search must agree with.
    let everyone = Gallery::new(engine.params(), IndexConfig::default(), transform.clone());
    let nats = LocalNats::start()?;
    let dir = tempfile::tempdir()?;
    let url = args
        .database
        .clone()
        .unwrap_or_else(|| SqlStore::sqlite_url(&dir.path().join("grid-bench.db")));
    crate::serve::runtime()?.block_on(async {
        let store = Arc::new(SqlStore::open(&url).await.context("cannot open the database")?);
        let feed: Arc<dyn PalmFeedStore> = store.clone();

        let start = Instant::now();
        let total = enrolled.len() + distractors;
        let bar = crate::figures::progress(total as u64, "writing palms to the database");
        let write = |name: String, palm: i64, t: &Template| -> Result<NewPerson> {
            let protected = everyone.protect(t)?;
            everyone.insert(PalmId(palm as u64), None, &protected)?;
            bar.inc(1);
            Ok(person(name, palm, protected.to_bytes()))
        };
        // People are written as a bulk import writes them: a thousand to a transaction, several
        // transactions at once, so a server database (PostgreSQL's pool) works on them in
        // parallel (SQLite's one connection takes them in turn).
        let mut pending = tokio::task::JoinSet::new();
        let mut flush = async |batch: &mut Vec<NewPerson>, running: usize| -> Result<()> {
            if !batch.is_empty() {
                let (store, people) = (store.clone(), std::mem::take(batch));
                pending.spawn(async move { store.insert_people(&people).await });
            }
            while pending.len() > running {
                pending.join_next().await.context("a writer task")???;
            }
            Ok(())
        };
        let mut batch = Vec::with_capacity(BATCH);
        for (i, t) in &enrolled {
            batch.push(write(format!("per_e{i}"), *i as i64 + 1, t)?);
            if batch.len() >= BATCH {
                flush(&mut batch, WRITERS - 1).await?;
            }
        }
        for n in 0..distractors {
            batch.push(write(format!("per_d{n}"), DISTRACTOR_IDS + n as i64, &source.get(n))?);
            if batch.len() >= BATCH {
                flush(&mut batch, WRITERS - 1).await?;
            }
        }
        flush(&mut batch, 0).await?;
        bar.finish_and_clear();
        // The matchers load these from the database; only later changes go over the stream.
        store.prune_palm_changes(i64::MAX, true).await?;
        let write_s = start.elapsed().as_secs_f64();

        let js = palm_grid::connect(nats.url()).await?;
        let relay = Relay::new(feed.clone(), js).await?;
        let (stop_relay, stopped) = tokio::sync::watch::channel(false);
        let relaying = tokio::spawn(relay.run(
            Duration::from_millis(5),
            || palm_service::SystemClock.now_s(),
            stopped,
        ));
        let probe_key = Arc::new(palm_vault::DataKey::from_secret(&rand::random()));
        let start = Instant::now();
        let mut matchers = Vec::new();
        for (s, shards) in sets.iter().enumerate() {
            for _ in 0..args.replicas {
                let open = Box::new(|p: &PlacedPalm| {
                    ProtectedPalm::from_bytes(&p.owned.palm.template_sealed)
                        .map_err(|e| e.to_string())
                });
                let gallery = Gallery::new(engine.params(), IndexConfig::default(), transform.clone());
                matchers.push(
                    Matcher::start(
                        feed.clone(),
                        palm_grid::connect_client(nats.url()).await?,
                        &format!("s{s}"),
                        shards.clone(),
                        IndexHolder::new(gallery, open),
                        probe_key.clone(),
                    )
                    .await?,
                );
            }
        }
        let load_s = start.elapsed().as_secs_f64();
        let held: usize = matchers.iter().map(Matcher::palms).sum();
        if held != total * args.replicas {
            bail!("the matchers hold {held} palms, expected {}", total * args.replicas);
        }

        let names: Vec<String> = (0..sets.len()).map(|s| format!("s{s}")).collect();
        let gateway = Gateway::new(palm_grid::connect_client(nats.url()).await?, names, probe_key);
        let policy = Policy::new(Calibration::from_text(SHIPPED_CALIBRATION)?);
        let search = Search {
            k: 1,
            ..Search::default()
        };
        let label = |palm: i64| {
            (palm < DISTRACTOR_IDS)
                .then(|| set.entries.get(palm as usize - 1).map(|e| e.palm.as_str()))
                .flatten()
        };
        // Each probe searches the whole gallery (timed: the search the targets are about); the
        // decision is then taken as a till takes it, one hand needing the phone digits: the
        // search again, within the mate's phone-digit bucket.
        let mate: std::collections::HashMap<&str, i64> = enrolled
            .iter()
            .map(|(i, _)| (set.entries[*i].palm.as_str(), *i as i64 + 1))
            .collect();
        let mut latencies = Vec::new();
        let (mut rank1, mut try_again, mut agree, mut compared) = (0, 0, 0, 0);
        let (mut matched, mut wrong, mut no_match, mut ambiguous, mut needs_hint) = (0, 0, 0, 0, 0);
        let every = (probes.len() / args.agreement_probes.max(1)).max(1);
        let mut killed = 0;
        for (n, (i, t)) in probes.iter().enumerate() {
            // Halfway, one replica of every set is killed: the others must carry on unchanged.
            if n == probes.len() / 2 && args.replicas > 1 {
                for s in (0..sets.len()).rev() {
                    matchers.remove(s * args.replicas).stop();
                    killed += 1;
                }
            }
            let own = Some(set.entries[*i].palm.as_str());
            let t0 = Instant::now();
            let outcome = gateway.identify(t, &search, &policy).await?;
            latencies.push(t0.elapsed().as_secs_f64() * 1e3);
            let GridOutcome::Decided { candidates, .. } = outcome else {
                try_again += 1;
                continue;
            };
            let top = candidates.first().map(|c| c.palm);
            rank1 += (top.and_then(label) == own) as usize;
            if n % every == 0 && compared < args.agreement_probes {
                let slow = everyone.rank(t, &Search { exhaustive: true, ..search })?.0;
                agree += (slow.first().map(|c| c.id.0 as i64) == top) as usize;
                compared += 1;
            }
            let Some(bucket) = own.and_then(|o| mate.get(o)).map(|p| bucket_of(*p)) else {
                continue;
            };
            let hinted = Search {
                bucket: Some(bucket),
                ..search
            };
            match gateway.identify(t, &hinted, &policy).await? {
                GridOutcome::Decided { decision, .. } => match decision {
                    GridDecision::Match { palm, .. } => {
                        matched += 1;
                        wrong += (label(palm) != own) as usize;
                    }
                    GridDecision::NoMatch => no_match += 1,
                    GridDecision::Ambiguous => ambiguous += 1,
                    GridDecision::NeedsHint => needs_hint += 1,
                },
                GridOutcome::TryAgain { .. } => try_again += 1,
            }
        }
        latencies.sort_by(f64::total_cmp);

        // Deletion: from the commit until no matcher holds the palm (relay, stream, replicas).
        let mut propagation = Vec::new();
        for (i, _) in enrolled.iter().take(args.deletions) {
            let palm = *i as i64 + 1;
            let id = PersonId::new(format!("per_e{i}"));
            let audit = AuditRow {
                id: format!("aud-{i}"),
                person_id: id.clone(),
                actor: "bench".into(),
                purpose: "deletion".into(),
                created: 0,
            };
            let t0 = Instant::now();
            store.delete_person(&id, &audit).await?;
            while matchers.iter().any(|m| m.holds(palm)) {
                if t0.elapsed() > Duration::from_secs(30) {
                    bail!("palm {palm} was still held 30 s after its deletion");
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            propagation.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        propagation.sort_by(f64::total_cmp);
        let _ = stop_relay.send(true);
        relaying.await?;
        for m in matchers {
            m.stop();
        }

        let probes_n = probes.len().max(1) as f64;
        let out = json!({
            "gallery": total,
            "distractor_identities": source.identities(),
            "probes": probes.len(),
            "rank1": rank1 as f64 / probes_n,
            "p50_ms": percentile(&latencies, 0.5),
            "p99_ms": percentile(&latencies, 0.99),
            "threads": rayon::current_num_threads(),
            "top1_agreement_with_exhaustive": agree as f64 / compared.max(1) as f64,
            "agreement_probes": compared,
            "sets": sets.len(),
            "replicas": args.replicas,
            "replicas_killed_halfway": killed,
            "database": store.backend(),
            "decisions_with_hint": {"match": matched, "no_match": no_match,
                "ambiguous": ambiguous, "needs_hint": needs_hint},
            "wrong_decisions": wrong,
            "try_again": try_again,
            "deletions": propagation.len(),
            "deletion_propagation_ms_p50": percentile(&propagation, 0.5),
            "deletion_propagation_ms_p99": percentile(&propagation, 0.99),
            "write_s": write_s,
            "load_s": load_s,
        });
        if args.json {
            println!("{out}");
        } else {
            println!(
                "distributed identify: {total} palms over {} sets x {} replicas ({}), {} real probes through NATS",
                sets.len(),
                args.replicas,
                store.backend(),
                probes.len()
            );
            println!(
                "  rank-1 {:.2}%  top-1 as exhaustive {agree} of {compared}  with the phone-digit hint: {matched} matched ({wrong} wrong), {no_match} no match, {ambiguous} ambiguous; try-again {try_again} ({killed} replicas killed halfway)",
                rank1 as f64 / probes_n * 100.0
            );
            println!(
                "  latency p50 {:.2} ms  p99 {:.2} ms (end to end, gateway to matchers and back)",
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99)
            );
            println!(
                "  deletion reaches every matcher: p50 {:.1} ms  p99 {:.1} ms ({} deletions)  write {write_s:.1} s  matchers loaded in {load_s:.1} s",
                percentile(&propagation, 0.5),
                percentile(&propagation, 0.99),
                propagation.len()
            );
        }
        Ok(())
    })
}
