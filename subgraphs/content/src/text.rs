//! Hashtags and mentions parsed from a post body.

/// `#tag` words, lowercased, unique, in order of first appearance. A tag is 1 to
/// 50 letters, digits or `_`, and starts after the start of the text or a
/// character that is not part of a word (so `a#b` is not a tag).
pub fn hashtags(body: &str) -> Vec<String> {
    marked_words(body, '#', 1, 50)
}

/// `@username` words (3 to 30 letters, digits or `_`), lowercased, unique.
pub fn mentions(body: &str) -> Vec<String> {
    marked_words(body, '@', 3, 30)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn marked_words(body: &str, marker: char, min: usize, max: usize) -> Vec<String> {
    let chars: Vec<char> = body.chars().collect();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !is_word_char(chars[i - 1]);
        if chars[i] == marker && starts_word {
            let word: String = chars[i + 1..]
                .iter()
                .take_while(|c| is_word_char(**c))
                .collect();
            let length = word.chars().count();
            if (min..=max).contains(&length) {
                let word = word.to_lowercase();
                if !found.contains(&word) {
                    found.push(word);
                }
            }
            i += 1 + length;
        } else {
            i += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_mentions_are_parsed_once_lowercased() {
        let body = "Hello @Ann and @bob! #Rust #rust #graph_ql a#b e@mail.com @xy #";
        assert_eq!(hashtags(body), vec!["rust", "graph_ql"]);
        assert_eq!(mentions(body), vec!["ann", "bob"]);
        assert!(hashtags("").is_empty());
        assert_eq!(hashtags("#ünïcödé"), vec!["ünïcödé"]);
    }
}
