//! The text form of an [`ImageComparison`], shared by `plinth diff` and `plinth verify
//! --rebuild`: per platform the package changes, the config fields that differ, each layer
//! (same, or its files added/removed/changed), and known noise in a section of its own.

use std::fmt::Write as _;

use serde_json::Value;

use crate::config::FieldChange;
use crate::files::{FileEntry, kind_word};
use crate::image::{DigestPair, ImageComparison, LayerComparison, PlatformComparison};
use crate::layers::{Change, FileChange};
use crate::packages::PackageChange;

/// How much text to write.
#[derive(Clone, Copy, Debug)]
pub struct TextOptions {
    /// At most this many changed files per layer (the rest are counted; `--json` has them all).
    pub max_files: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        Self { max_files: 40 }
    }
}

/// `sha256:0123456789ab` (12 hex digits are plenty to tell two images apart on screen).
pub fn short(digest: &plinth_oci::Digest) -> String {
    let text = digest.to_string();
    match text.split_once(':') {
        Some((algo, hex)) => format!("{algo}:{}", &hex[..hex.len().min(12)]),
        None => text,
    }
}

/// `512 B`, `1.5 KiB`, `12.0 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn pair(p: &DigestPair) -> String {
    let side = |d: &Option<plinth_oci::Digest>| d.as_ref().map_or("(none)".to_owned(), short);
    if p.equal() {
        format!("{} (same)", side(&p.before))
    } else {
        format!("{} → {}", side(&p.before), side(&p.after))
    }
}

/// The comparison as text.
pub fn render_text(cmp: &ImageComparison, options: TextOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "--- {}", cmp.before_name);
    let _ = writeln!(out, "+++ {}", cmp.after_name);
    let _ = writeln!(out, "image: {}", pair(&cmp.root));
    write_fields(&mut out, "  index ", &cmp.index_changes);
    for platform in &cmp.platforms {
        write_platform(&mut out, platform, options);
    }
    out
}

fn write_platform(out: &mut String, p: &PlatformComparison, options: TextOptions) {
    let verdict = if p.equal() { "same" } else { "differs" };
    let _ = writeln!(out, "\n[{}] {verdict}", p.platform);
    let _ = writeln!(out, "  manifest: {}", pair(&p.manifest));
    write_fields(out, "    ", &p.manifest_changes);
    if let Some(packages) = &p.packages {
        write_packages(out, packages);
    }
    let _ = writeln!(out, "  config: {}", pair(&p.config));
    write_fields(out, "    ", &p.config_changes);
    let (before, after) = p.layer_counts;
    if before != after {
        let _ = writeln!(
            out,
            "  layers: {before} → {after} (identical layers are paired wherever they sit, the rest by position)"
        );
    }
    let mut noise: Vec<(String, &FileChange)> = Vec::new();
    for layer in &p.layers {
        write_layer(out, layer, options);
        noise.extend(
            layer
                .files
                .iter()
                .filter(|f| f.noise.is_some())
                .map(|f| (layer_label(layer), f)),
        );
    }
    if !noise.is_empty() {
        let _ = writeln!(
            out,
            "  known noise ({} file{}; differs between builds of the same inputs, still a difference):",
            noise.len(),
            if noise.len() == 1 { "" } else { "s" }
        );
        for (index, file) in noise.iter().take(options.max_files) {
            let _ = writeln!(
                out,
                "    {index}: {} — {}",
                file_line(file),
                file.noise.unwrap_or_default()
            );
        }
        if noise.len() > options.max_files {
            let _ = writeln!(out, "    … and {} more", noise.len() - options.max_files);
        }
    }
}

fn write_packages(out: &mut String, packages: &[PackageChange]) {
    if packages.is_empty() {
        let _ = writeln!(out, "  packages: same");
        return;
    }
    let count = |word: &str| packages.iter().filter(|c| c.word() == word).count();
    let _ = writeln!(
        out,
        "  packages: {} upgraded, {} downgraded, {} added, {} removed, {} changed",
        count("upgraded"),
        count("downgraded"),
        count("added"),
        count("removed"),
        count("changed")
    );
    for c in packages {
        let versions = match (c.before.is_empty(), c.after.is_empty()) {
            (true, _) => c.after.join(", "),
            (_, true) => c.before.join(", "),
            _ => format!("{} → {}", c.before.join(", "), c.after.join(", ")),
        };
        let _ = writeln!(out, "    {:<10} {} {} {versions}", c.word(), c.kind, c.name);
    }
}

/// `layer 2`, `layer 2 → 3` (moved), `layer 2 (added)` or `layer 2 (removed)`.
fn layer_label(layer: &LayerComparison) -> String {
    match (layer.before_index, layer.after_index) {
        (Some(a), Some(b)) if a == b => format!("layer {a}"),
        (Some(a), Some(b)) => format!("layer {a} → {b}"),
        (None, Some(b)) => format!("layer {b} (added)"),
        (Some(a), None) => format!("layer {a} (removed)"),
        (None, None) => "layer".to_owned(),
    }
}

fn write_layer(out: &mut String, layer: &LayerComparison, options: TextOptions) {
    let side = |l: &Option<crate::image::LayerSide>| {
        l.as_ref().map_or("(none)".to_owned(), |l| {
            format!("{} {}", short(&l.digest), human_size(l.size))
        })
    };
    if layer.equal() {
        let _ = writeln!(
            out,
            "  {}: {} (same)",
            layer_label(layer),
            side(&layer.before)
        );
        return;
    }
    let _ = writeln!(
        out,
        "  {}: {} → {}",
        layer_label(layer),
        side(&layer.before),
        side(&layer.after)
    );
    let real: Vec<&FileChange> = layer.files.iter().filter(|f| f.noise.is_none()).collect();
    if layer.files.is_empty() {
        let _ = writeln!(
            out,
            "    same files, same metadata: only the archive's bytes differ (entry order, tar headers or compression)"
        );
    } else if real.is_empty() {
        let _ = writeln!(out, "    only known noise differs (below)");
    }
    for file in real.iter().take(options.max_files) {
        let _ = writeln!(out, "    {}", file_line(file));
    }
    if real.len() > options.max_files {
        let _ = writeln!(
            out,
            "    … and {} more files",
            real.len() - options.max_files
        );
    }
}

fn entry_facts(e: &FileEntry) -> String {
    let mut facts = format!("{} {:04o} {}:{}", kind_word(&e.kind), e.mode, e.uid, e.gid);
    if let Some(hash) = &e.sha256 {
        let _ = write!(facts, " {} {}", human_size(e.size), short_hash(hash));
    }
    facts
}

fn short_hash(hash: &str) -> String {
    let hex = hash.trim_start_matches("sha256:");
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

/// One file's line: `changed /etc/motd: size 6 B → 7 B, content sha256:… → sha256:…`.
pub fn file_line(file: &FileChange) -> String {
    match &file.change {
        Change::Added { after } => format!("added   /{} ({})", file.path, entry_facts(after)),
        Change::Removed { before } => {
            format!("removed /{} ({})", file.path, entry_facts(before))
        }
        Change::Changed {
            before,
            after,
            fields,
        } => {
            let detail: Vec<String> = fields
                .iter()
                .map(|field| match *field {
                    "type" => format!(
                        "type {} → {}",
                        kind_word(&before.kind),
                        kind_word(&after.kind)
                    ),
                    "mode" => format!("mode {:04o} → {:04o}", before.mode, after.mode),
                    "owner" => format!(
                        "owner {}:{} → {}:{}",
                        before.uid, before.gid, after.uid, after.gid
                    ),
                    "size" => format!(
                        "size {} → {}",
                        human_size(before.size),
                        human_size(after.size)
                    ),
                    "mtime" => format!("mtime {} → {}", before.mtime, after.mtime),
                    "content" => format!(
                        "content {} → {}",
                        short_hash(before.sha256.as_deref().unwrap_or_default()),
                        short_hash(after.sha256.as_deref().unwrap_or_default())
                    ),
                    other => other.to_owned(),
                })
                .collect();
            format!("changed /{}: {}", file.path, detail.join(", "))
        }
    }
}

fn write_fields(out: &mut String, indent: &str, changes: &[FieldChange]) {
    for c in changes {
        let _ = writeln!(
            out,
            "{indent}{}: {} → {}",
            c.field,
            value_text(c.before.as_ref()),
            value_text(c.after.as_ref())
        );
    }
}

fn value_text(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "(absent)".to_owned();
    };
    let text = value.to_string();
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}…")
    } else {
        text
    }
}
