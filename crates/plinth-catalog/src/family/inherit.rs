//! Check inheritance: a version's checks are the previous version's with its row's changes.

use super::{CheckChange, ChecksDecl, VersionDecl};
use crate::checks::Check;
use crate::error::{Error, Result};
use crate::version::Version;

/// The check list of `version` after inheritance over `versions` (oldest first).
pub fn resolve_checks(
    repository: &str,
    versions: &[VersionDecl],
    version: &Version,
) -> Result<Vec<Check>> {
    let invalid = |reason: String| Error::InvalidFamily {
        repository: repository.to_owned(),
        reason,
    };
    let mut current: Vec<Check> = Vec::new();
    for decl in versions {
        let is_target = decl.version() == version;
        match decl.checks() {
            ChecksDecl::Unknown { reason } => {
                if is_target {
                    return Err(Error::ChecksUnknown {
                        repository: repository.to_owned(),
                        version: version.clone(),
                        reason: reason.clone(),
                    });
                }
            }
            ChecksDecl::Replace(list) => current = list.clone(),
            ChecksDecl::Inherit(changes) => {
                for change in changes {
                    apply_change(&mut current, change).map_err(|reason| {
                        invalid(format!("version {}: {reason}", decl.version()))
                    })?;
                }
            }
        }
        if let Some(dup) = current
            .iter()
            .enumerate()
            .find_map(|(i, c)| current[..i].iter().find(|o| o.id() == c.id()))
        {
            return Err(invalid(format!(
                "version {}: two checks have the id `{}`",
                decl.version(),
                dup.id()
            )));
        }
        if is_target {
            return Ok(current);
        }
    }
    Err(Error::UnknownVersion {
        repository: repository.to_owned(),
        version: version.clone(),
    })
}

fn apply_change(list: &mut Vec<Check>, change: &CheckChange) -> std::result::Result<(), String> {
    let position = |list: &[Check], id: &str| list.iter().position(|c| c.id() == id);
    match change {
        CheckChange::Set(check) => match position(list, check.id()) {
            Some(i) => list[i] = check.clone(),
            None => list.push(check.clone()),
        },
        CheckChange::InsertBefore { before, check } => {
            if position(list, check.id()).is_some() {
                return Err(format!(
                    "cannot insert `{}`: a check with that id is inherited; use Set to replace it",
                    check.id()
                ));
            }
            let i = position(list, before).ok_or_else(|| {
                format!(
                    "cannot insert `{}` before `{before}`: no inherited check has that id",
                    check.id()
                )
            })?;
            list.insert(i, check.clone());
        }
        CheckChange::Drop(id) => {
            let i = position(list, id)
                .ok_or_else(|| format!("cannot drop `{id}`: no inherited check has that id"))?;
            list.remove(i);
        }
    }
    Ok(())
}
