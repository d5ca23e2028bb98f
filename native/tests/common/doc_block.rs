//! The first `sh` block of a page of docs/, read as the doc tests run it:
//! each line's words, and what its comment asks (`# type: LINE` is typed
//! into that command, `# prints: TEXT` must be printed by it).

/// One line of the block: its words, and what its comment asks.
pub struct Line {
    pub words: Vec<String>,
    pub typed: Option<String>,
    pub printed: Option<String>,
}

/// The lines of the first `sh` block of `docs/{page}`.
pub fn sh_block(page: &str) -> Vec<Line> {
    let path = format!("{}/../docs/{page}", env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let start = docs.find("```sh\n").expect("an sh block") + "```sh\n".len();
    let body = &docs[start..start + docs[start..].find("```").unwrap()];
    body.lines()
        .map(|line| {
            let (command, comment) = line.split_once('#').unwrap_or((line, ""));
            let comment = comment.trim();
            Line {
                words: command
                    .trim()
                    .trim_end_matches('&')
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                typed: comment.strip_prefix("type: ").map(str::to_owned),
                printed: comment.strip_prefix("prints: ").map(str::to_owned),
            }
        })
        .collect()
}

/// The value after `flag` in `words`.
pub fn value_of<'a>(words: &'a [String], flag: &str) -> &'a str {
    let at = words.iter().position(|w| w == flag).unwrap_or_else(|| {
        panic!("{flag} in {words:?}");
    });
    &words[at + 1]
}

/// `words` with the value after `flag` replaced by `value`.
pub fn with_value(words: &[String], flag: &str, value: &str) -> Vec<String> {
    let at = words.iter().position(|w| w == flag).unwrap_or_else(|| {
        panic!("{flag} in {words:?}");
    });
    let mut words = words.to_vec();
    words[at + 1] = value.to_owned();
    words
}
