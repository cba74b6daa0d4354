//! `plinth outdated [REPO[:VERSION] | -f Dockerfile]`: before any build, what in a recipe no
//! longer holds: root tags that moved, apt pins the root's suite no longer carries, pip pins
//! with newer releases or none at all. Exit 1 when a pin cannot install.

use anyhow::Context as _;
use clap::Args;
use plinth_catalog::Catalog;
use plinth_oci::Platform;
use plinth_release::outdated::{self, OutdatedOptions, OutdatedReport};

use crate::ExitStatus;
use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::recipe_arg::RecipeArgs;
use crate::settings::{open_store, registry_client, runtime};

/// Arguments of `plinth outdated`.
#[derive(Debug, Args)]
pub struct OutdatedArgs {
    /// The recipe.
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// The platforms whose recipes to examine, comma-separated (default: the family's, or the
    /// host's for a Dockerfile).
    #[arg(long, value_delimiter = ',', value_name = "OS/ARCH")]
    pub platform: Vec<Platform>,
    /// The Debian suite apt pins must install from, instead of the root's /etc/os-release.
    #[arg(long, value_name = "SUITE")]
    pub suite: Option<String>,
    /// The Python package index whose JSON API is asked about pip pins.
    #[arg(long, value_name = "URL", default_value = outdated::pypi::PYPI)]
    pub pypi: String,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs `plinth outdated`.
pub fn run(
    args: OutdatedArgs,
    global: &GlobalArgs,
    printer: Printer,
    catalog: &Catalog,
) -> anyhow::Result<ExitStatus> {
    // With `--substitute-image`, the stand-in root is the one examined (its suite, its tag).
    let recipe = args
        .recipe
        .resolve(catalog)?
        .with_image_substitutions(crate::recipe_arg::image_substitutions(global)?);
    let platforms = if args.platform.is_empty() {
        recipe.default_platforms()
    } else {
        args.platform.clone()
    };
    let containers = platforms
        .iter()
        .map(|p| Ok((p.clone(), recipe.container(p)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let client = registry_client(global, open_store()?)?;
    let http = outdated::http_client()?;
    let options = OutdatedOptions {
        apt_mirror: global.apt_mirror.clone(),
        suite: args.suite.clone(),
        pypi: args.pypi.clone(),
        keyring: global
            .apt_keyring
            .clone()
            .unwrap_or_else(|| plinth_engine::DEBIAN_ARCHIVE_KEYRING.into()),
    };
    let report = runtime()?
        .block_on(outdated::examine(
            &recipe.id,
            &client,
            &http,
            &containers,
            &options,
        ))
        .with_context(|| format!("failed to examine the pins of {}", recipe.id))?;
    if args.json {
        printer.result(serde_json::to_string_pretty(&report)?);
    } else {
        printer.result(render_report(&report));
    }
    Ok(if report.cannot_install() > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// The report as text: roots, apt pins, pip pins, then a summary line.
fn render_report(report: &OutdatedReport) -> String {
    let mut out = format!("{}\n", report.subject);
    render_roots(&mut out, report);
    for suite in &report.suites {
        out.push_str(&format!(
            "apt pins on {} checked against {} ({})\n",
            suite.platform,
            suite.suite,
            match suite.from {
                "given" => "--suite",
                "debian-root" => "the Debian root's suite",
                _ => "the root's os-release",
            }
        ));
    }
    if !report.apt.is_empty() {
        let rows: Vec<[String; 4]> = report.apt.iter().map(apt_row).collect();
        out.push_str(&table(["APT PIN", "STEP", "PLATFORM", "STATUS"], &rows));
    }
    if !report.pip.is_empty() {
        let rows: Vec<[String; 4]> = report.pip.iter().map(pip_row).collect();
        out.push_str(&table(["PIP PIN", "STEP", "LATEST", "STATUS"], &rows));
    }
    out.push_str(&match report.cannot_install() {
        0 => format!(
            "every pin installs; {} root tag(s) moved",
            report.moved_roots()
        ),
        n => format!(
            "{n} pin(s) cannot install; a build of {} fails at them",
            report.subject
        ),
    });
    out
}

/// One line per compared root (with the digests per platform when its tag moved), then the
/// roots that could not be compared.
fn render_roots(out: &mut String, report: &OutdatedReport) {
    for root in &report.roots {
        if !root.moved() {
            out.push_str(&format!(
                "root {}: the tag {} still points to the pinned digest\n",
                root.address, root.tag
            ));
            continue;
        }
        out.push_str(&format!(
            "root {}: the tag {} moved from {} to {}\n",
            root.address, root.tag, root.pinned, root.current
        ));
        let show = |d: &Option<plinth_oci::Digest>| {
            d.as_ref().map_or("none".to_owned(), ToString::to_string)
        };
        for p in &root.platforms {
            out.push_str(&format!(
                "  {}: {} -> {}\n",
                p.platform,
                show(&p.pinned),
                show(&p.current)
            ));
        }
    }
    for root in &report.roots_not_compared {
        out.push_str(&format!(
            "root {}: its tag could not be compared: {}\n",
            root.address, root.error
        ));
    }
}

fn apt_row(p: &outdated::AptPinStatus) -> [String; 4] {
    let carries = p
        .available
        .iter()
        .map(|a| format!("{} ({})", a.version, a.suite))
        .collect::<Vec<_>>()
        .join(", ");
    let status = if p.installable {
        "ok".to_owned()
    } else if carries.is_empty() {
        format!("not in {}: the archive has no such package", p.suite)
    } else {
        format!("not in {}: it carries {carries}", p.suite)
    };
    [
        p.pin.clone(),
        format!("#{}", p.step),
        p.platform.clone(),
        status,
    ]
}

fn pip_row(p: &outdated::PipPinStatus) -> [String; 4] {
    let latest = p.latest.clone().unwrap_or_default();
    let status = match (p.installable, p.newer, &p.latest) {
        (false, _, None) => "the index has no such package".to_owned(),
        (false, _, Some(_)) => "the index serves no such release".to_owned(),
        (true, true, _) => format!("ok, newer: {latest}"),
        (true, false, _) => "ok".to_owned(),
    };
    [p.pin.clone(), format!("#{}", p.step), latest, status]
}

fn table(header: [&str; 4], rows: &[[String; 4]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 3 {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        text.trim_end().to_owned() + "\n"
    };
    let mut out = line(header);
    for row in rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3]]));
    }
    out
}
