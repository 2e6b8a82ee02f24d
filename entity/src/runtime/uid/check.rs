//! The check character of a UID: ISO 7064 MOD 37-2, a pure system over the 36 letters and
//! digits whose check character is one of 37 (`0`–`9`, `A`–`Z`, `*`). Each character's value
//! is weighted by a distinct power of 2 modulo the prime 37, so a single substitution changes
//! the weighted sum by (a − b)·w ≢ 0 and an adjacent transposition by (a − b)·w ≢ 0 as well:
//! every single-character error and every adjacent transposition is detected, the check
//! character's own included. (The hybrid MOD 37,36 misses some transpositions, which is why
//! it is not used.) Characters outside the alphabet (the pattern's separators) are checked by
//! the pattern, position by position (`pattern`), not here.

/// The 37 characters and their values (their positions).
const ALPHABET: &[u8; 37] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*";

/// The modulus (a prime: every non-zero difference stays non-zero when weighted).
const M: u32 = 37;

/// The value of a data character (letters and digits only; `*` is a check character).
fn value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        'A'..='Z' => Some(c as u32 - 'A' as u32 + 10),
        _ => None,
    }
}

/// The weighted sum of `data`'s letters and digits, the rest skipped.
fn sum(data: &str) -> u32 {
    data.chars().filter_map(value).fold(0, |p, v| ((p + v) * 2) % M)
}

/// The check character of `data` (its letters and digits; other characters do not count).
pub fn check_char(data: &str) -> char {
    let v = (M + 1 - sum(data)) % M;
    char::from(ALPHABET[v as usize])
}

/// Whether `c` is `data`'s check character.
pub fn verifies(data: &str, c: char) -> bool {
    check_char(data) == c
}

/// Whether `c` may stand where a check character does.
pub fn is_check_char(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase() || c == '*'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character a UID can hold: the data alphabet, the check character `*` and the
    /// separator `-`.
    const UID_ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*-";

    /// A deterministic sample of alphanumeric strings (a small linear congruential walk).
    fn sample(n: usize) -> Vec<String> {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        (0..n)
            .map(|i| {
                let len = 1 + i % 16;
                (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                        char::from(ALPHABET[((x >> 33) % 36) as usize])
                    })
                    .collect()
            })
            .collect()
    }

    /// Whether `s` (data then its check character) is accepted.
    fn accepted(s: &[char]) -> bool {
        let Some((last, data)) = s.split_last() else { return false };
        data.iter().all(|c| value(*c).is_some()) && verifies(&data.iter().collect::<String>(), *last)
    }

    #[test]
    fn every_single_substitution_and_adjacent_transposition_is_detected() {
        for data in sample(2_000) {
            let full: Vec<char> = data.chars().chain([check_char(&data)]).collect();
            assert!(accepted(&full), "{data} with its check character is accepted");
            for i in 0..full.len() {
                for c in UID_ALPHABET.chars().filter(|c| *c != full[i]) {
                    let mut changed = full.clone();
                    changed[i] = c;
                    assert!(!accepted(&changed), "{data}: `{c}` at {i} is detected");
                }
                if i + 1 < full.len() && full[i] != full[i + 1] {
                    let mut swapped = full.clone();
                    swapped.swap(i, i + 1);
                    assert!(!accepted(&swapped), "{data}: swap at {i} is detected");
                }
            }
        }
    }

    #[test]
    fn known_values() {
        // ISO 7064 MOD 37-2 of an empty input is 1; separators do not count.
        assert_eq!(check_char(""), '1');
        assert_eq!(check_char("AB-12"), check_char("AB12"));
        assert!(is_check_char('*') && !is_check_char('-'));
    }
}
