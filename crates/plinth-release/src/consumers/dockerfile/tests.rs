use plinth_catalog::consumer::repin;
use plinth_oci::Reference;

use super::*;

/// One family, `team/base`, published under `127.0.0.1:5000/ns/`.
struct Published;

impl ConsumerFamilies for Published {
    fn family_of(&self, address: &str) -> Option<String> {
        let reference: Reference = address.parse().ok()?;
        (reference.name() == "127.0.0.1:5000/ns/base").then(|| "team/base".to_owned())
    }

    fn repositories(&self) -> Vec<String> {
        vec!["team/base".to_owned()]
    }
}

const NEW: &str = "127.0.0.1:5000/ns/base:1.1.0@sha256:ec89bd1a89e825514dd2fc8730ba299a3ae1544580a078df0e35c5202c2085b3";

fn upgrade(text: &str) -> Result<Option<String>, String> {
    let pins = Dockerfiles.pins(text, &Published)?;
    let pins: Vec<_> = pins.into_iter().map(|p| (p, NEW.to_owned())).collect();
    repin(&Dockerfiles, text, &pins, &Published)
}

#[test]
fn only_the_image_words_of_family_from_lines_change() {
    let text = "# syntax=docker/dockerfile:1\n\
        ARG BASE=python:3.11\n\
        FROM --platform=$BUILDPLATFORM 127.0.0.1:5000/ns/base:1.0.0 AS build # the family\n\
        RUN <<EOF\n\
        FROM 127.0.0.1:5000/ns/base:0.1.0\n\
        EOF\n\
        RUN echo \\\n\
        FROM 127.0.0.1:5000/ns/base:0.2.0\n\
        FROM python:3.11\n\
        FROM ${BASE}\n\
        from\t127.0.0.1:5000/ns/base@sha256:1a0845ff2b30eafa793c6eee4e8f4283c2e52e1bbd44eed6cb9e9abd5d34d844\r\n\
        COPY --from=build /out /out\n";
    let out = upgrade(text).unwrap().unwrap();
    let expected = text
        .replace(
            "$BUILDPLATFORM 127.0.0.1:5000/ns/base:1.0.0 AS",
            &format!("$BUILDPLATFORM {NEW} AS"),
        )
        .replace(
            "from\t127.0.0.1:5000/ns/base@sha256:1a0845ff2b30eafa793c6eee4e8f4283c2e52e1bbd44eed6cb9e9abd5d34d844\r\n",
            &format!("from\t{NEW}\r\n"),
        );
    assert_eq!(out, expected);
    assert_eq!(upgrade(&out).unwrap(), None, "a second run changes nothing");
}

#[test]
fn a_dockerfile_without_a_family_is_refused_with_the_families() {
    let err = upgrade("FROM python:3.11\nRUN true\n").unwrap_err();
    assert_eq!(
        err,
        "it has no `FROM` line naming an image of this catalog (`team/base`)"
    );
}

#[test]
fn dockerfile_names() {
    for name in [
        "Dockerfile",
        "Containerfile",
        "Dockerfile.dev",
        "app.Dockerfile",
    ] {
        assert!(Dockerfiles.reads(std::path::Path::new(name)), "{name}");
    }
    for name in ["metadata.yaml", "Dockerfile.d/x", "notes.txt"] {
        assert!(!Dockerfiles.reads(std::path::Path::new(name)), "{name}");
    }
}

#[test]
fn a_backtick_escape_directive_is_honoured() {
    let text = "# escape=`\nRUN echo `\nFROM 127.0.0.1:5000/ns/base:0.2.0\nFROM 127.0.0.1:5000/ns/base:1.0.0\n";
    let out = upgrade(text).unwrap().unwrap();
    assert_eq!(
        out,
        format!("# escape=`\nRUN echo `\nFROM 127.0.0.1:5000/ns/base:0.2.0\nFROM {NEW}\n")
    );
}
