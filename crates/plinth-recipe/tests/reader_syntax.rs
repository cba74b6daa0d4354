//! The reader on Dockerfile syntax BuildKit's stable frontend accepts: context paths that climb
//! out of the context, heredocs, variable modifiers, ignore files and local archives.

use plinth_recipe::{
    Error, FileSource, Op, ReaderOptions, parse_dockerfile, parse_dockerfile_with,
};

#[allow(dead_code, reason = "each test uses a few of the helpers")]
fn problems_with(text: &str, options: &ReaderOptions) -> Vec<(usize, String)> {
    match parse_dockerfile_with(text, options) {
        Err(Error::Dockerfile { problems }) => {
            problems.into_iter().map(|p| (p.line, p.message)).collect()
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

/// The file steps of a recipe: destination and host source.
fn host_files(ops: &[Op]) -> Vec<(String, std::path::PathBuf)> {
    ops.iter()
        .filter_map(|op| match op {
            Op::File {
                path,
                source: FileSource::HostFile(host),
                ..
            } => Some((path.clone(), host.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn context_sources_that_climb_out_are_clamped_to_the_context_root() {
    let outer = tempfile::tempdir().unwrap();
    let ctx = outer.path().join("ctx");
    std::fs::create_dir_all(ctx.join("dir")).unwrap();
    std::fs::write(ctx.join("a.txt"), "in").unwrap();
    std::fs::write(ctx.join("dir/b.txt"), "b").unwrap();
    // The same name next to the context must never be read.
    std::fs::write(outer.path().join("a.txt"), "outside").unwrap();
    let c = parse_dockerfile(
        "FROM scratch\nCOPY ../a.txt /one\nCOPY ../../dir/../a.txt /two\nCOPY /../../*.txt /w/\nADD ../dir/b.txt /b\n",
        &ctx,
    )
    .unwrap();
    let real = |p: &str| ctx.join(p);
    assert_eq!(
        host_files(c.ops()),
        [
            ("/one".to_owned(), real("a.txt")),
            ("/two".to_owned(), real("a.txt")),
            ("/w/a.txt".to_owned(), real("a.txt")),
            ("/b".to_owned(), real("dir/b.txt")),
        ]
    );
    // `..` alone is the context itself.
    let c = parse_dockerfile("FROM scratch\nCOPY .. /all/\n", &ctx).unwrap();
    assert!(
        matches!(c.ops().last(), Some(Op::Directory { source: plinth_recipe::DirectorySource::Host(h), .. }) if *h == ctx),
        "{c:?}"
    );
}
