//! "Did you mean": the closest of a set of names to one that was not found, when it is close
//! enough to be a likely typo.

use pyo3::prelude::*;

/// The public (no leading `_`) callable attribute of `module` closest to `name`, if one is close
/// enough (see [`closest`]).
pub(crate) fn closest_function(module: &Bound<'_, PyAny>, name: &str) -> Option<String> {
    let names = module.dir().ok()?;
    let functions: Vec<String> = names
        .iter()
        .filter_map(|attr| attr.extract::<String>().ok())
        .filter(|attr| !attr.starts_with('_'))
        .filter(|attr| module.getattr(attr.as_str()).is_ok_and(|value| value.is_callable()))
        .collect();
    closest(name, functions.iter().map(String::as_str)).map(str::to_owned)
}

/// The candidate closest to `name` by edit distance (insertions, deletions, substitutions and
/// swaps of neighbours, each counting 1), if at most a third of `name`'s length (at least 1) away;
/// a candidate that differs only in case always qualifies. Ties go to the first candidate.
pub(crate) fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let distance = if candidate.to_lowercase() == name.to_lowercase() { 0 } else { edit_distance(name, candidate) };
        if distance <= limit && best.is_none_or(|(best_distance, _)| distance < best_distance) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance between `a` and `b`, in chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j]; three rows are enough for swaps.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("add_synk", "add_sync"), 1);
        assert_eq!(edit_distance("ad_sync", "add_sync"), 1);
        assert_eq!(edit_distance("add_snyc", "add_sync"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_close_names() {
        let names = ["add_sync", "add_async", "remove", "Summarize"];
        assert_eq!(closest("add_synk", names), Some("add_sync"));
        assert_eq!(closest("add_asynk", names), Some("add_async"));
        assert_eq!(closest("summarize", names), Some("Summarize"));
        assert_eq!(closest("remve", names), Some("remove"));
        assert_eq!(closest("completely_different", names), None);
        assert_eq!(closest("mul", names), None);
        assert_eq!(closest("x", []), None);
    }

    #[test]
    fn ties_go_to_the_first_candidate() {
        assert_eq!(closest("ab", ["ax", "ay"]), Some("ax"));
    }
}
