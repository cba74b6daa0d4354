//! Consumer formats: the files that pin a catalog's images (`plinth upgrade-consumers`).
//!
//! A consumer is a file outside the catalog that names one of its images by address, such as a
//! Dockerfile's `FROM` line or a connector's `metadata.yaml`. The release flow
//! (`plinth_release::Releaser::upgrade_consumer`) reads the file with a [`ConsumerFormat`],
//! looks up the latest published address of each pin's family and has the format write them
//! back. A catalog lists the formats its consumers use ([`Catalog::with_consumer_format`]);
//! the release flow adds the generic one, Dockerfiles, after them.
//!
//! A format lives here, below the catalog, because a family crate hands its catalog, formats
//! included, to `main_with`; the same reason [`CustomCheck`](crate::checks::CustomCheck) does.
//!
//! [`Catalog::with_consumer_format`]: crate::Catalog::with_consumer_format

use std::fmt;
use std::ops::Range;
use std::path::Path;

/// One base-image address a consumer file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerPin {
    /// The family repository the pin follows (`airbyte/python-connector-base`), or any
    /// repository of the target registry.
    pub repository: String,
    /// The address as the file holds it (unquoted).
    pub value: String,
    /// Where it is written in the file (quotes included, if any).
    pub span: Range<usize>,
}

/// What a format knows of the catalog while reading pins: the release flow's answer from its
/// target registry.
pub trait ConsumerFamilies {
    /// The family an image address names exactly: its published repository under the target
    /// (`127.0.0.1:5000/team/base:1.0.0@sha256:…` → `team/base`) or the family's repository
    /// itself; `None` for an image of no family.
    fn family_of(&self, address: &str) -> Option<String>;

    /// The catalog's family repositories, in order.
    fn repositories(&self) -> Vec<String>;
}

/// How a kind of consumer file is read and rewritten.
///
/// Implementations are pure text operations: the release flow reads the file, writes it
/// atomically and shows the diff. A format never guesses: a pin it cannot rewrite exactly is an
/// error naming why, so the user edits it by hand.
pub trait ConsumerFormat: Send + Sync {
    /// The file a consumer directory holds (`metadata.yaml`); a path to a file of this name is
    /// read with this format.
    fn file_name(&self) -> &str;

    /// Whether `path` is a file of this format; by default, whether its name is
    /// [`file_name`](Self::file_name).
    fn reads(&self, path: &Path) -> bool {
        path.file_name()
            .is_some_and(|name| name.to_str() == Some(self.file_name()))
    }

    /// The pins of `text`, in file order (at least one; none is an error saying what the file
    /// lacks). `families` says which family an address names.
    fn pins(&self, text: &str, families: &dyn ConsumerFamilies)
    -> Result<Vec<ConsumerPin>, String>;

    /// `text` with `pin` set to `address`, written in the pin's style (its quotes). The release
    /// flow applies pins from the last to the first, so earlier spans stay valid, and reads the
    /// result back with [`pins`](Self::pins) to check it.
    fn set_pin(&self, text: &str, pin: &ConsumerPin, address: &str) -> String {
        let mut out = String::with_capacity(text.len() + address.len());
        out.push_str(&text[..pin.span.start]);
        out.push_str(address);
        out.push_str(&text[pin.span.end..]);
        out
    }
}

impl fmt::Debug for dyn ConsumerFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ConsumerFormat")
            .field(&self.file_name())
            .finish()
    }
}

/// `text` with each of its `pins` (as [`ConsumerFormat::pins`] returned them) set to the
/// address beside it; `Ok(None)` when every pin already holds its address. The result is read
/// back with `format` and must hold exactly the new addresses, else nothing is returned but
/// the reason to edit by hand.
pub fn repin(
    format: &dyn ConsumerFormat,
    text: &str,
    pins: &[(ConsumerPin, String)],
    families: &dyn ConsumerFamilies,
) -> Result<Option<String>, String> {
    if pins.iter().all(|(pin, address)| pin.value == *address) {
        return Ok(None);
    }
    let mut ordered: Vec<&(ConsumerPin, String)> = pins.iter().collect();
    ordered.sort_by_key(|(pin, _)| std::cmp::Reverse(pin.span.start));
    let mut out = text.to_owned();
    for (pin, address) in ordered {
        if pin.value != *address {
            out = format.set_pin(&out, pin, address);
        }
    }
    let read_back: Vec<String> = format
        .pins(&out, families)
        .map_err(|e| format!("the edited file would not read back: {e}; edit it by hand"))?
        .into_iter()
        .map(|pin| pin.value)
        .collect();
    let wanted: Vec<&String> = pins.iter().map(|(_, address)| address).collect();
    if read_back.iter().collect::<Vec<_>>() != wanted {
        return Err("the edited file would not read back the new address; edit it by hand".into());
    }
    Ok(Some(out))
}
