//! Interactive questions (inquire) with one rule: without a terminal nothing is asked, and a
//! missing answer is an error naming the flag that gives it.

use std::io::IsTerminal as _;

use anyhow::{Context as _, bail};
use inquire::validator::Validation;
use inquire::{Confirm, Password, Select, Text};

/// Set to any value to never prompt, even on a terminal (CI).
pub const PLINTH_NO_PROMPT: &str = "PLINTH_NO_PROMPT";

/// Whether questions may be asked: stdin and stderr are terminals and prompting is not disabled.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
        && std::env::var_os(PLINTH_NO_PROMPT).is_none()
}

/// The error for an answer that is missing while nothing may be asked.
pub fn missing(what: &str, flag: &str) -> anyhow::Error {
    crate::exit_status::usage_error(format!(
        "{what} is required: pass `{flag}` (no question is asked without a terminal)"
    ))
}

fn interrupted(e: inquire::InquireError) -> anyhow::Error {
    match e {
        inquire::InquireError::OperationCanceled | inquire::InquireError::OperationInterrupted => {
            anyhow::anyhow!("cancelled")
        }
        other => anyhow::Error::new(other).context("the question could not be asked"),
    }
}

/// Asks to pick one of `options`; returns its index.
pub fn select(message: &str, options: Vec<String>, start: usize) -> anyhow::Result<usize> {
    if options.is_empty() {
        bail!("nothing to choose from for: {message}");
    }
    let answer = Select::new(message, options)
        .with_starting_cursor(start)
        .with_page_size(10)
        .raw_prompt()
        .map_err(interrupted)?;
    Ok(answer.index)
}

/// Asks for a non-empty text, starting from `initial` (edited, or accepted with Enter); an
/// empty answer is rejected and asked again.
pub fn text_non_empty(message: &str, initial: Option<&str>) -> anyhow::Result<String> {
    let mut question = Text::new(message);
    if let Some(initial) = initial {
        question = question.with_initial_value(initial);
    }
    question
        .with_validator(|s: &str| {
            Ok(if s.trim().is_empty() {
                Validation::Invalid("The changelog entry cannot be empty.".into())
            } else {
                Validation::Valid
            })
        })
        .prompt()
        .map_err(interrupted)
}

/// Asks a yes/no question.
pub fn confirm(message: &str, default: bool) -> anyhow::Result<bool> {
    Confirm::new(message)
        .with_default(default)
        .prompt()
        .map_err(interrupted)
}

/// Asks for a user name and a hidden password.
pub fn credentials(registry: &str) -> anyhow::Result<(String, String)> {
    let label = if registry == "docker.io" {
        "Dockerhub".to_owned()
    } else {
        registry.to_owned()
    };
    let user = Text::new(&format!("{label} username: "))
        .prompt()
        .map_err(interrupted)?;
    let password = Password::new(&format!("{label} Password: "))
        .without_confirmation()
        .prompt()
        .map_err(interrupted)
        .context("no password given")?;
    Ok((user, password))
}
