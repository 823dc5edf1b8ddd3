//! The layering of docs/architecture.md, checked on the source: the lower layers (`access`, `config`,
//! `limits`, `private_fs`, `store`, `engine`, `auth`) import only layers below them and know
//! nothing of HTTP — no `axum`, no `http` crate, no `crate::http`, no application state.

use std::path::{Path, PathBuf};

/// Each lower layer: its files and the crate modules it may use.
const LAYERS: &[(&str, &[&str])] = &[
    ("src/access.rs", &[]),
    ("src/config.rs", &["access"]),
    ("src/limits.rs", &[]),
    ("src/private_fs.rs", &[]),
    ("src/store.rs", &["private_fs"]),
    ("src/engine", &["config", "limits", "store", "private_fs"]),
    ("src/auth", &["access", "config", "limits", "store"]),
];

/// Every crate module a file could name.
const MODULES: &[&str] = &[
    "access",
    "auth",
    "cli",
    "config",
    "control",
    "daemon",
    "data_dir",
    "engine",
    "feed",
    "http",
    "limits",
    "metrics",
    "private_fs",
    "state",
    "store",
];

fn rust_files(p: &Path) -> Vec<PathBuf> {
    if p.is_file() {
        return vec![p.to_path_buf()];
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap_or_else(|e| panic!("{p:?}: {e}")) {
        let path = e.expect("dir entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    out
}

/// The code of a file without its comments (line comments and doc comments), so that prose
/// mentioning a layer does not count as using it.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            // Keep `//` inside string literals such as "http://".
            Some(i) if l[..i].matches('"').count() % 2 == 0 => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a piece of code uses that it must not.
fn violations(code: &str, allowed: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for m in MODULES {
        if !allowed.contains(m) && code.contains(&format!("crate::{m}")) {
            out.push(format!("crate::{m}"));
        }
    }
    for word in ["axum", "AppState"] {
        if code.contains(word) {
            out.push(word.to_owned());
        }
    }
    // The `http` crate: `http::` not preceded by an identifier character or `::` (which
    // would be `crate::http::`, counted above, or some other path).
    let uses_http_crate = code.match_indices("http::").any(|(i, _)| {
        code[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'))
    });
    if uses_http_crate {
        out.push("http::".to_owned());
    }
    out
}

#[test]
fn lower_layers_do_not_import_higher_ones_or_http() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    let mut scanned = 0;
    for (layer, allowed) in LAYERS {
        for f in rust_files(&root.join(layer)) {
            let text = std::fs::read_to_string(&f).expect("read source");
            scanned += 1;
            for v in violations(&code_of(&text), allowed) {
                problems.push(format!(
                    "{} uses {v}",
                    f.strip_prefix(root).unwrap_or(&f).display()
                ));
            }
        }
    }
    assert!(
        scanned >= 10,
        "only {scanned} files scanned: is the layout still the one described?"
    );
    assert!(
        problems.is_empty(),
        "layering broken:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_scan_sees_violations() {
    // The checker itself: a lower-layer file that used HTTP types or a higher layer is caught,
    // prose about them is not.
    assert_eq!(
        violations(&code_of("use crate::http::ApiError;\n"), &[]),
        vec!["crate::http"]
    );
    assert_eq!(
        violations(&code_of("fn f(h: &http::HeaderMap) {}\n"), &[]),
        vec!["http::"]
    );
    assert_eq!(violations(&code_of("use axum::Json;\n"), &[]), vec!["axum"]);
    assert_eq!(
        violations(&code_of("use crate::store::Store;\n"), &["store"]),
        Vec::<String>::new()
    );
    assert!(violations(&code_of("// the http layer maps crate::http errors\n"), &[]).is_empty());
    assert!(violations(&code_of("let u = \"http://x\"; // fine\n"), &[]).is_empty());
}
