//! No warnings, not even pedantic clippy ones, come out of the expansion. This file is also
//! compiled as a module of the ui-tests library, so `cargo clippy` checks it.

#![deny(warnings, clippy::pedantic)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A user.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
pub struct User {
    /// The id.
    pub id: u64,
    /// Keyed values.
    pub values: BTreeMap<Role, Score>,
}

/// A score.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
pub struct Score(pub u32);

/// A role.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Administers.
    Admin,
}

/// A page.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
}

/// Something that happened.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
#[serde(tag = "kind")]
pub enum Event {
    /// Joined.
    Joined {
        /// Who.
        user: User,
    },
}

/// Builds one of each and describes them.
pub fn main() {
    let user = User { id: 1, values: BTreeMap::from([(Role::Admin, Score(2))]) };
    let event = Event::Joined { user };
    let _page = Page { items: vec![event] };
    let mut registry = snake::schema::Registry::new();
    registry.describe::<Page<Event>>();
}
