//! Python strings for the `&'static str` names serde hands out (struct fields, enum variants).
//!
//! Every conversion of a struct would otherwise create one new Python string per field. The names
//! are `'static`, so their address identifies them: a per-thread table maps (address, length) to
//! an interned Python string, and a hit costs a hash of two words and a reference-count increment.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use pyo3::prelude::*;
use pyo3::types::PyString;

/// Bounds the table should a program leak names at run time (`Box::leak`) without end; names
/// past the limit are still interned, just not remembered.
const MAX_CACHED: usize = 4096;

thread_local! {
    static NAMES: RefCell<HashMap<NameKey, Py<PyString>, BuildHasherDefault<AddressHasher>>> =
        const { RefCell::new(HashMap::with_hasher(BuildHasherDefault::new())) };
}

/// Identifies a `&'static str` by where it lives: equal keys mean the same bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct NameKey {
    address: usize,
    len: usize,
}

/// The interned Python string for a `'static` name.
#[inline]
pub(crate) fn static_name<'py>(py: Python<'py>, name: &'static str) -> Bound<'py, PyString> {
    let key = NameKey { address: name.as_ptr() as usize, len: name.len() };
    // Only a reference-count increment happens while the table is borrowed: no Python code can
    // run and re-enter this function (through a finalizer, say) during the borrow.
    let hit = NAMES
        .try_with(|names| {
            let names = names.try_borrow().ok()?;
            names.get(&key).map(|name| name.bind(py).clone())
        })
        .ok()
        .flatten();
    match hit {
        Some(name) => name,
        None => intern_and_remember(py, key, name),
    }
}

#[cold]
fn intern_and_remember<'py>(py: Python<'py>, key: NameKey, name: &'static str) -> Bound<'py, PyString> {
    let interned = PyString::intern(py, name);
    // Unavailable only during thread teardown or re-entrancy; the string is still correct then.
    let _ = NAMES.try_with(|names| {
        if let Ok(mut names) = names.try_borrow_mut()
            && names.len() < MAX_CACHED
        {
            names.entry(key).or_insert_with(|| interned.clone().unbind());
        }
    });
    interned
}

/// FxHash over the two words of a [`NameKey`]: the keys are addresses, not attacker-chosen data,
/// so a DoS-resistant hasher would only cost time.
#[derive(Default)]
struct AddressHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl AddressHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for AddressHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.add(u64::from(byte));
        }
    }

    #[inline]
    fn write_usize(&mut self, word: usize) {
        self.add(word as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}
