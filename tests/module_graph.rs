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
    let known: BTreeSet<String> = KNOWN.iter().map(|s| s.to_string()).collect();
    let new: Vec<_> = upward.difference(&known).collect();
    let gone: Vec<_> = known.difference(&upward).collect();
    assert!(new.is_empty(), "new imports running up a layer (see docs/architecture.md): {new:?}");
    assert!(gone.is_empty(), "these imports are gone: remove them from KNOWN in tests/module_graph.rs: {gone:?}");
}

#[test]
fn the_checker_sees_an_upward_import() {
    let mut found = BTreeSet::new();
    imports("store", "use crate::web::metrics; // crate::call in a comment\n", &mut found);
    assert_eq!(found.into_iter().collect::<Vec<_>>(), vec![("store".to_string(), "web".to_string())]);
}
