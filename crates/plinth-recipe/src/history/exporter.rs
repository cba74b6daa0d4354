//! What BuildKit's image exporter does to a history that does not account for the layers
//! (`normalizeLayersAndHistory` in `exporter/containerimage/writer.go`): a base image whose
//! history names fewer layers than it has (written by a tool that keeps no history, or
//! squashed) gets entries appended at the end, one per layer left over, counted from the top
//! and named after BuildKit's description of that layer's snapshot; a history naming more
//! layers than there are gets its entries past the last layer marked empty. Both engines apply
//! it to the image they write, so such a base reads the same as in BuildKit.

use plinth_oci::History;

use crate::op::Op;

/// The comment of an entry the exporter appends.
pub const EXPORTER_COMMENT: &str = "buildkit.exporter.image.v0";

/// BuildKit's description of a file operation's snapshot (`COPY`, `ADD`, `WORKDIR`).
pub const FILE_OPERATION_SNAPSHOT: &str = "fileop target";

/// The description BuildKit gives the snapshot `op` makes, which names an appended entry:
/// `mount / from exec <argv>` for an exec, `fileop target` for a file operation (`COPY`,
/// `ADD`, `WORKDIR`); `None` for an operation that makes no snapshot.
pub fn snapshot_description(op: &Op) -> Option<String> {
    match op {
        Op::Exec { argv, .. } => Some(format!("mount / from exec {}", argv.join(" "))),
        Op::File { .. } | Op::Directory { .. } | Op::Workdir { .. } => {
            Some(FILE_OPERATION_SNAPSHOT.to_owned())
        }
        Op::From { .. }
        | Op::Env { .. }
        | Op::Label { .. }
        | Op::User { .. }
        | Op::Entrypoint { .. }
        | Op::DefaultArgs { .. }
        | Op::MountedCache { .. }
        | Op::UnmountCache { .. }
        | Op::Config { .. }
        | Op::History { .. } => None,
    }
}

/// The description of a layer of the base at `address` (its image source's address) as
/// BuildKit gives it for a fresh pull: `pulled from NAME@DIGEST` with the platform manifest's
/// digest when known, the name alone otherwise. (BuildKit keeps the description of the first
/// build that made a snapshot, so on a machine where the layer came another way first, its
/// entry reads `from local …`: nothing another builder can reproduce.)
pub fn pulled_description(address: &str, manifest: Option<&plinth_oci::Digest>) -> String {
    let name = address.trim_start_matches("docker://");
    let name = name.split_once('@').map_or(name, |(n, _)| n);
    match manifest {
        Some(digest) => format!("pulled from {name}@{digest}"),
        None => format!("pulled from {name}"),
    }
}

/// `history` made to account for `layers` layers, as BuildKit's exporter does (see the module
/// docs). `describe(i)` gives layer `i`'s description and `created` its time.
pub fn account_for_layers(
    history: &mut Vec<History>,
    layers: usize,
    describe: impl Fn(usize) -> String,
    created: Option<String>,
) {
    let mut named = 0;
    for entry in history.iter_mut() {
        if named >= layers {
            entry.empty_layer = true;
        }
        if !entry.empty_layer {
            named += 1;
        }
    }
    for layer in named..layers {
        history.push(History {
            created: created.clone(),
            created_by: Some(describe(layer)),
            comment: Some(EXPORTER_COMMENT.to_owned()),
            ..History::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(created_by: &str, empty: bool) -> History {
        History {
            created_by: Some(created_by.to_owned()),
            empty_layer: empty,
            ..History::default()
        }
    }

    fn lines(history: &[History]) -> Vec<String> {
        history
            .iter()
            .map(|h| {
                format!(
                    "{} {} {}",
                    if h.empty_layer { "E" } else { "L" },
                    h.created_by.as_deref().unwrap_or(""),
                    h.comment.as_deref().unwrap_or("")
                )
            })
            .collect()
    }

    #[test]
    fn layers_left_over_get_entries_named_from_the_top() {
        // A two-layer base with one entry, then RUN, ENV and COPY: BuildKit names the last
        // layer (what docker 20.10 wrote on this machine).
        let mut history = vec![
            entry("only one entry for two layers", false),
            entry("RUN true # buildkit", false),
            entry("ENV A=1", true),
            entry("COPY a /a # buildkit", false),
        ];
        let names = [
            "base 0",
            "base 1",
            "mount / from exec true",
            "fileop target",
        ];
        account_for_layers(&mut history, 4, |i| names[i].to_owned(), None);
        assert_eq!(
            lines(&history)[4..],
            ["L fileop target buildkit.exporter.image.v0"]
        );
    }

    #[test]
    fn entries_past_the_last_layer_become_empty_and_a_full_history_stays() {
        let mut history = vec![entry("a", false), entry("b", false), entry("c", false)];
        let unchanged = history.clone();
        account_for_layers(&mut history, 3, |_| unreachable!(), None);
        assert_eq!(history, unchanged);
        account_for_layers(&mut history, 1, |_| unreachable!(), None);
        assert_eq!(lines(&history), ["L a ", "E b ", "E c "]);
    }
}
