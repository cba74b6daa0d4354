//! Cases of Dockerfile inputs: where a heredoc may start, archives `ADD` extracts (every
//! compression BuildKit reads) and bind mounts of a context with an ignore file.

use crate::cases::{Case, ContextEntry, Expect};

use ContextEntry::File;

const CONTEXT: &[(&str, ContextEntry)] = &[("a.txt", File("alpha\n", 0o644))];

pub const INPUT_CASES: &[Case] = &[
    // --- where a heredoc starts (BuildKit's `^(\d*)<<(-?)\s*([^<]*)$` on its lexer's words) -----
    Case {
        name: "heredoc_blank_after_the_arrows_and_here_strings",
        dockerfile: "FROM {root}\nRUN cat << EOF > /w1\nspaced\nEOF\nRUN echo here > /w2 # a here-string, no heredoc: cat <<<here\nRUN echo '<<q' > /w3\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Files(&[("w1", "spaced\n"), ("w2", "here\n"), ("w3", "<<q\n")]),
    },
    Case {
        name: "refused_heredoc_inside_a_word",
        dockerfile: "FROM {root}\nRUN cat<<EOF > /f\nhello\nEOF\n",
        context: CONTEXT,
        build_args: &[],
        expect: Expect::Refused {
            line: 2,
            needle: "put a space before `<<` (`cat <<EOF`)",
        },
    },
];
