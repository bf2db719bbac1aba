//! Random identifiers and secrets, all from the operating system's CSPRNG.

use rand::rngs::OsRng;
use rand::{Rng, RngCore};

/// Letters and digits that cannot be mistaken for one another when read aloud or
/// compared by eye: no 0/O, 1/I/L.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const CODE_GROUP: usize = 4;

/// An opaque token from the URL-safe alphabet (`[A-Za-z0-9]`, a subset of RFC 3986's
/// unreserved set), so that form-encoding never changes it. 22 characters ≈ 131 bits.
///
/// The bytes come from the OS in one read per token, not one per character (`OsRng`
/// samples a `u32` per character, each a `getrandom` system call: 86 of them for the two
/// tokens of a code exchange). A byte of 248 or more (4 × 62) is dropped so that every
/// character stays equally likely; the few extra bytes read make a second read rare.
pub fn token(len: usize) -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut token = String::with_capacity(len);
    let mut bytes = vec![0u8; len + len / 8 + 8];
    while token.len() < len {
        OsRng.fill_bytes(&mut bytes);
        for &b in bytes.iter().filter(|&&b| b < 248).take(len - token.len()) {
            token.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
        }
    }
    token
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
/// "K7XM4QPA" all give `K7XM4QPA`. Codes written as shown (`XXXX-XXXX`) come first, then
/// words of eight code symbols and pairs of four-symbol words; each kind from the end of
/// the text (the code follows the site's name, which may hold code-like words); at most
/// [`MAX_CANDIDATES`].
pub fn code_candidates(text: &str) -> Vec<String> {
    // Words with the text that follows each, up to the next word.
    let upper = text.to_ascii_uppercase();
    let mut words: Vec<(&str, &str)> = Vec::new();
    let mut rest = upper.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric()) {
        let after = &rest[start..];
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        let (word, tail) = after.split_at(end);
        let gap = tail
            .find(|c: char| c.is_ascii_alphanumeric())
            .map_or(tail, |next| &tail[..next]);
        words.push((word, gap));
        rest = tail;
    }
    let mut dashed = Vec::new();
    let mut other = Vec::new();
    for (i, (word, gap)) in words.iter().enumerate() {
        match word.len() {
            8 => other.push(word.to_string()),
            4 => match words.get(i + 1) {
                Some((next, _)) if next.len() == CODE_GROUP => {
                    let key = format!("{word}{next}");
                    if *gap == "-" {
                        dashed.push(key);
                    } else {
                        other.push(key);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    let mut found = Vec::new();
    for key in dashed.into_iter().rev().chain(other.into_iter().rev()) {
        if is_code_key(&key) && !found.contains(&key) && found.len() < MAX_CANDIDATES {
            found.push(key);
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
        // A site name of code-like words before the code: the code is still found.
        let text = format!("Log in to Team Chat Data Mesh Database Exchange: {code}");
        assert_eq!(code_candidates(&text)[0], key);
    }

    #[test]
    fn tokens_use_the_unreserved_alphabet() {
        let t = token(43);
        assert_eq!(t.len(), 43);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(token(22), token(22));
        // Every character of the alphabet turns up (each ~140 times in 8,600).
        let seen: std::collections::HashSet<char> = (0..200)
            .flat_map(|_| token(43).chars().collect::<Vec<_>>())
            .collect();
        assert_eq!(seen.len(), 62);
    }
}
