//! The architecture's rules, checked on the source tree (ARCHITECTURE.md states them):
//! dependencies point one way, the palm core (hands, engine, index) stays pure (no async, no
//! JSON, no SQL, no HTTP), every source file opens with a `//!` line saying what it holds, and
//! no file grows past the size a reader takes in at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which workspace crates each crate may use in production (`[dependencies]`). A new crate must
/// be added here, which is the moment to decide where it sits.
const ALLOWED: &[(&str, &[&str])] = &[
    ("palm-hands", &[]),
    ("palm-engine", &["palm-hands"]),
    ("palm-index", &["palm-engine"]),
    ("palm-synth", &[]),
    ("palm-eval", &[]),
    ("palm-vault", &[]),
    ("palm-api", &[]),
    // The use cases take and answer in their own types; the server maps them to the wire.
    ("palm-service", &["palm-engine", "palm-index", "palm-vault"]),
    ("palm-store", &["palm-service"]),
    // The distributed gallery: the service's storage seam and the index's placement; it knows
    // nothing of HTTP or of which database is behind the seam.
    (
        "palm-grid",
        &["palm-engine", "palm-index", "palm-service", "palm-vault"],
    ),
    (
        "palm-server",
        &[
            "palm-api",
            "palm-engine",
            "palm-index",
            "palm-service",
            "palm-store",
            "palm-vault",
        ],
    ),
    (
        "palm-scanner",
        &[
            "palm-api",
            "palm-engine",
            "palm-index",
            "palm-synth",
            "palm-vault",
        ],
    ),
    (
        "palmline",
        &[
            "palm-api",
            "palm-engine",
            "palm-eval",
            "palm-grid",
            "palm-hands",
            "palm-index",
            "palm-scanner",
            "palm-server",
            "palm-service",
            "palm-store",
            "palm-synth",
            "palm-vault",
        ],
    ),
];

/// The palm core: pure, synchronous computation.
const PURE: &[&str] = &["palm-hands", "palm-engine", "palm-index"];
/// Crates the pure core must not depend on (async runtimes, JSON, SQL, HTTP, logging).
const IMPURE_DEPENDENCIES: &[&str] = &[
    "tokio",
    "async-trait",
    "futures",
    "serde",
    "serde_json",
    "sqlx",
    "axum",
    "hyper",
    "reqwest",
    "utoipa",
    "tracing",
];
/// Words that give impure code away in the pure core's sources.
const IMPURE_WORDS: &[&str] = &["async fn", ".await", "serde_json", "sqlx::", "SELECT "];
/// The house rule is files under about 800 lines.
const MAX_LINES: usize = 850;

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `[dependencies]` names of a crate's manifest (not dev- or build-dependencies).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut in_section = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[dependencies]";
            continue;
        }
        if in_section && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or("");
            out.push(name.to_string());
        }
    }
    out
}

fn manifests() -> BTreeMap<String, String> {
    std::fs::read_dir(crates_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").exists())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read_to_string(p.join("Cargo.toml")).unwrap())
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn dependencies_point_one_way() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let manifests = manifests();
    // The manifest reader sees what is there (else this test could pass on nothing).
    let server = dependencies(&manifests["palm-server"]);
    assert!(server.contains(&"palm-service".to_string()) && server.contains(&"axum".to_string()));
    for (name, manifest) in manifests {
        let Some(may_use) = allowed.get(name.as_str()) else {
            panic!("crate {name} is not placed in tidy.rs's ALLOWED table: decide what it may use");
        };
        for dep in dependencies(&manifest) {
            if dep.starts_with("palm") {
                assert!(
                    may_use.contains(&dep.as_str()),
                    "{name} depends on {dep}, which its layer may not use (tidy.rs ALLOWED)"
                );
            }
        }
    }
}

#[test]
fn the_palm_core_is_pure() {
    let manifests = manifests();
    for name in PURE {
        let deps = dependencies(&manifests[*name]);
        for bad in IMPURE_DEPENDENCIES {
            assert!(
                !deps.iter().any(|d| d == bad),
                "{name} depends on {bad}: the palm core knows nothing of async, JSON, SQL or HTTP"
            );
        }
        let mut files = Vec::new();
        rust_files(&crates_dir().join(name).join("src"), &mut files);
        assert!(!files.is_empty(), "{name} has no sources?");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for word in IMPURE_WORDS {
                assert!(
                    !text.contains(word),
                    "{} contains {word:?}: the palm core stays synchronous and storage-free",
                    file.display()
                );
            }
        }
    }
}

/// The use cases, the store and the scanner know nothing of HTTP servers or of the OpenAPI
/// document: no axum, hyper, tower or utoipa among their dependencies, and the wire types'
/// schemas (palm-api's `openapi` feature) are turned on by the server alone.
#[test]
fn only_the_server_speaks_http_and_openapi() {
    const HTTP_SERVING: &[&str] = &["axum", "hyper", "tower", "tower-http", "utoipa"];
    let manifests = manifests();
    for name in ["palm-api", "palm-service", "palm-store", "palm-scanner"] {
        for dep in dependencies(&manifests[name]) {
            let optional_in_api = name == "palm-api"
                && manifests[name]
                    .lines()
                    .any(|l| l.starts_with(&format!("{dep} =")) && l.contains("optional = true"));
            assert!(
                !HTTP_SERVING.contains(&dep.as_str()) || optional_in_api,
                "{name} depends on {dep}"
            );
        }
    }
    for (name, manifest) in &manifests {
        let turns_on_schemas = manifest
            .lines()
            .any(|l| l.starts_with("palm-api") && l.contains("openapi"));
        assert_eq!(
            turns_on_schemas,
            name == "palm-server",
            "{name}: only palm-server turns on palm-api's openapi feature"
        );
    }
}

/// The HTTP edge asks the service; it never reads or writes the store itself (the one exception
/// is `keys.rs`, the operator's offline key rotation).
#[test]
fn the_http_edge_never_touches_the_store() {
    let mut files = Vec::new();
    rust_files(&crates_dir().join("palm-server").join("src"), &mut files);
    assert!(files.len() > 5);
    for file in files {
        if file.ends_with("keys.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains(".store()"),
            "{} reaches into the store: add a use case to palm-service instead",
            file.display()
        );
    }
}

/// The tenant key is made from text only where the text is a stored row: in the store, and as
/// the placeholder a device carries until the store fills in its pairing code's merchant. A
/// handler or use case that scoped a query by an id a caller typed would have to add itself here.
#[test]
fn merchant_ids_come_from_stored_rows_only() {
    let mut files = Vec::new();
    for name in ["palm-service", "palm-server", "palm-scanner", "palmline"] {
        rust_files(&crates_dir().join(name).join("src"), &mut files);
    }
    assert!(files.len() > 20);
    let makers: Vec<String> = files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .contains("MerchantId::stored(")
        })
        .map(|f| {
            let inside = f.strip_prefix(crates_dir()).unwrap();
            inside.to_string_lossy().replace('\\', "/")
        })
        .collect();
    assert_eq!(
        makers,
        ["palm-service/src/devices.rs"],
        "MerchantId::stored outside the store"
    );
}

/// Crates whose top-level modules must not import each other in a circle (a circle means two
/// modules are one idea split in two, or that a shared piece belongs in a module of its own):
/// every crate of the workspace.
const ACYCLIC: &[&str] = &[
    "palm-hands",
    "palm-engine",
    "palm-index",
    "palm-vault",
    "palm-eval",
    "palm-synth",
    "palm-api",
    "palm-service",
    "palm-store",
    "palm-server",
    "palm-scanner",
    "palmline",
];

/// The top-level modules each top-level module of `crate_dir/src` names through `crate::`,
/// test modules left out.
fn module_imports(src: &Path) -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let top = |file: &Path| -> String {
        let rel = file.strip_prefix(src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        first.trim_end_matches(".rs").to_string()
    };
    let mut graph: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = top(file);
        let text = std::fs::read_to_string(file).unwrap();
        // Test modules sit at the end of a file, after `#[cfg(test)]` or `#[cfg(all(test, ...))]`.
        let code: String = text
            .find("#[cfg(test)]\nmod ")
            .or_else(|| text.find("#[cfg(all(test"))
            .map_or(text.as_str(), |i| &text[..i])
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let edges = graph.entry(from.clone()).or_default();
        let module_at = |at: &str| -> String {
            at.trim_start()
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect()
        };
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + 7..];
            // `crate::a::B` names `a`; `crate::{a::B, b, C}` names `a` and `b`.
            let names: Vec<String> = match rest.strip_prefix('{') {
                Some(group) => group[..group.find('}').unwrap_or(group.len())]
                    .split(',')
                    .map(module_at)
                    .collect(),
                None => vec![module_at(rest)],
            };
            for name in names {
                if !name.is_empty() && name != from {
                    edges.insert(name);
                }
            }
        }
    }
    let modules: std::collections::BTreeSet<String> = graph.keys().cloned().collect();
    for edges in graph.values_mut() {
        edges.retain(|m| modules.contains(m) && m != "lib" && m != "main");
    }
    graph
}

/// A module that reaches itself through imports, with the path, if any.
fn find_circle(
    graph: &BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Vec<String>> {
    fn walk(
        at: &str,
        graph: &BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|m| m == at) {
            let mut circle = path[i..].to_vec();
            circle.push(at.to_string());
            return Some(circle);
        }
        if done.contains(at) {
            return None;
        }
        path.push(at.to_string());
        for next in graph.get(at).into_iter().flatten() {
            if let Some(c) = walk(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(at.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    graph
        .keys()
        .find_map(|m| walk(m, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_import_circles() {
    // The check finds a circle where there is one.
    let mut sample = BTreeMap::new();
    sample.insert("a".to_string(), ["b".to_string()].into());
    sample.insert("b".to_string(), ["a".to_string()].into());
    assert!(find_circle(&sample).is_some());
    for name in ACYCLIC {
        let graph = module_imports(&crates_dir().join(name).join("src"));
        assert!(
            graph.len() > 2 || *name != "palm-engine",
            "{name}: modules not found"
        );
        if let Some(circle) = find_circle(&graph) {
            panic!(
                "{name}: modules import each other in a circle: {}",
                circle.join(" -> ")
            );
        }
    }
}

#[test]
fn every_source_file_says_what_it_holds_and_stays_readable() {
    let mut files = Vec::new();
    for name in manifests().keys() {
        for part in ["src", "tests", "benches", "examples"] {
            rust_files(&crates_dir().join(name).join(part), &mut files);
        }
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} does not open with a `//!` line saying what it holds",
            file.display()
        );
        let lines = text.lines().count();
        assert!(
            lines <= MAX_LINES,
            "{} has {lines} lines: split it (house rule: under about 800)",
            file.display()
        );
    }
}
