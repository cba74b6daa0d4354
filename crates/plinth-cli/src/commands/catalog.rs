//! `plinth catalog [REPOSITORY] [--offline] [--json]`: the catalog version by version.

use std::collections::BTreeMap;

use clap::Args;
use plinth_catalog::listing::{CatalogListing, FamilyListing, VersionListing};
use plinth_catalog::{Catalog, Changelog, VersionHistory};

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::release_context::{ListingArgs, open_releaser};

/// Arguments of `plinth catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// Only this family (its repository).
    pub repository: Option<String>,
    /// Do not ask the registry which versions are published: list the declarations and the
    /// changelog only (the PUBLISHED column then shows the digest the declaration records).
    #[arg(long)]
    pub offline: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Tag listing options.
    #[command(flatten)]
    pub listing: ListingArgs,
}

/// Runs `plinth catalog`.
pub fn run(
    args: CatalogArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    let releaser = open_releaser(global, catalog, &args.listing, printer, false)?;
    let families: Vec<&str> = match &args.repository {
        Some(repository) => vec![catalog.get(repository)?.repository()],
        None => catalog.repositories(),
    };
    let mut histories = BTreeMap::new();
    for repository in &families {
        let history = if args.offline {
            VersionHistory::new(
                &releaser.published_repository(repository)?,
                Changelog::load(&releaser.changelog_path(repository))?,
                [],
            )
        } else {
            releaser.history(repository)?
        };
        histories.insert((*repository).to_owned(), history);
    }
    let mut listing = CatalogListing::new(catalog, &histories);
    listing
        .families
        .retain(|f| families.contains(&f.repository.as_str()));
    if args.json {
        printer.result(serde_json::to_string_pretty(&listing)?);
    } else {
        printer.result(render_table(&listing, args.offline));
    }
    Ok(ExitStatus::Success)
}

/// One block per family: a heading, a row per version, its notes indented below it.
fn render_table(listing: &CatalogListing, offline: bool) -> String {
    let mut out = format!("{} ({})\n", listing.title, listing.owner);
    for family in &listing.families {
        out.push('\n');
        out.push_str(&family_block(family, offline));
    }
    out.trim_end().to_owned()
}

fn family_block(family: &FamilyListing, offline: bool) -> String {
    let mut out = format!(
        "{} ({}) [{}]{}\n",
        family.repository,
        family.kind.as_str(),
        family.platforms.join(", "),
        family
            .published_at
            .as_ref()
            .filter(|_| !offline)
            .map(|at| format!(", published at {at}"))
            .unwrap_or_default()
    );
    let header = [
        "VERSION",
        "RECIPE",
        "BUILDABLE",
        "PUBLISHED",
        "PROVENANCE",
        "CHANGELOG",
    ];
    let rows: Vec<[String; 6]> = family
        .versions
        .iter()
        .map(|v| version_row(v, offline))
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6]| {
        let mut text = String::from("  ");
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        text.trim_end().to_owned() + "\n"
    };
    out.push_str(&line(&header.map(str::to_owned)));
    for (row, version) in rows.iter().zip(&family.versions) {
        out.push_str(&line(row));
        for note in &version.notes {
            out.push_str(&format!("      note: {note}\n"));
        }
    }
    out
}

fn version_row(v: &VersionListing, offline: bool) -> [String; 6] {
    let published = match (&v.published, &v.recorded_digest) {
        (Some(_), _) => "yes".to_owned(),
        (None, Some(digest)) if offline => format!("recorded {}", short(digest)),
        (None, _) if offline => "-".to_owned(),
        (None, _) => "no".to_owned(),
    };
    [
        v.version.clone(),
        v.recipe.map_or("not declared", |r| r.as_str()).to_owned(),
        if v.buildable { "yes" } else { "no" }.to_owned(),
        published,
        v.provenance.clone().unwrap_or_else(|| "-".to_owned()),
        v.changelog.clone().unwrap_or_default(),
    ]
}

/// `sha256:` and the first 12 hex digits, as docker shows ids.
fn short(digest: &str) -> String {
    digest.chars().take("sha256:".len() + 12).collect()
}
