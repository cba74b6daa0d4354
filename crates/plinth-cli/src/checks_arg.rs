//! Sanity checks from the command line: which checks, and how their reports are written.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use plinth_catalog::checks::{Check, CheckReport, render_junit};
use plinth_catalog::cst::CstFile;
use plinth_engine::Engine;
use plinth_oci::{Descriptor, Platform};

use crate::printer::Printer;
use crate::recipe_arg::Recipe;

/// Options of the commands that run checks.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A container-structure-test file (schemaVersion 2.0.0) whose tests run as extra checks; repeatable.
    #[arg(long = "cst", value_name = "FILE")]
    pub cst_files: Vec<PathBuf>,
    /// Also write the reports as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print the reports as JSON instead of tables.
    #[arg(long = "json-report")]
    pub json: bool,
}

impl CheckArgs {
    /// The checks for `recipe`: the catalog version's own, then the container-structure-test files.
    pub fn checks(&self, recipe: &Recipe<'_>) -> anyhow::Result<Vec<Check>> {
        let mut checks = match recipe.catalog_version() {
            Some((family, version)) => family.checks(version)?,
            None => Vec::new(),
        };
        checks.extend(self.cst_checks()?);
        Ok(checks)
    }

    /// The checks of the container-structure-test files alone.
    pub fn cst_checks(&self) -> anyhow::Result<Vec<Check>> {
        let mut checks = Vec::new();
        for file in &self.cst_files {
            let cst = CstFile::load(file)
                .with_context(|| format!("failed to read `{}`", file.display()))?;
            checks.extend(cst.checks());
        }
        Ok(checks)
    }

    /// Runs `checks` on every platform of `image`, prints the reports and returns them.
    pub fn run(
        &self,
        engine: &Engine,
        subject: &str,
        image: &Descriptor,
        platforms: &[Platform],
        checks: &[Check],
        printer: Printer,
    ) -> anyhow::Result<Vec<CheckReport>> {
        let reports = plinth_release::check_image(engine, subject, image, platforms, checks)?;
        self.print(&reports, printer)?;
        Ok(reports)
    }

    fn print(&self, reports: &[CheckReport], printer: Printer) -> anyhow::Result<()> {
        for report in reports {
            if self.json {
                printer.result(report.to_json());
            } else if report.passed() {
                printer.status(report.render_table());
            } else {
                // `-q` hides progress, never what failed.
                printer.always(report.render_table());
            }
        }
        if let Some(path) = &self.junit {
            plinth_release::record::write_atomic(path, render_junit(reports).as_bytes())
                .with_context(|| format!("failed to write `{}`", path.display()))?;
        }
        Ok(())
    }
}
