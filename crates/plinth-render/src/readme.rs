//! The catalog README, rendered from the version histories of every family.
//!
//! The template keeps the control structure and whitespace of the original `README.md.j2` (rendered
//! by Jinja2 with default settings; minijinja's defaults match them): three blank lines around the
//! Dockerfile examples, two before each `` ### `repository` `` heading, one between it and its
//! table, two after each table, and rows of the exact shape
//! `|  {version} | {✅|❌}| {address} | {changelog} |`, where a missing address or changelog renders
//! as an empty cell and the changelog text is inserted raw. The example block of a family shows
//! the Dockerfile example of the highest entry **with a changelog entry**: the original template
//! took the highest entry, so a tag published without changelog (python 3.0.2) left the fence
//! empty, while Airbyte's published README shows 3.0.0's example there; an empty block documents
//! nothing, so plinth renders what that README shows.
//! The header row has no trailing space (the final template's). The prose is adapted to plinth.
//!
//! Missing values are passed as `none`, not left out: in minijinja (as in Jinja2) an attribute of
//! `none` is undefined and prints empty, while an attribute of an undefined value is an error.

use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment};
use plinth_catalog::{FamilyAbout, VersionEntry, VersionHistory};
use serde::Serialize;

use crate::error::Result;

const TEMPLATE_NAME: &str = "README.md.j2";
const TEMPLATE: &str = include_str!("templates/README.md.j2");

/// A link to the code declaring a family, listed under the README's introduction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Declaration {
    label: String,
    url: String,
}

impl Declaration {
    /// `- [label](url)`.
    pub fn new(label: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            url: url.into(),
        }
    }
}

/// One release of the catalog project itself, for the README's `## CHANGELOG` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageRelease {
    version: String,
    changes: Vec<String>,
}

impl PackageRelease {
    /// A release and its list of changes (each rendered as a `- ` bullet).
    pub fn new(
        version: impl Into<String>,
        changes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            version: version.into(),
            changes: changes.into_iter().map(Into::into).collect(),
        }
    }
}

/// The catalog README: the families' version histories, in family order, plus the surrounding
/// text.
#[derive(Clone, Debug)]
pub struct Readme<'a> {
    histories: &'a [VersionHistory],
    title: String,
    owner: String,
    declarations: Vec<Declaration>,
    package_changelog: Vec<PackageRelease>,
    abouts: Vec<FamilyAbout>,
}

impl<'a> Readme<'a> {
    /// A README titled `# {title}` for the images `owner`'s connectors use, over `histories`
    /// (family order). A catalog gives both (`Catalog::title`, `Catalog::owner`).
    pub fn new(
        title: impl Into<String>,
        owner: impl Into<String>,
        histories: &'a [VersionHistory],
    ) -> Self {
        Self {
            histories,
            title: title.into(),
            owner: owner.into(),
            declarations: Vec::new(),
            package_changelog: Vec::new(),
            abouts: Vec::new(),
        }
    }

    /// What each family says about itself ([`plinth_catalog::Family::about`]), one per history
    /// in the same order (a history without one has nothing to say). A family kept as files is
    /// described as files (where its Dockerfile and checks live, with paths as given: relative
    /// to the README's directory); its title, description and owner head its table.
    pub fn with_family_abouts(mut self, abouts: impl IntoIterator<Item = FamilyAbout>) -> Self {
        self.abouts = abouts.into_iter().collect();
        self
    }

    /// Adds a link to a family's declaration under the introduction.
    pub fn with_declaration(mut self, declaration: Declaration) -> Self {
        self.declarations.push(declaration);
        self
    }

    /// The `## CHANGELOG` section, newest release first; omitted when empty.
    pub fn with_package_changelog(
        mut self,
        releases: impl IntoIterator<Item = PackageRelease>,
    ) -> Self {
        self.package_changelog = releases.into_iter().collect();
        self
    }

    /// Renders the README. The text ends with exactly one newline.
    pub fn render(&self) -> Result<String> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.add_template(TEMPLATE_NAME, TEMPLATE)?;
        let none = FamilyAbout::default();
        let abouts: Vec<&FamilyAbout> = (0..self.histories.len())
            .map(|i| self.abouts.get(i).unwrap_or(&none))
            .collect();
        let registries: Vec<HistoryView> = self
            .histories
            .iter()
            .zip(&abouts)
            .map(|(history, about)| HistoryView::new(history, about))
            .collect();
        let file_families = self
            .histories
            .iter()
            .zip(&abouts)
            .filter_map(|(history, about)| {
                let files = about.files.as_ref()?;
                Some(FileFamilyView {
                    repository: history.display_repository(),
                    dockerfile: files.dockerfile.display().to_string(),
                    checks: files.checks.display().to_string(),
                    versions: files.versions.display().to_string(),
                })
            })
            .collect::<Vec<_>>();
        let ctx = ReadmeContext {
            title: &self.title,
            owner: &self.owner,
            declarations: &self.declarations,
            code_families: file_families.len() < self.histories.len() || self.histories.is_empty(),
            file_families,
            registries,
            package_changelog: &self.package_changelog,
        };
        let mut out = env
            .get_template(TEMPLATE_NAME)?
            .render(Value::from(Serde(&ctx)))?;
        out.truncate(out.trim_end_matches('\n').len());
        out.push('\n');
        Ok(out)
    }
}

/// Renders the README of `histories` with no declaration links and no package changelog.
pub fn render_readme(title: &str, owner: &str, histories: &[VersionHistory]) -> Result<String> {
    Readme::new(title, owner, histories).render()
}

/// The whole template context.
#[derive(Serialize)]
struct ReadmeContext<'c> {
    title: &'c str,
    owner: &'c str,
    declarations: &'c [Declaration],
    /// Whether any family is declared in code.
    code_families: bool,
    /// The families kept as files.
    file_families: Vec<FileFamilyView>,
    registries: Vec<HistoryView>,
    package_changelog: &'c [PackageRelease],
}

/// Where a family kept as files has its files.
#[derive(Serialize)]
struct FileFamilyView {
    repository: String,
    dockerfile: String,
    checks: String,
    versions: String,
}

/// The template's view of a version history (the original's "registry"), shaped like the original's objects (`None` kept as `none`).
#[derive(Serialize)]
struct HistoryView {
    repository: String,
    /// Whether the family is kept as files (its example is its recorded Dockerfile).
    files: bool,
    title: Option<String>,
    description: Option<String>,
    owner: Option<String>,
    /// The Dockerfile example of the highest entry with a changelog entry.
    example: Option<String>,
    entries: Vec<EntryView>,
}

#[derive(Serialize)]
struct EntryView {
    version: String,
    published: bool,
    published_docker_image: Option<ImageView>,
    changelog_entry: Option<ChangelogView>,
}

#[derive(Serialize)]
struct ImageView {
    address: String,
}

#[derive(Serialize)]
struct ChangelogView {
    changelog_entry: String,
    dockerfile_example: String,
}

impl HistoryView {
    fn new(r: &VersionHistory, about: &FamilyAbout) -> Self {
        Self {
            repository: r.display_repository(),
            files: about.files.is_some(),
            title: about.title.clone(),
            description: about.description.clone(),
            owner: about.owner.clone(),
            example: r
                .entries()
                .iter()
                .find_map(|e| e.changelog_entry())
                .map(|c| c.dockerfile_example().to_owned()),
            entries: r.entries().iter().map(EntryView::from).collect(),
        }
    }
}

impl From<&VersionEntry> for EntryView {
    fn from(e: &VersionEntry) -> Self {
        Self {
            version: e.version().to_string(),
            published: e.is_published(),
            published_docker_image: e.published_image().map(|p| ImageView {
                address: p.address(),
            }),
            changelog_entry: e.changelog_entry().map(|c| ChangelogView {
                changelog_entry: c.changelog_entry().to_owned(),
                dockerfile_example: c.dockerfile_example().to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use minijinja::Environment;

    /// The premise of passing `none` for missing values: an attribute of `none` prints empty (as in
    /// Jinja2), while an attribute of an undefined value is an error in minijinja's default mode.
    #[test]
    fn attribute_of_none_is_empty_but_attribute_of_undefined_fails() {
        let env = Environment::new();
        let ctx = minijinja::context! { image => minijinja::Value::from(()) };
        assert_eq!(env.render_str("[{{ image.address }}]", &ctx).unwrap(), "[]");
        let err = env.render_str("[{{ missing.address }}]", &ctx).unwrap_err();
        assert_eq!(err.kind(), minijinja::ErrorKind::UndefinedError);
    }
}
