//! Bearer tokens issued by `/login`, remembered in a bounded store.

use std::collections::{HashSet, VecDeque};
use std::sync::RwLock;

/// How many tokens are remembered before the oldest are forgotten.
pub(crate) const MAX_TOKENS: usize = 100_000;

/// Issued tokens: a set for lookups plus issue order for evicting the oldest.
///
/// Tokens are 128 random bits written as 32 lowercase hex characters; they are stored as
/// numbers. Checks take a read lock, so concurrent requests do not serialize on them.
#[derive(Debug)]
pub(crate) struct TokenStore {
    inner: RwLock<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    live: HashSet<u128>,
    order: VecDeque<u128>,
}

impl TokenStore {
    /// An empty store remembering at most `capacity` tokens (at least one).
    pub(crate) fn new(capacity: usize) -> TokenStore {
        TokenStore {
            inner: RwLock::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    /// Issues a fresh token, forgetting the oldest one if the store is full.
    pub(crate) fn issue(&self) -> String {
        let mut inner = match self.inner.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let token = loop {
            let candidate = fastrand::u128(..);
            if !inner.live.contains(&candidate) {
                break candidate;
            }
        };
        while inner.order.len() >= self.capacity {
            match inner.order.pop_front() {
                Some(old) => {
                    inner.live.remove(&old);
                }
                None => break,
            }
        }
        inner.live.insert(token);
        inner.order.push_back(token);
        format!("{token:032x}")
    }

    /// Whether `token` was issued and is still remembered.
    pub(crate) fn is_valid(&self, token: &str) -> bool {
        let Some(value) = parse_token(token) else {
            return false;
        };
        let inner = match self.inner.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        inner.live.contains(&value)
    }
}

/// Parses exactly 32 lowercase hex characters.
fn parse_token(token: &str) -> Option<u128> {
    if token.len() != 32
        || !token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    u128::from_str_radix(token, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_hex_and_valid() {
        let store = TokenStore::new(10);
        let t = store.issue();
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(store.is_valid(&t));
        assert!(!store.is_valid(&t.to_uppercase()));
        assert!(!store.is_valid("0123456789abcdef0123456789abcdef"));
        assert!(!store.is_valid("nope"));
        assert!(!store.is_valid(""));
        assert!(!store.is_valid("+123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn oldest_tokens_are_evicted_at_capacity() {
        let store = TokenStore::new(3);
        let tokens: Vec<String> = (0..5).map(|_| store.issue()).collect();
        assert!(!store.is_valid(&tokens[0]));
        assert!(!store.is_valid(&tokens[1]));
        assert!(tokens[2..].iter().all(|t| store.is_valid(t)));
    }
}
