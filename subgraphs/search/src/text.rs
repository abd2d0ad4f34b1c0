//! Search text rules, written once and used by the index queries, the ranking
//! and the highlights alike (Meilisearch's rules are the reference):
//!
//! - words are runs of letters and digits, lowercased and folded to ASCII
//!   (`é` = `e`), the same as the index's `folded` analyzer;
//! - typo budget by word length: 0 below 5 characters, 1 from 5, 2 from 9; a
//!   transposition counts as one typo (optimal string alignment distance);
//! - the last word of the query also matches as a prefix (search as you type);
//! - query syntax has no meaning: `"`, `*`, `:`, `AND`, `(` are plain text.

use std::cell::RefCell;

use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, SimpleTokenizer, TextAnalyzer};

/// Words of a query at most; the rest is ignored (a 1 000-character paste is
/// plain text, not an error).
pub const MAX_QUERY_WORDS: usize = 10;
/// Characters of a query read at most.
pub const MAX_QUERY_CHARS: usize = 200;

/// The analyzer of every text field and of queries: words are runs of letters
/// and digits, lowercased, folded to ASCII. One definition, so a query word and
/// an indexed word are compared in the same form.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

thread_local! {
    /// One analyzer per thread: building one allocates, and a search tokenizes
    /// each of its candidates and hashtags.
    static ANALYZER: RefCell<TextAnalyzer> = RefCell::new(analyzer());
}

/// The words of `text` with their byte ranges in `text`, as the index sees them.
pub fn words_with_offsets(text: &str) -> Vec<(String, std::ops::Range<usize>)> {
    ANALYZER.with_borrow_mut(|analyzer| {
        let mut stream = analyzer.token_stream(text);
        let mut words = Vec::new();
        while stream.advance() {
            let token = stream.token();
            words.push((token.text.clone(), token.offset_from..token.offset_to));
        }
        words
    })
}

/// A query as the rules read it.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryWords {
    pub words: Vec<String>,
}

impl QueryWords {
    pub fn parse(query: &str) -> Self {
        let head: String = query.chars().take(MAX_QUERY_CHARS).collect();
        let words = words_with_offsets(&head)
            .into_iter()
            .map(|(word, _)| word)
            .take(MAX_QUERY_WORDS)
            .collect();
        Self { words }
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Whether word `i` is the last (matched as a prefix too).
    pub fn is_last(&self, i: usize) -> bool {
        i + 1 == self.words.len()
    }

    /// The typos `candidate` (a folded word of a document) costs against query
    /// word `i`, or `None` when it does not match.
    pub fn typos(&self, i: usize, candidate: &str) -> Option<u8> {
        let word = &self.words[i];
        let budget = usize::from(typo_budget(word));
        let length = word.chars().count();
        // The distance is at least the difference in length, so most words
        // are ruled out before it is computed (ranking calls this for every
        // word of every candidate).
        let within = |other: &str, other_length: usize| -> Option<u8> {
            if length.abs_diff(other_length) > budget {
                return None;
            }
            let distance = if budget == 0 {
                usize::from(word != other)
            } else {
                strsim::osa_distance(word, other)
            };
            (distance <= budget).then_some(distance as u8)
        };
        let candidate_length = candidate.chars().count();
        let whole = within(candidate, candidate_length);
        if !self.is_last(i) {
            return whole;
        }
        // As a prefix: the candidate's start, as long as the word.
        let end = candidate
            .char_indices()
            .nth(length)
            .map_or(candidate.len(), |(at, _)| at);
        let prefix = within(&candidate[..end], candidate_length.min(length));
        whole.into_iter().chain(prefix).min()
    }
}

/// Typos allowed for a query word: 0 below 5 characters, 1 from 5, 2 from 9.
pub fn typo_budget(word: &str) -> u8 {
    match word.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// How well a text matches: the query words it holds and their typos.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextMatch {
    pub words_matched: usize,
    pub typos: u32,
}

/// Match `text` against the query: for each query word its best word in the
/// text, and the ranges to highlight.
pub fn match_text(query: &QueryWords, text: &str) -> (TextMatch, Vec<std::ops::Range<usize>>) {
    let words = words_with_offsets(text);
    let mut result = TextMatch::default();
    let mut ranges = Vec::new();
    for i in 0..query.words.len() {
        let mut best: Option<u8> = None;
        for (word, range) in &words {
            if let Some(typos) = query.typos(i, word) {
                ranges.push(range.clone());
                best = Some(best.map_or(typos, |b| b.min(typos)));
            }
        }
        if let Some(typos) = best {
            result.words_matched += 1;
            result.typos += u32::from(typos);
        }
    }
    ranges.sort_by_key(|r| r.start);
    ranges.dedup();
    (result, ranges)
}

/// Characters of context a snippet keeps around its first highlight.
const SNIPPET_CONTEXT: usize = 60;

/// `text` with the matched words wrapped in `<em>…</em>`, cut to a window
/// around the first match (`…` where cut). `None` when nothing matched.
pub fn snippet(text: &str, ranges: &[std::ops::Range<usize>]) -> Option<String> {
    let first = ranges.first()?;
    let start = floor_char(text, first.start.saturating_sub(SNIPPET_CONTEXT));
    let end = floor_char(text, (first.end + SNIPPET_CONTEXT * 2).min(text.len()));
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for range in ranges.iter().filter(|r| r.start >= start && r.end <= end) {
        out.push_str(&text[at..range.start]);
        out.push_str("<em>");
        out.push_str(&text[range.clone()]);
        out.push_str("</em>");
        at = range.end;
    }
    out.push_str(&text[at..end]);
    if end < text.len() {
        out.push('…');
    }
    Some(out)
}

fn floor_char(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_syntax_characters() {
        let query = QueryWords::parse("  Zoë AND \"café*\" (x:y) ");
        assert_eq!(query.words, ["zoe", "and", "cafe", "x", "y"]);
        assert!(QueryWords::parse("\"*:()").is_empty());
        let long = "a".repeat(1000);
        assert_eq!(QueryWords::parse(&long).words[0].len(), MAX_QUERY_CHARS);
    }

    #[test]
    fn typo_budget_by_length_and_transpositions() {
        let query = QueryWords::parse("john gregory alexandria");
        // 4 characters: exact only.
        assert_eq!(query.typos(0, "john"), Some(0));
        assert_eq!(query.typos(0, "jon"), None);
        // 7 characters: one typo; a transposition is one.
        assert_eq!(query.typos(1, "gergory"), Some(1));
        assert_eq!(query.typos(1, "grgory"), Some(1));
        assert_eq!(query.typos(1, "grgry"), None);
        // 11 characters, last word: two typos, and as a prefix.
        assert_eq!(query.typos(2, "alexandira"), Some(1));
        assert_eq!(query.typos(2, "alxandira"), Some(2));
        assert_eq!(query.typos(2, "alxndira"), None);
        assert_eq!(QueryWords::parse("alexa").typos(0, "alexandria"), Some(0));
    }

    #[test]
    fn snippets_mark_fuzzy_and_prefix_matches() {
        let query = QueryWords::parse("helo wrld rust");
        let (matched, ranges) = match_text(&query, "Hello world, I love Rustaceans");
        // "helo" has 4 characters: no typo allowed, so "Hello" is no match.
        assert_eq!(matched.words_matched, 1);
        assert_eq!(
            snippet("Hello world, I love Rustaceans", &ranges).unwrap(),
            "Hello world, I love <em>Rustaceans</em>"
        );
        let query = QueryWords::parse("gregroy");
        let (_, ranges) = match_text(&query, "Café with Grégory");
        assert_eq!(
            snippet("Café with Grégory", &ranges).unwrap(),
            "Café with <em>Grégory</em>"
        );
    }
}
