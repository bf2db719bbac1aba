//! Random identifiers and secrets, all from the operating system's CSPRNG.

use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use rand::Rng;

/// Letters and digits that cannot be mistaken for one another when read aloud or
/// compared by eye: no 0/O, 1/I/L.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const CODE_GROUP: usize = 4;

/// An opaque token from the URL-safe alphabet (`[A-Za-z0-9]`, a subset of RFC 3986's
/// unreserved set), so that form-encoding never changes it. 22 characters ≈ 131 bits.
pub fn token(len: usize) -> String {
    Alphanumeric.sample_string(&mut OsRng, len)
}

/// The code shown on the web page and in the XMPP client: two groups of four from
/// a 31-symbol alphabet (≈ 39.6 bits), e.g. `K7XM-4QPA`.
pub fn confirmation_code() -> String {
    let mut code = String::with_capacity(2 * CODE_GROUP + 1);
    for i in 0..2 * CODE_GROUP {
        if i == CODE_GROUP {
            code.push('-');
        }
        let symbol = CODE_ALPHABET[OsRng.gen_range(0..CODE_ALPHABET.len())];
        code.push(char::from(symbol));
    }
    code
}

/// The form in which a typed code is compared: case, spaces and dashes do not matter.
pub fn code_key(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// Whether `key` (see [`code_key`]) has the shape of a code.
fn is_code_key(key: &str) -> bool {
    key.len() == 2 * CODE_GROUP && key.bytes().all(|b| CODE_ALPHABET.contains(&b))
}

/// The codes a message may carry, as keys: "Log in to Gitea: K7XM-4QPA", "k7xm 4qpa" or
/// "K7XM4QPA" all give `K7XM4QPA`. A word of eight code symbols, or two of four in a row,
/// counts; at most [`MAX_CANDIDATES`].
pub fn code_candidates(text: &str) -> Vec<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    let mut found = Vec::new();
    let mut add = |key: String| {
        if is_code_key(&key) && !found.contains(&key) && found.len() < MAX_CANDIDATES {
            found.push(key);
        }
    };
    for (i, word) in words.iter().enumerate() {
        match word.len() {
            8 => add(word.clone()),
            4 => {
                if let Some(next) = words.get(i + 1).filter(|w| w.len() == CODE_GROUP) {
                    add(format!("{word}{next}"));
                }
            }
            _ => {}
        }
    }
    found
}

/// A message is looked up for this many codes at most.
pub const MAX_CANDIDATES: usize = 3;

/// The displayed form of a code key: `K7XM4QPA` → `K7XM-4QPA`.
pub fn code_from_key(key: &str) -> String {
    match (key.get(..CODE_GROUP), key.get(CODE_GROUP..)) {
        (Some(first), Some(second)) => format!("{first}-{second}"),
        _ => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_readable_and_distinct() {
        let codes: HashSet<String> = (0..2000).map(|_| confirmation_code()).collect();
        assert_eq!(codes.len(), 2000);
        for code in &codes {
            assert_eq!(code.len(), 9);
            assert_eq!(&code[4..5], "-");
            assert!(code
                .chars()
                .all(|c| c == '-' || CODE_ALPHABET.contains(&(c as u8))));
            assert!(!code.contains(['0', 'O', '1', 'I', 'L']));
        }
    }

    #[test]
    fn code_key_ignores_case_spaces_and_dashes() {
        assert_eq!(code_key(" k7xm-4qpa\n"), "K7XM4QPA");
        assert_eq!(code_key("K7XM 4QPA"), code_key("k7xm4qpa"));
        assert_ne!(code_key("K7XM4QPB"), code_key("K7XM4QPA"));
    }

    #[test]
    fn codes_are_found_in_what_people_send() {
        let code = confirmation_code();
        let key = code_key(&code);
        for text in [
            format!("Log in to Gitea: {code}"),
            format!("  {}  ", code.to_lowercase()),
            format!("{} please", code.replace('-', " ")),
            format!("{}!", code.replace('-', "")),
        ] {
            assert_eq!(code_candidates(&text), vec![key.clone()], "{text}");
        }
        assert_eq!(code_from_key(&key), code);
        // Words that are not codes: wrong length, or letters the alphabet leaves out.
        for text in [
            "hello",
            "Log in to Nextcloud",
            "PASSWORD",
            "ABCD",
            "1234-5678",
            "no",
        ] {
            assert!(code_candidates(text).is_empty(), "{text}");
        }
        let many = (0..10)
            .map(|_| confirmation_code())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(code_candidates(&many).len(), MAX_CANDIDATES);
    }

    #[test]
    fn tokens_use_the_unreserved_alphabet() {
        let t = token(43);
        assert_eq!(t.len(), 43);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(token(22), token(22));
    }
}
