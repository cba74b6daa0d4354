//! The declaration API of plinth: recipes as plain data.
//!
//! - [`Container`]: an immutable chain of typed [`Op`]s (`from`, `exec`, `env`, `label`, `user`,
//!   `workdir`, `entrypoint`, default args, files, directories, cache mounts). Each `with_*`
//!   returns a new container. Nothing here touches a sandbox or the network.
//! - [`Container::steps`]: every operation with the [`ContainerState`] it runs in (workdir, user,
//!   env, active cache mounts), which is what the engine needs to execute it.
//! - [`Op::op_key`]: the canonical JSON of an operation, the stable part of a step's cache key.
//! - Views: [`Container::dockerfile_example`] (the original tool's documentation text, byte for
//!   byte) and [`Container::buildable_dockerfile`] (a Dockerfile BuildKit builds into the same image).
//! - [`parse_dockerfile`]: reads the common Dockerfile subset back into a [`Container`].
//! - [`inputs`]: the input rules both executors apply alike (file destinations and default
//!   modes, host paths resolved inside their build context as BuildKit does).
//! - [`Container::with_substituted_images`]: stand-in root images for offline builds and tests
//!   ([`ImageSubstitutions`], recorded in the result).
//!
//! The platform is not part of a container: a recipe function takes it as a parameter and the
//! engine builds for it.
//!
//! ```
//! use plinth_recipe::{BuildableOptions, Container};
//!
//! let c = Container::from_address("docker.io/amazoncorretto:21-al2023").unwrap()
//!     .with_exec(["sh", "-c", "set -o xtrace && yum clean all"])
//!     .with_env("AIRBYTE_SPEC_CMD", "/airbyte/javabase.sh --spec")
//!     .with_workdir("/airbyte");
//! assert_eq!(
//!     c.dockerfile_example(),
//!     "FROM docker.io/amazoncorretto:21-al2023\n\
//!      RUN sh -c set -o xtrace && yum clean all\n\
//!      ENV AIRBYTE_SPEC_CMD=/airbyte/javabase.sh --spec"
//! );
//! let built = c.buildable_dockerfile(&BuildableOptions::new()).unwrap();
//! assert_eq!(
//!     built.text,
//!     "FROM docker.io/amazoncorretto:21-al2023\n\
//!      RUN [\"sh\",\"-c\",\"set -o xtrace && yum clean all\"]\n\
//!      ENV AIRBYTE_SPEC_CMD=\"/airbyte/javabase.sh --spec\"\n\
//!      WORKDIR /airbyte\n"
//! );
//! // Read back, the recipe also holds each instruction's history entry, as BuildKit writes it.
//! let back = plinth_recipe::parse_dockerfile(&built.text, ".").unwrap();
//! assert_eq!(back.without_history(), c);
//! ```

#![deny(missing_docs)]

pub mod archive;
pub mod buildable;
pub mod chmod;
mod container;
pub mod debian;
mod declared_ids;
pub mod error;
pub mod example;
pub mod history;
pub mod ignore;
pub mod inputs;
mod normalize;
pub mod op;
mod op_helpers;
pub mod pins;
pub mod reader;
pub mod run_mount;
pub mod setting;
mod shell_pattern;
pub mod source;
pub mod state;
pub mod substitute;
mod words;

pub use buildable::{
    BuildContext, BuildableDockerfile, BuildableOptions, ContextEntry, ContextSource, NamedImage,
};
pub use chmod::{FileMode, SymbolicMode};
pub use container::Container;
pub use debian::{DEBIAN_ROOT_NAME, DebianRoot};
pub use error::{Error, Problem, Result};
pub use inputs::{FileTarget, resolve_in_context};
pub use op::{DirectorySource, ExecOptions, FileOptions, FileSource, Network, Op};
pub use op_helpers::HelperRole;
pub use reader::{
    BaseConfig, BaseError, BaseResolver, DockerfileRead, ReaderOptions, base_images,
    base_images_by_platform, parse_dockerfile, parse_dockerfile_with, read_dockerfile,
    read_dockerfile_resolved,
};
pub use run_mount::{BindSource, DEFAULT_SSH_ID, RunMount, SecretMount, SshMount};
pub use setting::{HealthCheck, ImageSetting};
pub use source::{ImageSource, SourceKind};
pub use state::{CacheMount, CacheOptions, CacheSeed, CacheSharing, ContainerState, Step, Steps};
pub use substitute::{
    AppliedSubstitution, ImageSubstitution, ImageSubstitutions, SUBSTITUTION_LABEL, Substituted,
};
