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
    fn tokens_use_the_unreserved_alphabet() {
        let t = token(43);
        assert_eq!(t.len(), 43);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(token(22), token(22));
    }
}
