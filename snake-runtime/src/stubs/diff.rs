//! A short unified-style excerpt of how a stale file differs from what is generated.

use std::fmt::Write as _;

/// At most this many lines are shown on each side.
const MAX_LINES: usize = 12;

/// The changed region between the common prefix and suffix of `old` and `new`, as `-`/`+` lines
/// under a `@@ -start,len +start,len @@` header.
pub(super) fn summary(old: &str, new: &str) -> String {
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..].iter().rev().zip(new[prefix..].iter().rev()).take_while(|(a, b)| a == b).count();
    let removed = &old[prefix..old.len() - suffix];
    let added = &new[prefix..new.len() - suffix];
    let mut out = format!("@@ -{},{} +{},{} @@\n", prefix + 1, removed.len(), prefix + 1, added.len());
    for (sign, lines) in [('-', removed), ('+', added)] {
        for line in lines.iter().take(MAX_LINES) {
            let _ = writeln!(out, "{sign}{line}");
        }
        if lines.len() > MAX_LINES {
            let _ = writeln!(out, "{sign}... {} more line(s)", lines.len() - MAX_LINES);
        }
    }
    if removed.is_empty() && added.is_empty() {
        // Only line endings or a final newline differ.
        out.push_str("(line endings or the final newline differ)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_only_the_changed_region() {
        let old = "a\nb\nc\nd\n";
        let new = "a\nB\nB2\nd\n";
        assert_eq!(summary(old, new), "@@ -2,2 +2,2 @@\n-b\n-c\n+B\n+B2\n");
    }

    #[test]
    fn truncates_long_regions_and_explains_invisible_changes() {
        let new: String = (0..20).map(|i| format!("{i}\n")).collect();
        let diff = summary("", &new);
        assert!(diff.starts_with("@@ -1,0 +1,20 @@\n+0\n"));
        assert!(diff.ends_with("+... 8 more line(s)\n"));
        assert!(summary("a\n", "a").contains("line endings"));
    }
}
