//! Heredocs in `RUN`, `COPY` and `ADD` (BuildKit's parser and dispatcher, Dockerfile syntax 1.4+).
//!
//! Finding them: the instruction line is split into words; a word `[N]<<[-]WORD` opens one,
//! whose terminator is `WORD` without quotes (a quoted terminator turns expansion off). The body
//! is the following lines, line endings kept, up to a line that is exactly the terminator (after
//! stripping leading tabs for `<<-`).
//!
//! Using them, as BuildKit's dispatcher does:
//! - `RUN <<EOF` alone runs the body with the stage's shell (`sh -c BODY`); a body starting with
//!   `#!` is written to `/dev/pipes/EOF` (mode 0755) and executed directly. Quoting the
//!   terminator changes nothing there: the shell expands what it expands.
//! - Any other `RUN` line with heredocs goes to the shell whole: the line, then each body and its
//!   terminator, so the shell reads the heredocs itself.
//! - A `COPY`/`ADD` source `<<EOF` is a file named `EOF` holding the body (tabs stripped for
//!   `<<-`), mode 0644 unless `--chmod`; unless the terminator is quoted, `$VAR`s in the body
//!   expand with quotes left alone.

use super::Reader;
use crate::words::split_words;

/// One heredoc of an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Heredoc {
    /// The terminator, quotes removed.
    pub name: String,
    /// Whether the body expands (`COPY` only): the terminator was not quoted.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the body and the terminator line.
    pub chomp: bool,
    /// The body, line endings kept.
    pub content: String,
}

/// The heredoc a word opens, if it matches BuildKit's `^(\d*)<<(-?)\s*([^<]*)$` with the rest
/// one word: `<<EOF`, `2<<EOF`, `<<-EOF`, `<< EOF` (the word lexer keeps the blanks after `<<`
/// in the word), but not `<<<EOF` (a here-string), `cat<<EOF` (a heredoc word starts with
/// `<<`), `<<- EOF` (the blanks must follow `<<` itself) or `<<EOF sh`.
pub(crate) fn parse_heredoc_word(word: &str) -> Option<Heredoc> {
    let after_digits = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let after = after_digits.strip_prefix("<<")?;
    let (chomp, rest) = match after.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.contains('<') || split_words(rest, '\\').len() != 1 {
        return None;
    }
    let quoted = rest.contains(['\'', '"']);
    let mut name = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {}
            '\\' => name.extend(chars.next()),
            c => name.push(c),
        }
    }
    (!name.is_empty()).then_some(Heredoc {
        name,
        expand: !quoted,
        chomp,
        content: String::new(),
    })
}

/// The words of an instruction line as BuildKit's parser splits them to find heredocs: its
/// word lexer with raw quotes and escapes (always `\`), where blanks right after an unquoted
/// `<<` stay in the word (`<< EOF` is one word) and a `<<` inside quotes is plain text.
pub(crate) fn heredoc_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            word.push(c);
            if c == '\\' && q == '"' {
                word.extend(chars.next());
            } else if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_whitespace() {
            if in_word {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
            continue;
        }
        in_word = true;
        word.push(c);
        match c {
            '\'' | '"' => quote = Some(c),
            '\\' => word.extend(chars.next()),
            '<' if chars.peek() == Some(&'<') => {
                word.extend(chars.next());
                while let Some(&blank) = chars.peek().filter(|b| matches!(b, ' ' | '\t' | '\r')) {
                    word.push(blank);
                    chars.next();
                }
            }
            _ => {}
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// A word that looks like a heredoc but is not one for BuildKit, because `<<` does not start
/// it (`cat<<EOF`): the terminator it seems to name. Here-strings (`<<<`) are not reported.
pub(crate) fn mid_word_heredoc(word: &str) -> Option<String> {
    let at = word.find("<<")?;
    let prefix = &word[..at];
    if prefix.is_empty()
        || prefix.chars().all(|c| c.is_ascii_digit())
        || prefix.contains(['\'', '"', '\\', '$'])
    {
        return None;
    }
    parse_heredoc_word(&word[at..]).map(|h| h.name)
}

/// The heredocs an instruction line opens, in order (bodies still empty): only `RUN`, `COPY`
/// and `ADD` in shell form (also behind `ONBUILD`) have them.
pub(crate) fn heredocs_of_line(text: &str) -> Vec<Heredoc> {
    let words = split_words(text, '\\');
    let mut keyword = words.first().map(|w| w.to_ascii_uppercase());
    let mut args = text.trim_start();
    if keyword.as_deref() == Some("ONBUILD") {
        keyword = words.get(1).map(|w| w.to_ascii_uppercase());
        args = args
            .split_once(char::is_whitespace)
            .map_or("", |(_, r)| r)
            .trim_start();
    }
    if !matches!(keyword.as_deref(), Some("RUN" | "COPY" | "ADD")) || !text.contains("<<") {
        return Vec::new();
    }
    let (_, rest) = super::split_flags(
        args.split_once(char::is_whitespace)
            .map_or("", |(_, r)| r)
            .trim(),
    );
    if matches!(super::json_array(rest), Ok(Some(_))) {
        return Vec::new();
    }
    heredoc_words(text)
        .iter()
        .filter_map(|w| parse_heredoc_word(w))
        .collect()
}

/// The body with leading tabs stripped from every line (`<<-`).
pub(crate) fn chomp(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}

impl Heredoc {
    /// The body a `COPY` writes or a lone `RUN <<EOF` runs: tabs stripped for `<<-`.
    pub fn data(&self) -> String {
        if self.chomp {
            chomp(&self.content)
        } else {
            self.content.clone()
        }
    }
}

/// A command's program and arguments.
type Argv = Vec<String>;

impl Reader<'_> {
    /// The argv of a shell-form `RUN` with heredocs and the argv BuildKit records in the
    /// history for it (they differ for a script with `#!`, which plinth writes to
    /// `/dev/pipes` itself); `None` when the line has none.
    pub(super) fn heredoc_run_argv(&mut self, rest: &str) -> Result<Option<(Argv, Argv)>, String> {
        let heredocs = self.heredocs.clone();
        let Some(first) = heredocs.first() else {
            return Ok(None);
        };
        let shell = self
            .stage()
            .shell
            .clone()
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
        let lone = heredocs.len() == 1
            && parse_heredoc_word(rest.trim()).is_some_and(|h| h.name == first.name);
        if !lone {
            let mut full = rest.to_owned();
            for h in &heredocs {
                full.push('\n');
                full.push_str(&h.content);
                full.push_str(&h.name);
            }
            let mut argv = shell;
            argv.push(full);
            return Ok(Some((argv.clone(), argv)));
        }
        let data = first.data();
        if !data.starts_with("#!") {
            let mut argv = shell;
            argv.push(data);
            return Ok(Some((argv.clone(), argv)));
        }
        // BuildKit mounts the script read-only at /dev/pipes/NAME and executes it. /dev is a
        // fresh tmpfs in both sandboxes, so writing it there leaves nothing in the layer; only
        // root may create the directory.
        if let Some(user) = self.stage().container.final_state().user()
            && !matches!(user.split(':').next(), Some("root" | "0"))
        {
            return Err(format!(
                "`RUN <<{}` with a `#!` line runs the script from /dev/pipes, which plinth writes as the step's user, \
                 and `{user}` may not: run it as root (`USER root` before it), or name the interpreter (`RUN python3 <<{}`)",
                first.name, first.name
            ));
        }
        let script = format!("/dev/pipes/{}", first.name);
        let mut recorded = shell;
        recorded.push(script.clone());
        Ok(Some((
            vec![
                "/bin/sh".into(),
                "-c".into(),
                "mkdir -p /dev/pipes && printf '%s' \"$1\" > \"$2\" && chmod 0755 \"$2\" && exec \"$2\"".into(),
                "heredoc".into(),
                data,
                script,
            ],
            recorded,
        )))
    }

    /// The heredoc a `COPY`/`ADD` source word opens, with its body: the file's name and contents.
    pub(super) fn heredoc_source(&self, word: &str) -> Result<Option<(String, String)>, String> {
        let Some(opened) = parse_heredoc_word(word) else {
            return Ok(None);
        };
        let Some(heredoc) = self.heredocs.iter().find(|h| h.name == opened.name) else {
            return Ok(None);
        };
        let data = heredoc.data();
        let data = if opened.expand {
            self.expand_raw(&data)?
        } else {
            data
        };
        Ok(Some((heredoc.name.clone(), data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_words_as_buildkits_parser_reads_them() {
        let h = parse_heredoc_word("<<EOF").unwrap();
        assert_eq!((h.name.as_str(), h.expand, h.chomp), ("EOF", true, false));
        let h = parse_heredoc_word("<<-'END'").unwrap();
        assert_eq!((h.name.as_str(), h.expand, h.chomp), ("END", false, true));
        let h = parse_heredoc_word("3<<\"E\"OF").unwrap();
        assert_eq!((h.name.as_str(), h.expand), ("EOF", false));
        for not in ["<<", "a<<EOF", "<<a<b", "<<-", "x"] {
            assert_eq!(parse_heredoc_word(not), None, "{not}");
        }
        let names = |line: &str| -> Vec<String> {
            heredocs_of_line(line).into_iter().map(|h| h.name).collect()
        };
        assert_eq!(names("RUN <<A cat - <<-B > /x"), ["A", "B"]);
        assert_eq!(names("COPY --chmod=755 <<one <<'two' /d/"), ["one", "two"]);
        assert_eq!(names("onbuild run <<X"), ["X"]);
        assert!(names("RUN [\"sh\", \"<<EOF\"]").is_empty());
        assert!(names("ENV A=<<EOF").is_empty());
        assert_eq!(chomp("\t\ta\n\tb\t\nc"), "a\nb\t\nc");
    }

    /// BuildKit's lexer keeps the blanks after an unquoted `<<` in the word, so `<< EOF` opens
    /// a heredoc; `<<-` must touch `<<`; quotes, here-strings and a `<<` inside a word do not.
    #[test]
    fn where_a_heredoc_may_start() {
        let names = |line: &str| -> Vec<String> {
            heredocs_of_line(line).into_iter().map(|h| h.name).collect()
        };
        assert_eq!(names("RUN <<  EOF  > foo"), ["EOF"]);
        assert_eq!(names("RUN cat << EOF"), ["EOF"]);
        assert_eq!(names("RUN 2<<\tE"), ["E"]);
        assert_eq!(names("RUN << -EOF"), ["-EOF"]);
        assert!(names("RUN <<- EOF").is_empty());
        assert!(names("RUN cat <<<EOF").is_empty());
        assert!(names("RUN cat <<< EOF").is_empty());
        assert!(names("RUN cat<<EOF").is_empty());
        assert!(names("RUN echo '<<EOF'").is_empty());
        assert!(names("RUN echo \"a <<EOF\"").is_empty());
        assert!(names("RUN <<").is_empty());
        assert_eq!(
            heredoc_words("RUN a\\ b '<< x' <<  E"),
            ["RUN", "a\\ b", "'<< x'", "<<  E"]
        );
        assert_eq!(mid_word_heredoc("cat<<EOF").as_deref(), Some("EOF"));
        assert_eq!(mid_word_heredoc("x<<-'END'").as_deref(), Some("END"));
        for not in [
            "<<EOF",
            "2<<EOF",
            "cat<<<EOF",
            "'a'<<EOF",
            "$((1<<2))",
            "cat",
        ] {
            assert_eq!(mid_word_heredoc(not), None, "{not}");
        }
    }
}
