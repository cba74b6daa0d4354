//! Merging several layers into one with the same effect: what BuildKit's one snapshot per
//! instruction gives where plinth makes a layer per step (a `COPY` of several sources is a step
//! per source, so each source keeps a cache entry of its own).
//!
//! Applying the merged layer on any base gives the file tree applying the layers one by one
//! gives. A later layer's entry replaces an earlier one of the same path; a later non-directory
//! also drops what an earlier layer put under its path, as does a later whiteout of the path; a
//! later opaque directory drops what earlier layers put under it. Whiteouts and opaque markers
//! are kept, for the layers below the merged one.
//!
//! Two passes over each layer, both streaming: the first reads only headers and decides which
//! entries survive; the second copies the survivors, merging the layers in path order (each
//! layer's own order is kept, so a hard link still follows its target). The result is
//! byte-sorted like every layer plinth writes when the inputs are.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

use super::restamp::{entry_path, rewritten_header};
use super::tar_reader::{RawEntry, TarReader};
use super::unpack::decoded;
use super::{
    DEFAULT_MAX_ENTRY_SIZE, LayerEntry, LayerInfo, LayerWriter, OPAQUE_WHITEOUT, WHITEOUT_PREFIX,
};
use super::{WriteOptions, commit, layer_blob};
use crate::error::{Error, Result};
use crate::{Descriptor, Store};

/// An entry that makes it into the merged layer.
struct Survivor {
    layer: usize,
    /// Its position among the layer's entries; `None` for an opaque marker the merge adds.
    ordinal: Option<usize>,
    is_dir: bool,
    /// A hard link's target path.
    link: Option<String>,
}

/// Which entries survive, the opaque markers the merge adds, and the path order every input
/// follows.
struct Plan {
    keep: Vec<BTreeSet<usize>>,
    /// The directories of the added markers, in `order`.
    added_opaque: Vec<String>,
    order: fn(&str, &str) -> Ordering,
}

/// Merges the layers `open(0)`, …, `open(count - 1)` (lowest first; gzip, zstd or plain tar)
/// into one layer written into `out`. `open` is called twice per layer.
///
/// Fails when a hard link of one layer points to a path a later layer replaces or deletes:
/// one layer cannot express that.
pub fn squash_layers<R: Read, W: Write>(
    mut open: impl FnMut(usize) -> Result<R>,
    count: usize,
    out: W,
    options: &WriteOptions,
) -> Result<(W, LayerInfo)> {
    let plan = plan(&mut open, count)?;
    let mut writer = LayerWriter::new(out, options)?;
    let mut cursors = Vec::with_capacity(count);
    for (layer, keep) in plan.keep.iter().enumerate() {
        let (_, stream) = decoded(open(layer)?, None)?;
        let mut cursor = Cursor {
            tar: TarReader::new(stream, DEFAULT_MAX_ENTRY_SIZE),
            next_ordinal: 0,
            head: None,
        };
        cursor.advance(keep)?;
        cursors.push(cursor);
    }
    let mut added = plan.added_opaque.iter().peekable();
    loop {
        let next = cursors
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.head.as_ref().map(|(path, _)| (i, path.as_str())))
            .min_by(|(i, a), (j, b)| (plan.order)(a, b).then(i.cmp(j)));
        // An added marker goes right after its directory, where the layers' own markers go.
        if let Some(dir) = added.peek() {
            let marker = format!("{dir}/{OPAQUE_WHITEOUT}");
            if next.is_none_or(|(_, path)| (plan.order)(&marker, path) == Ordering::Less) {
                writer.append_entry(&LayerEntry::opaque(dir))?;
                added.next();
                continue;
            }
        }
        let Some((layer, _)) = next else { break };
        let cursor = &mut cursors[layer];
        if let Some((_, raw)) = cursor.head.take()
            && let Some((_, header)) = rewritten_header(&writer, &raw)?
        {
            writer.append_raw(&header, &mut cursor.tar)?;
        }
        cursor.advance(&plan.keep[layer])?;
    }
    writer.finish()
}

/// [`squash_layers`] of the store's blobs `layers` into a new blob of the store.
pub fn store_squashed_layer(
    store: &Store,
    layers: &[Descriptor],
    options: &WriteOptions,
) -> Result<LayerInfo> {
    commit(squash_layers(
        |i| store.reader(&layers[i].digest),
        layers.len(),
        layer_blob(store)?,
        options,
    )?)
}

/// One layer's reader in the second pass, stopped at its next surviving entry.
struct Cursor<R> {
    tar: TarReader<R>,
    next_ordinal: usize,
    head: Option<(String, RawEntry)>,
}

impl<R: Read> Cursor<R> {
    fn advance(&mut self, keep: &BTreeSet<usize>) -> Result<()> {
        self.head = None;
        while let Some(raw) = self.tar.next_entry()? {
            let ordinal = self.next_ordinal;
            self.next_ordinal += 1;
            if keep.contains(&ordinal)
                && let Some(path) = entry_path(&raw)?
            {
                self.head = Some((path, raw));
                break;
            }
        }
        Ok(())
    }
}

/// The first pass: every layer's headers, in order.
fn plan<R: Read>(open: &mut impl FnMut(usize) -> Result<R>, count: usize) -> Result<Plan> {
    let mut survivors: BTreeMap<String, Survivor> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let (mut byte_sorted, mut component_sorted) = (true, true);
    for layer in 0..count {
        let (_, stream) = decoded(open(layer)?, None)?;
        let mut tar = TarReader::new(stream, DEFAULT_MAX_ENTRY_SIZE);
        let mut previous: Option<String> = None;
        let mut ordinal = 0;
        while let Some(raw) = tar.next_entry()? {
            ordinal += 1;
            let Some(path) = entry_path(&raw)? else {
                continue;
            };
            if let Some(p) = &previous {
                byte_sorted &= bytewise(p, &path) == Ordering::Less;
                component_sorted &= by_components(p, &path) == Ordering::Less;
            }
            let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            let is_dir = raw.typeflag == b'5';
            if name == OPAQUE_WHITEOUT {
                drop_under(&mut survivors, dir, layer);
            } else if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
                let target = join(dir, hidden);
                if survivors.get(&target).is_some_and(|s| s.layer < layer) {
                    survivors.remove(&target);
                }
                drop_under(&mut survivors, &target, layer);
            } else if is_dir {
                // A directory where an earlier layer deleted or replaced the path starts empty:
                // what the base holds under it stays hidden.
                let replaced = survivors
                    .get(&path)
                    .is_some_and(|s| s.layer < layer && !s.is_dir);
                if drop_whiteout(&mut survivors, dir, name, layer) || replaced {
                    survivors.insert(
                        join(&path, OPAQUE_WHITEOUT),
                        Survivor {
                            layer,
                            ordinal: None,
                            is_dir: false,
                            link: None,
                        },
                    );
                }
            } else {
                // A file replaces whatever the path was: an earlier whiteout of it is moot, and
                // one layer must not hold both (appliers would act on them in tar order).
                drop_under(&mut survivors, &path, layer);
                drop_whiteout(&mut survivors, dir, name, layer);
            }
            let link = (raw.typeflag == b'1').then(|| {
                let target = String::from_utf8_lossy(&raw.link);
                super::scan::normalize(&target)
            });
            seen.insert(path.clone());
            survivors.insert(
                path.clone(),
                Survivor {
                    layer,
                    ordinal: Some(ordinal - 1),
                    is_dir,
                    link,
                },
            );
            previous = Some(path);
        }
    }
    check_links(&survivors, &seen)?;
    let mut keep = vec![BTreeSet::new(); count];
    let mut added_opaque = Vec::new();
    for (path, s) in &survivors {
        match s.ordinal {
            Some(ordinal) => {
                keep[s.layer].insert(ordinal);
            }
            None => added_opaque.push(
                path.trim_end_matches(OPAQUE_WHITEOUT)
                    .trim_end_matches('/')
                    .to_owned(),
            ),
        }
    }
    let order = if byte_sorted || !component_sorted {
        bytewise
    } else {
        by_components
    };
    added_opaque.sort_by(|a, b| order(a, b));
    Ok(Plan {
        keep,
        added_opaque,
        order,
    })
}

/// `dir/name`, or `name` in the root.
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Drops an earlier layer's whiteout of `dir/name`; whether there was one.
fn drop_whiteout(
    survivors: &mut BTreeMap<String, Survivor>,
    dir: &str,
    name: &str,
    layer: usize,
) -> bool {
    let key = join(dir, &format!("{WHITEOUT_PREFIX}{name}"));
    if survivors.get(&key).is_some_and(|s| s.layer < layer) {
        survivors.remove(&key);
        return true;
    }
    false
}

/// Drops what layers below `layer` put under the directory `dir` (`""`: everything).
fn drop_under(survivors: &mut BTreeMap<String, Survivor>, dir: &str, layer: usize) {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let doomed: Vec<String> = survivors
        .range(prefix.clone()..)
        .take_while(|(path, _)| path.starts_with(&prefix))
        .filter(|(_, s)| s.layer < layer)
        .map(|(path, _)| path.clone())
        .collect();
    for path in doomed {
        survivors.remove(&path);
    }
}

/// A surviving hard link must point to a surviving entry of its own layer that comes before
/// it, or to a path none of the layers holds (one below them).
fn check_links(survivors: &BTreeMap<String, Survivor>, seen: &BTreeSet<String>) -> Result<()> {
    for (path, s) in survivors {
        let Some(target) = &s.link else { continue };
        let fine = match survivors.get(target) {
            Some(t) => t.layer == s.layer && t.ordinal < s.ordinal,
            None => !seen.contains(target),
        };
        if !fine {
            return Err(Error::Layer(format!(
                "cannot merge the layers into one: the hard link `{path}` points to `{target}`, \
                 which a later layer replaces or deletes"
            )));
        }
    }
    Ok(())
}

fn bytewise(a: &str, b: &str) -> Ordering {
    a.as_bytes().cmp(b.as_bytes())
}

/// Path order component by component (a directory's entries right after it), the order of
/// walkers that visit each directory's sorted names.
fn by_components(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

#[cfg(test)]
mod tests;
