//! The layers of the crate, as a test: every path a file names (`use crate::…`, an inline
//! `crate::…`, `super::…`), in code and tests alike, goes to its own layer or one below,
//! and no files form a cycle. The table is the README's layout, top to bottom.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and its layer: a module names only modules of its own layer or
/// lower ones (and modules of one layer form no cycle).
const LAYERS: &[(&str, u8)] = &[
    ("lib", 9),
    ("main", 9),
    ("commands", 8),
    ("cli", 7),
    ("report", 6),
    ("ops", 5),
    ("ledger", 4),
    ("journal", 4),
    ("schedule", 4),
    ("saved", 4),
    ("targets", 3),
    ("auth", 2),
    ("login", 2),
    ("ssh", 2),
    ("docker", 2),
    ("error", 1),
    ("secret", 1),
    ("encoding", 1),
    ("timestamp", 1),
    ("prompt", 1),
    ("browser", 1),
    ("console", 1),
    ("liveness", 1),
    ("test_inputs", 1),
    ("layering", 1),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// Every .rs file under `dir`, as its module path (`targets/script/mod.rs` is
/// `targets::script`).
fn files(dir: &Path, root: &Path, out: &mut BTreeMap<Vec<String>, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            out.insert(parts, path);
        }
    }
}

/// The module paths a file names: `crate::a::b` as `[a, b]`, `super::x` resolved
/// against the file's own module (`use` groups are read as their prefix).
fn named(module: &[String], text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for start in ["crate::", "super::"] {
        for (i, _) in code.match_indices(start) {
            let before = code[..i].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut segments: Vec<String> = Vec::new();
            let mut rest = &code[i..];
            loop {
                let word: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if word.is_empty() {
                    break;
                }
                rest = &rest[word.len()..];
                segments.push(word);
                match rest.strip_prefix("::") {
                    Some(r) => rest = r,
                    None => break,
                }
            }
            // Resolve `crate` and each leading `super` to an absolute path.
            let mut base: Vec<String> = Vec::new();
            let mut words = segments.into_iter().peekable();
            match words.peek().map(String::as_str) {
                Some("crate") => {
                    words.next();
                }
                Some("super") => {
                    // `super` is the parent module, whether the file is a.rs or a/mod.rs.
                    base = module.to_vec();
                    while words.peek().is_some_and(|w| w == "super") {
                        words.next();
                        base.pop();
                    }
                }
                _ => continue,
            }
            base.extend(words.take_while(|w| w.chars().next().is_some_and(char::is_lowercase)));
            if !base.is_empty() {
                out.push(base);
            }
        }
    }
    out
}

/// The file a module path lands in: its deepest prefix that is a file.
fn file_of<'a>(
    path: &[String],
    known: &'a BTreeMap<Vec<String>, PathBuf>,
) -> Option<&'a Vec<String>> {
    (1..=path.len())
        .rev()
        .find_map(|n| known.get_key_value(&path[..n]).map(|(k, _)| k))
}

#[test]
fn no_module_names_a_layer_above_it_and_no_files_form_a_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut known = BTreeMap::new();
    files(&root, &root, &mut known);
    known.retain(|k, _| !k.is_empty());
    assert!(known.len() > 50, "the sources were not found: {root:?}");

    let mut upward = Vec::new();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, path) in &known {
        // (this file's own examples are strings, not paths)
        if module == &["layering".to_string()] {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let top = module[0].as_str();
        let Some(own) = layer(top) else {
            panic!("{top} is not in the layer table");
        };
        for target in named(module, &text) {
            let Some(file) = file_of(&target, &known) else {
                continue;
            };
            let to = file[0].as_str();
            match layer(to) {
                Some(l) if l > own => {
                    upward.push(format!("{} names {}", module.join("::"), target.join("::")))
                }
                None => panic!("{to} is not in the layer table"),
                _ => {}
            }
            // Within a module: a child using its parent's facade, or a parent declaring
            // and re-exporting its children, is how Rust modules are built; every other
            // edge counts for cycles.
            let ancestor = file.len() < module.len() && module.starts_with(file);
            let descendant = module.len() < file.len() && file.starts_with(module);
            if file != module && !ancestor && !descendant {
                edges
                    .entry(module.clone())
                    .or_default()
                    .insert(file.clone());
            }
        }
    }
    assert!(
        upward.is_empty(),
        "names of a higher layer:\n{}",
        upward.join("\n")
    );

    // A cycle: a path that comes back to where it started (depth-first search).
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(2) => return None,
            Some(1) => {
                let at = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle: Vec<String> = stack[at..].iter().map(|n| n.join("::")).collect();
                cycle.push(node.join("::"));
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, &edges, &mut state, &mut Vec::new()) {
            panic!("files in a cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn paths_are_resolved_as_rust_resolves_them() {
    let m = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        named(
            &m("targets::script"),
            "use super::{Target};\nuse super::install::X;"
        ),
        [m("targets"), m("targets::install")]
    );
    assert_eq!(
        named(
            &m("targets::local"),
            "use super::ConnectContext; f(crate::auth::local::X);"
        ),
        [m("auth::local"), m("targets")]
    );
    assert_eq!(
        named(&m("targets::docker::archive"), "use super::super::install;"),
        [m("targets::install")]
    );
}
