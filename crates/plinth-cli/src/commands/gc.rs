//! `plinth gc`: remove blobs that no image in the local store refers to, and the roots plinth
//! loaded into docker builders for BuildKit builds that the store no longer keeps.

use std::collections::BTreeSet;

use clap::Args;
use plinth_buildkit::{DockerCli, LoadedRootsGc, gc_loaded_roots, has_loaded_roots};
use plinth_oci::store::GcOptions;
use plinth_oci::{Digest, Store};

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::settings::{engine, open_store};

/// Arguments of `plinth gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Show what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove unreferenced blobs written in the last ten minutes (they may belong to a
    /// command still running in another process).
    #[arg(long)]
    pub now: bool,
    /// Also hash every blob kept and remove the corrupt ones (a flipped byte on disk); the next
    /// pull or build fetches them again from their registry.
    #[arg(long)]
    pub verify: bool,
    /// Also remove the `RUN --mount=type=cache` volumes (pip, apt, cargo caches of earlier
    /// builds), as `docker builder prune` does; the next build starts them empty.
    #[arg(long)]
    pub cache_mounts: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `plinth gc`.
pub fn run(args: GcArgs, global: &GlobalArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    // The engine's gc covers the store's blobs and its own snapshots, links and cache entries.
    let engine = engine(global, open_store()?)?;
    let mut options = if args.now {
        GcOptions::immediate()
    } else {
        GcOptions::default()
    };
    options.dry_run = args.dry_run;
    options.verify = args.verify;
    let engine_report = engine.gc(&options)?;
    let report = &engine_report.store;
    let roots = builder_roots(engine.store(), &report.removed, args.dry_run)?;
    let cache_mounts = if args.cache_mounts {
        engine.remove_cache_mounts(args.dry_run, options.lock_timeout)?
    } else {
        plinth_engine::CacheMountsReport::default()
    };
    let reports = Reports {
        engine: &engine_report,
        roots: &roots,
        cache_mounts: &cache_mounts,
    };
    if args.json {
        print_json(&args, &reports, printer)?;
    } else {
        print_text(&args, &reports, printer);
    }
    Ok(ExitStatus::Success)
}

/// What one `plinth gc` did.
struct Reports<'a> {
    engine: &'a plinth_engine::EngineGcReport,
    roots: &'a LoadedRootsGc,
    cache_mounts: &'a plinth_engine::CacheMountsReport,
}

fn print_json(args: &GcArgs, reports: &Reports<'_>, printer: Printer) -> anyhow::Result<()> {
    let (engine_report, roots, cache_mounts) =
        (reports.engine, reports.roots, reports.cache_mounts);
    let report = &engine_report.store;
    printer.result(serde_json::to_string_pretty(&serde_json::json!({
        "dry_run": args.dry_run,
        "blobs_kept": report.blobs_kept,
        "blobs_removed": report.blobs_removed,
        "blobs_in_grace": report.blobs_in_grace,
        "temp_files_removed": report.temp_files_removed,
        "bytes_freed": report.bytes_freed,
        "removed": report.removed.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "attachment_refs_removed": report.attachment_refs_removed,
        "corrupt": report.corrupt.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "snapshots_kept": engine_report.snapshots_kept,
        "snapshots_removed": engine_report.snapshots_removed.len(),
        "cache_entries_removed": engine_report.cache_entries_removed,
        "engine_bytes_freed": engine_report.bytes_freed,
        "builder_roots_removed": roots.removed,
        "builder_roots_kept": roots.kept,
        "builder_roots_left": roots.left,
        "cache_mounts_removed": cache_mounts.volumes,
        "cache_mounts_bytes_freed": cache_mounts.bytes_freed,
    }))?);
    Ok(())
}

fn print_text(args: &GcArgs, reports: &Reports<'_>, printer: Printer) {
    let (engine_report, roots, cache_mounts) =
        (reports.engine, reports.roots, reports.cache_mounts);
    let report = &engine_report.store;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    printer.result(format!(
        "{verb} {} blobs and {} temp files ({} bytes); kept {} referenced and {} recent blobs",
        report.blobs_removed,
        report.temp_files_removed,
        report.bytes_freed,
        report.blobs_kept,
        report.blobs_in_grace
    ));
    if report.attachment_refs_removed > 0 {
        printer.result(format!(
            "{verb} {} attachments (SBOMs, attestations) of images no longer kept",
            report.attachment_refs_removed
        ));
    }
    if args.verify {
        printer.result(format!(
            "{verb} {} corrupt blobs{}",
            report.corrupt.len(),
            report
                .corrupt
                .iter()
                .map(|d| format!("\n  {d}"))
                .collect::<String>()
        ));
    }
    printer.result(format!(
        "{verb} {} snapshots and {} stale cache entries ({} bytes); kept {} snapshots in use",
        engine_report.snapshots_removed.len(),
        engine_report.cache_entries_removed,
        engine_report.bytes_freed,
        engine_report.snapshots_kept
    ));
    if !roots.removed.is_empty() || !roots.left.is_empty() {
        printer.result(format!(
            "{verb} {} roots plinth loaded into docker builders{}; kept {} the store still keeps",
            roots.removed.len(),
            roots
                .removed
                .iter()
                .map(|r| format!("\n  {r}"))
                .collect::<String>(),
            roots.kept
        ));
    }
    for left in &roots.left {
        printer.warn(format!("left a root in its builder: {left}"));
    }
    if args.cache_mounts {
        printer.result(format!(
            "{verb} {} cache mount volumes ({} bytes)",
            cache_mounts.volumes, cache_mounts.bytes_freed
        ));
    }
}

/// The roots plinth loaded into docker builders whose config the store no longer keeps (after
/// this gc, or what the dry run would remove) go too. Nothing is asked of docker when plinth
/// never loaded a root.
fn builder_roots(
    store: &Store,
    removed: &[Digest],
    dry_run: bool,
) -> anyhow::Result<LoadedRootsGc> {
    if !has_loaded_roots(store) {
        return Ok(LoadedRootsGc::default());
    }
    let docker = match DockerCli::detect() {
        Ok(docker) => docker,
        Err(e) => {
            return Ok(LoadedRootsGc {
                left: vec![format!("every root loaded into a docker builder ({e})")],
                ..LoadedRootsGc::default()
            });
        }
    };
    let removed: BTreeSet<&Digest> = removed.iter().collect();
    let gone = |config: &Digest| removed.contains(config) || !store.has_blob(config);
    Ok(gc_loaded_roots(store, &docker, &gone, dry_run)?)
}
