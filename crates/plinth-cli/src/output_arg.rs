//! `plinth build --output`: plinth's skopeo-style image locations (`oci:DIR[:NAME]`,
//! `docker-archive:FILE[:REF]`) and buildx's `type=…,dest=…` form, read into one
//! [`BuildOutput`].
//!
//! buildx's meanings are kept: `type=oci,dest=FILE` is an OCI layout *tarball* (`tar=false`
//! for a directory), `type=docker` without `dest` loads into the local docker daemon, a bare
//! `-o PATH` is `type=local,dest=PATH`.

use std::path::PathBuf;
use std::str::FromStr;

use plinth_oci::{ArchiveImage, ImageLocation, Reference};

/// Where a build's result goes besides the local store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildOutput {
    /// An image written to files: an OCI layout directory or a docker-archive.
    Image(ImageLocation),
    /// An OCI layout as one tar file (`type=oci,dest=FILE`); `name` is the image's
    /// `org.opencontainers.image.ref.name`.
    OciTar {
        /// The tar file.
        file: PathBuf,
        /// The ref name, when given.
        name: Option<String>,
    },
    /// Pushed to `name`, or to every `--tag` when `None` (`type=registry`,
    /// `type=image,push=true`).
    Registry(Option<Reference>),
    /// Kept in the local store only (`type=image` without `push`).
    Store,
    /// Loaded into the local docker daemon (`type=docker` without `dest`, `--load`).
    DockerDaemon,
    /// The merged file tree written into a directory (`type=local,dest=DIR`); one
    /// sub-directory per platform (`linux_amd64`) when several are built, as BuildKit does.
    Local(PathBuf),
    /// The merged file tree as one tar file (`type=tar,dest=FILE`).
    Tar(PathBuf),
}

impl BuildOutput {
    /// The image name the output gives (`name=`), as buildx lists it in `image.name`.
    pub fn image_name(&self) -> Option<String> {
        match self {
            BuildOutput::Image(ImageLocation::DockerArchive {
                image: ArchiveImage::Tagged(name),
                ..
            })
            | BuildOutput::Registry(Some(name)) => Some(name.to_string()),
            BuildOutput::Image(_)
            | BuildOutput::OciTar { .. }
            | BuildOutput::Registry(None)
            | BuildOutput::Store
            | BuildOutput::DockerDaemon
            | BuildOutput::Local(_)
            | BuildOutput::Tar(_) => None,
        }
    }
}

impl std::fmt::Display for BuildOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildOutput::Image(location) => write!(f, "{location}"),
            BuildOutput::OciTar { file, .. } => write!(f, "type=oci,dest={}", file.display()),
            BuildOutput::Registry(Some(name)) => write!(f, "type=registry,name={name}"),
            BuildOutput::Registry(None) => write!(f, "type=registry"),
            BuildOutput::Store => write!(f, "type=image"),
            BuildOutput::DockerDaemon => write!(f, "the docker daemon"),
            BuildOutput::Local(dir) => write!(f, "type=local,dest={}", dir.display()),
            BuildOutput::Tar(file) => write!(f, "type=tar,dest={}", file.display()),
        }
    }
}

const FORMS: &str = "write `type=oci|docker|registry|image|local|tar[,dest=PATH][,name=REF]`, \
                     `oci:DIR[:NAME]`, `docker-archive:FILE[:REF]` or a directory";

impl FromStr for BuildOutput {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.starts_with("type=") || (text.contains('=') && text.contains(',')) {
            return parse_csv(text);
        }
        match text.parse::<ImageLocation>() {
            // buildx reads a bare `-o PATH` as `type=local,dest=PATH`.
            Ok(ImageLocation::Registry(_)) | Err(_) if !text.contains(':') => {
                Ok(BuildOutput::Local(PathBuf::from(text)))
            }
            Ok(ImageLocation::Registry(_)) => Err(format!(
                "`{text}` is a registry reference: push with `--tag REF --push` or `--output type=registry,name=REF`"
            )),
            Ok(location) => Ok(BuildOutput::Image(location)),
            Err(e) => Err(format!("{e}; {FORMS}")),
        }
    }
}

/// The keys of buildx's CSV form that plinth reads.
struct Fields {
    kind: String,
    dest: Option<PathBuf>,
    name: Option<String>,
    tar: bool,
    push: bool,
}

fn parse_csv(text: &str) -> Result<BuildOutput, String> {
    let mut fields = Fields {
        kind: String::new(),
        dest: None,
        name: None,
        tar: true,
        push: false,
    };
    for part in text.split(',') {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}` in `--output {text}` is not KEY=VALUE; {FORMS}"))?;
        match key.trim() {
            "type" => fields.kind = value.trim().to_owned(),
            "dest" => {
                if value == "-" {
                    return Err(format!(
                        "`--output {text}`: writing to stdout (`dest=-`) is not supported; give a file or directory"
                    ));
                }
                fields.dest = Some(PathBuf::from(value));
            }
            "name" => fields.name = Some(value.to_owned()),
            "tar" => fields.tar = parse_bool(key, value, text)?,
            "push" => fields.push = parse_bool(key, value, text)?,
            other => {
                return Err(format!(
                    "`--output {text}`: the option `{other}` is not supported; plinth reads `type`, `dest`, `name`, `tar` (oci) and `push` (image)"
                ));
            }
        }
    }
    fields.into_output(text)
}

fn parse_bool(key: &str, value: &str, text: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!(
            "`--output {text}`: `{key}` takes `true` or `false`, not `{value}`"
        )),
    }
}

fn parse_name(name: &str, text: &str) -> Result<Reference, String> {
    name.parse::<Reference>()
        .map_err(|e| format!("`--output {text}`: `name={name}` is not an image reference: {e}"))
}

impl Fields {
    fn into_output(self, text: &str) -> Result<BuildOutput, String> {
        let dest = |what: &str| {
            self.dest
                .clone()
                .ok_or_else(|| format!("`--output {text}`: type={} needs `dest={what}`", self.kind))
        };
        let unexpected = |key: &str| {
            Err(format!(
                "`--output {text}`: type={} takes no `{key}`",
                self.kind
            ))
        };
        match self.kind.as_str() {
            "local" | "tar" if self.name.is_some() => unexpected("name"),
            "local" => Ok(BuildOutput::Local(dest("DIR")?)),
            "tar" => Ok(BuildOutput::Tar(dest("FILE")?)),
            "oci" => {
                let name = match &self.name {
                    // The layout's ref name is the reference's tag, as BuildKit's OCI exporter
                    // writes it.
                    Some(name) => {
                        Some(parse_name(name, text)?.tag().unwrap_or("latest").to_owned())
                    }
                    None => None,
                };
                let dir_or_file = dest(if self.tar { "FILE" } else { "DIR" })?;
                Ok(if self.tar {
                    BuildOutput::OciTar {
                        file: dir_or_file,
                        name,
                    }
                } else {
                    BuildOutput::Image(ImageLocation::OciLayout {
                        dir: dir_or_file,
                        name,
                    })
                })
            }
            "docker" => {
                let image = match &self.name {
                    // A name without a tag is `:latest`, as docker's exporter tags it.
                    Some(name) => ArchiveImage::Tagged(match parse_name(name, text)? {
                        r if r.tag().is_none() && r.digest().is_none() => r
                            .with_tag("latest")
                            .map_err(|e| format!("`--output {text}`: {e}"))?,
                        r => r,
                    }),
                    None => ArchiveImage::Only,
                };
                Ok(match self.dest {
                    Some(file) => BuildOutput::Image(ImageLocation::DockerArchive { file, image }),
                    None => BuildOutput::DockerDaemon,
                })
            }
            "registry" if self.dest.is_some() => unexpected("dest"),
            "registry" => Ok(BuildOutput::Registry(
                self.name
                    .as_deref()
                    .map(|n| parse_name(n, text))
                    .transpose()?,
            )),
            "image" if self.dest.is_some() => unexpected("dest"),
            "image" if self.push => Ok(BuildOutput::Registry(
                self.name
                    .as_deref()
                    .map(|n| parse_name(n, text))
                    .transpose()?,
            )),
            "image" => Ok(BuildOutput::Store),
            "" => Err(format!("`--output {text}` names no `type=`; {FORMS}")),
            other => Err(format!(
                "`--output {text}`: the exporter type `{other}` is not supported; {FORMS}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> BuildOutput {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn a_docker_archive_name_without_a_tag_is_latest() {
        let BuildOutput::Image(ImageLocation::DockerArchive {
            image: ArchiveImage::Tagged(name),
            ..
        }) = parse("type=docker,dest=x.tar,name=example.com/a")
        else {
            panic!("not a tagged docker-archive")
        };
        assert_eq!(name.to_string(), "example.com/a:latest");
        // And so buildx's metadata names it.
        assert_eq!(
            parse("type=docker,dest=x.tar,name=example.com/a").image_name(),
            Some("example.com/a:latest".to_owned())
        );
        assert_eq!(
            parse("type=registry,name=example.com/b:2").image_name(),
            Some("example.com/b:2".to_owned())
        );
        assert_eq!(parse("type=local,dest=d").image_name(), None);
    }

    #[test]
    fn buildx_forms_mean_what_they_mean_to_buildx() {
        assert_eq!(
            parse("type=oci,dest=out.tar"),
            BuildOutput::OciTar {
                file: "out.tar".into(),
                name: None
            }
        );
        assert_eq!(
            parse("type=oci,dest=dir,tar=false,name=example.com/a:1"),
            BuildOutput::Image(ImageLocation::OciLayout {
                dir: "dir".into(),
                name: Some("1".into())
            })
        );
        assert_eq!(
            parse("type=docker,dest=img.tar,name=a/b:2"),
            BuildOutput::Image(ImageLocation::DockerArchive {
                file: "img.tar".into(),
                image: ArchiveImage::Tagged("a/b:2".parse().unwrap())
            })
        );
        assert_eq!(parse("type=docker"), BuildOutput::DockerDaemon);
        assert_eq!(
            parse("type=registry,name=127.0.0.1:5000/a:1"),
            BuildOutput::Registry(Some("127.0.0.1:5000/a:1".parse().unwrap()))
        );
        assert_eq!(parse("type=registry"), BuildOutput::Registry(None));
        assert_eq!(parse("type=image,push=true"), BuildOutput::Registry(None));
        assert_eq!(parse("type=image"), BuildOutput::Store);
        assert_eq!(
            parse("type=local,dest=out"),
            BuildOutput::Local("out".into())
        );
        assert_eq!(
            parse("type=tar,dest=fs.tar"),
            BuildOutput::Tar("fs.tar".into())
        );
        assert_eq!(parse("out"), BuildOutput::Local("out".into()));
        assert_eq!(parse("./out/dir"), BuildOutput::Local("./out/dir".into()));
    }

    #[test]
    fn skopeo_forms_keep_working() {
        assert_eq!(
            parse("oci:layout:v1"),
            BuildOutput::Image(ImageLocation::OciLayout {
                dir: "layout".into(),
                name: Some("v1".into())
            })
        );
        assert!(matches!(
            parse("docker-archive:x.tar"),
            BuildOutput::Image(ImageLocation::DockerArchive { .. })
        ));
    }

    #[test]
    fn what_plinth_cannot_honour_is_refused_by_name() {
        let err = |text: &str| text.parse::<BuildOutput>().unwrap_err();
        assert!(err("type=oci,dest=x,compression=zstd").contains("`compression` is not supported"));
        assert!(err("type=cacheonly").contains("`cacheonly` is not supported"));
        assert!(err("type=tar,dest=-").contains("stdout"));
        assert!(err("type=local").contains("needs `dest=DIR`"));
        assert!(err("type=oci,dest=x,tar=maybe").contains("`true` or `false`"));
        assert!(err("docker://example.com/a:1").contains("--push"));
        assert!(err("type=registry,dest=x").contains("takes no `dest`"));
    }
}
