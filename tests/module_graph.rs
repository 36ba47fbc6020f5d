//! The crate's import rules, checked on the source: each top-level module may import only the
//! modules below it in [`LAYERS`] (docs/architecture.md explains the order). Imports that break
//! the rule today are listed in [`KNOWN`], each with the file that makes it; the test fails on a new
//! one, and also when a listed one is gone, so that the list only shrinks.

use std::collections::BTreeSet;
use std::path::Path;

/// Bottom to top. A module may `use crate::X` only for an X earlier in this list. `config` sits on
/// top because it assembles every module's configuration type.
const LAYERS: &[&str] = &["toml_file", "phone", "crypto", "store", "sip", "media", "metrics", "speech", "triage", "schedule", "ehr", "ivr", "oncall", "web", "call", "config", "server", "cli"];

/// Imports that run up a layer or form a circle today, as "from -> to". Remove a line when the
/// import is gone; never add one.
const KNOWN: &[&str] = &[];

/// Every `crate::NAME` a file of module `from` mentions, outside comments.
fn imports(from: &str, source: &str, found: &mut BTreeSet<(String, String)>) {
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if LAYERS.contains(&name.as_str()) && name != from {
                found.insert((from.to_string(), name));
            }
        }
    }
}

fn walk(dir: &Path, module: &str, found: &mut BTreeSet<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            walk(&path, module, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            imports(module, &std::fs::read_to_string(&path).expect("read source"), found);
        }
    }
}

fn module_edges() -> BTreeSet<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeSet::new();
    for module in LAYERS {
        let file = src.join(format!("{module}.rs"));
        if file.exists() {
            imports(module, &std::fs::read_to_string(&file).expect("read module file"), &mut found);
        }
        let dir = src.join(module);
        if dir.is_dir() {
            walk(&dir, module, &mut found);
        }
    }
    found
}

fn rank(module: &str) -> usize {
    LAYERS.iter().position(|m| *m == module).expect("layered module")
}

#[test]
fn every_top_level_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).expect("read src") {
        let path = entry.expect("dir entry").path();
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        if matches!(name.as_str(), "lib" | "main") {
            continue;
        }
        assert!(LAYERS.contains(&name.as_str()), "src/{name} is not in LAYERS: give it a place in tests/module_graph.rs and docs/architecture.md");
    }
}

#[test]
fn imports_only_run_down_the_layers() {
    let upward: BTreeSet<String> = module_edges().into_iter().filter(|(from, to)| rank(to) > rank(from)).map(|(from, to)| format!("{from} -> {to}")).collect();
    ratchet(&upward, KNOWN, "new imports running up a layer (see docs/architecture.md)", "KNOWN");
}

/// The list `known` only shrinks: fails on a `found` entry it lacks (`what`), and on a listed one
/// that is gone (to be removed from the list named `list`).
fn ratchet(found: &BTreeSet<String>, known: &[&str], what: &str, list: &str) {
    let known: BTreeSet<String> = known.iter().map(|s| s.to_string()).collect();
    let new: Vec<_> = found.difference(&known).collect();
    let gone: Vec<_> = known.difference(found).collect();
    assert!(new.is_empty(), "{what}: {new:?}");
    assert!(gone.is_empty(), "these are gone: remove them from {list} in tests/module_graph.rs: {gone:?}");
}

#[test]
fn the_checker_sees_an_upward_import() {
    let mut found = BTreeSet::new();
    imports("store", "use crate::web::metrics; // crate::call in a comment\n", &mut found);
    assert_eq!(found.into_iter().collect::<Vec<_>>(), vec![("store".to_string(), "web".to_string())]);
}

/// Circles between the files of one module (`a.rs` imports `b.rs`, which imports `a.rs`) that
/// exist today, as "module: a -> b -> a" from the alphabetically first file. Remove a line when
/// the circle is gone; never add one.
const KNOWN_CIRCLES: &[&str] = &[
    // The dashboard's router (`app`) and its pages share the app state and helpers both ways.
    "web: actions -> app -> actions",
    "web: actions -> chart -> app -> actions",
    "web: actions -> detail -> app -> actions",
    "web: actions -> detail -> chart -> app -> actions",
    "web: app -> audio -> app",
    "web: app -> audio -> detail -> app",
    "web: app -> audio -> detail -> chart -> app",
    "web: app -> audit_page -> app",
    "web: app -> detail -> app",
    "web: app -> detail -> chart -> app",
    "web: app -> live -> app",
    "web: app -> login -> app",
    "web: app -> practice -> app",
    "web: app -> practice -> queue -> app",
    "web: app -> queue -> app",
];

/// The sibling files of `module` that one file's source names, through `super::NAME`,
/// `super::{NAME, ...}` or `crate::module::NAME`. Comments and the file's inline test module are
/// skipped (tests drive their code from above).
fn sibling_imports(module: &str, source: &str, siblings: &BTreeSet<String>) -> BTreeSet<String> {
    let code: String = source.split("#[cfg(test)]\nmod tests {").next().unwrap_or("").lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let mut found = BTreeSet::new();
    let crate_path = format!("crate::{module}::");
    for prefix in ["super::", crate_path.as_str()] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(prefix) {
            rest = &rest[at + prefix.len()..];
            let names: Vec<String> = match rest.strip_prefix('{') {
                Some(group) => {
                    let mut depth = 0;
                    let inner: String = group
                        .chars()
                        .take_while(|c| {
                            depth += match c {
                                '{' => 1,
                                '}' => -1,
                                _ => 0,
                            };
                            depth >= 0
                        })
                        .collect();
                    inner.split(',').map(|part| part.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()).collect()
                }
                None => vec![rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()],
            };
            found.extend(names.into_iter().filter(|name| siblings.contains(name)));
        }
    }
    found
}

/// For each module with a directory: its files (not `mod.rs`, which holds the module's shared
/// types, nor `*_tests.rs`) and the siblings each imports.
fn file_edges() -> Vec<(String, std::collections::BTreeMap<String, BTreeSet<String>>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = Vec::new();
    for module in LAYERS {
        let Ok(entries) = std::fs::read_dir(src.join(module)) else { continue };
        let files: Vec<std::path::PathBuf> = entries.map(|e| e.expect("dir entry").path()).filter(|p| p.extension().is_some_and(|e| e == "rs")).collect();
        let stem = |p: &std::path::PathBuf| p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let siblings: BTreeSet<String> = files.iter().map(stem).filter(|s| s != "mod" && !s.ends_with("_tests")).collect();
        let mut edges = std::collections::BTreeMap::new();
        for file in files.iter().filter(|f| siblings.contains(&stem(f))) {
            let source = std::fs::read_to_string(file).expect("read source");
            let mut to = sibling_imports(module, &source, &siblings);
            to.remove(&stem(file));
            edges.insert(stem(file), to);
        }
        modules.push((module.to_string(), edges));
    }
    modules
}

/// Every circle of `edges`, each once, written from its alphabetically first file.
fn circles(module: &str, edges: &std::collections::BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    fn walk(node: &str, start: &str, path: &mut Vec<String>, edges: &std::collections::BTreeMap<String, BTreeSet<String>>, found: &mut BTreeSet<Vec<String>>) {
        for next in edges.get(node).into_iter().flatten() {
            if next == start {
                found.insert(path.clone());
            } else if next.as_str() > start && !path.contains(next) {
                path.push(next.clone());
                walk(next, start, path, edges, found);
                path.pop();
            }
        }
    }
    let mut found = BTreeSet::new();
    for start in edges.keys() {
        walk(start, start, &mut vec![start.clone()], edges, &mut found);
    }
    found.into_iter().map(|path| format!("{module}: {} -> {}", path.join(" -> "), path[0])).collect()
}

#[test]
fn no_import_circles_between_the_files_of_a_module() {
    let found: BTreeSet<String> = file_edges().iter().flat_map(|(module, edges)| circles(module, edges)).collect();
    ratchet(&found, KNOWN_CIRCLES, "import circles between files (move the shared part down to a leaf; docs/architecture.md)", "KNOWN_CIRCLES");
}

#[test]
fn the_checker_sees_a_circle_between_files() {
    let siblings: BTreeSet<String> = ["endpoint", "trunk", "message"].iter().map(|s| s.to_string()).collect();
    let source = "use super::{CallId, endpoint::{ALLOW, Transmit}};\n// super::message in a comment\nfn f() { crate::sip::trunk::x() }\n#[cfg(test)]\nmod tests {\n    use super::message::M;\n}\n";
    let found = sibling_imports("sip", source, &siblings);
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["endpoint", "trunk"]);
    let edges = std::collections::BTreeMap::from([
        ("endpoint".to_string(), BTreeSet::from(["trunk".to_string()])),
        ("trunk".to_string(), BTreeSet::from(["endpoint".to_string()])),
        ("message".to_string(), BTreeSet::new()),
    ]);
    assert_eq!(circles("sip", &edges).into_iter().collect::<Vec<_>>(), ["sip: endpoint -> trunk -> endpoint"]);
}
