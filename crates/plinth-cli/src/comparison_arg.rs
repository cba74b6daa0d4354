//! How `plinth diff` and `plinth verify --rebuild` print an image comparison: `--json`, or
//! the text form with at most `--max-files` files per layer.

use clap::Args;
use plinth_diff::{ImageComparison, TextOptions};

use crate::printer::Printer;

/// The output options of a command that prints an [`ImageComparison`].
#[derive(Debug, Args)]
pub struct ComparisonOutput {
    /// Print the comparison as JSON (every file; the text lists at most --max-files per
    /// layer).
    #[arg(long)]
    pub json: bool,
    /// Changed files listed per layer in the text output.
    #[arg(long, default_value_t = 40, value_name = "N")]
    pub max_files: usize,
}

impl ComparisonOutput {
    /// Prints `comparison`: as JSON with the `extra` fields added to its object, or as text
    /// followed by the `extra_text` lines.
    pub fn print(
        &self,
        printer: &Printer,
        comparison: &ImageComparison,
        extra: &[(&str, serde_json::Value)],
        extra_text: &str,
    ) -> anyhow::Result<()> {
        if self.json {
            let mut value = serde_json::to_value(comparison)?;
            for (key, field) in extra {
                value[*key] = field.clone();
            }
            printer.result(serde_json::to_string_pretty(&value)?);
            return Ok(());
        }
        let text = plinth_diff::render_text(
            comparison,
            TextOptions {
                max_files: self.max_files,
            },
        );
        printer.result(text.trim_end());
        if !extra_text.is_empty() {
            printer.result(extra_text);
        }
        Ok(())
    }
}
