//! Errors cut down to fit in one frame.
//!
//! An exception's message or traceback can be larger than the frame limit (`ValueError(huge)`, a
//! deep recursion's traceback, a conversion error quoting a huge value): its error frame would be
//! refused and the call never answered. [`shrink`] cuts every string of the error to a fair share
//! of the limit, on a character boundary, and says in the text how much was cut. A message keeps
//! its start; a traceback keeps its start (where the call entered the handler) and its end (where
//! it raised).
//!
//! The error is walked as the engine's self-describing [`Value`] tree, so every string field of
//! every variant is covered, including ones added later, without a match over the variants.

use serde::Deserialize;
use snake_ipc::wire::{Value, to_value};

use crate::error::{ProtocolError, PythonExecutionError};

/// Bytes kept back for the frame header and what the cut strings' notes and lengths add.
const SLACK: usize = 256;

/// The longest note a cut adds (`"\n… [truncated 18446744073709551615 bytes] …\n"`).
const NOTE_MAX: usize = 48;

/// Most bytes of the original error's text kept when even its shape does not fit.
const FALLBACK_TEXT: usize = 1000;

/// `err` with its strings cut so that its encoding takes at most `budget` bytes. When even that
/// is impossible (thousands of small strings in a tiny budget), a protocol error quoting the
/// start of the original's text.
pub(crate) fn shrink(err: &PythonExecutionError, budget: usize) -> PythonExecutionError {
    to_fit(err, budget).unwrap_or_else(|| {
        PythonExecutionError::Protocol(ProtocolError::Encode {
            message: format!("the error did not fit in a frame: {}", head(&err.to_string(), FALLBACK_TEXT)),
        })
    })
}

/// The encoded size of `value` in a frame body.
pub(crate) fn encoded_len<T: serde::Serialize>(value: &T) -> usize {
    postcard::experimental::serialized_size(value).unwrap_or(usize::MAX)
}

fn to_fit(err: &PythonExecutionError, budget: usize) -> Option<PythonExecutionError> {
    let mut tree = to_value(err).ok()?;
    let mut lengths = Vec::new();
    visit(&mut tree, false, &mut |text, _| lengths.push(text.len()));
    let strings: usize = lengths.iter().sum();
    let shape = encoded_len(err).saturating_sub(strings);
    let room = budget.checked_sub(shape + SLACK)?;
    let cap = fair_share(&mut lengths, room);
    visit(&mut tree, false, &mut |text, keep_tail| {
        if text.len() > cap {
            cut(text, cap.saturating_sub(NOTE_MAX), keep_tail);
        }
    });
    let fitted = PythonExecutionError::deserialize(tree).ok()?;
    (encoded_len(&fitted) + SLACK / 2 <= budget).then_some(fitted)
}

/// The largest length `cap` such that the strings, each cut to `cap`, take at most `room` bytes
/// together: short strings keep all they have, and what they leave is shared among the long ones.
fn fair_share(lengths: &mut [usize], room: usize) -> usize {
    lengths.sort_unstable();
    let mut left = room;
    for (i, &len) in lengths.iter().enumerate() {
        let share = left / (lengths.len() - i);
        if len > share {
            return share;
        }
        left -= len;
    }
    usize::MAX
}

/// Calls `f` on every string of the tree, with whether it is a traceback (whose end matters).
fn visit(value: &mut Value, traceback: bool, f: &mut impl FnMut(&mut String, bool)) {
    match value {
        Value::String(text) => f(text, traceback),
        Value::Some(inner) => visit(inner, traceback, f),
        Value::NewtypeVariant { value, .. } => visit(value, false, f),
        Value::Seq(items) | Value::TupleVariant { items, .. } => {
            items.iter_mut().for_each(|item| visit(item, false, f));
        }
        Value::Map(entries) => entries.iter_mut().for_each(|(_, item)| visit(item, false, f)),
        Value::Struct(fields) | Value::StructVariant { fields, .. } => {
            fields.iter_mut().for_each(|(name, item)| visit(item, name == "traceback", f));
        }
        _ => {}
    }
}

/// Cuts `text` to about `keep` bytes plus a note of how many were cut.
fn cut(text: &mut String, keep: usize, keep_tail: bool) {
    if keep_tail {
        let head_end = floor_boundary(text, keep / 2);
        let tail_start = ceil_boundary(text, text.len() - (keep - keep / 2));
        let cut = tail_start - head_end;
        *text = format!("{}\n… [truncated {cut} bytes] …\n{}", &text[..head_end], &text[tail_start..]);
    } else {
        let end = floor_boundary(text, keep);
        let cut = text.len() - end;
        text.truncate(end);
        text.push_str(&format!("… [truncated {cut} bytes]"));
    }
}

/// At most `max` bytes of the start of `text`, with a note when it was cut.
fn head(text: &str, max: usize) -> String {
    let mut text = text.to_owned();
    if text.len() > max {
        cut(&mut text, max, false);
    }
    text
}

/// The largest character boundary at or before `index`.
fn floor_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// The smallest character boundary at or after `index`.
fn ceil_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ConversionDirection, PythonException};
    use crate::serde_py::{ConversionError, ConversionErrorKind};

    fn exception(message: String, traceback: String) -> PythonExecutionError {
        PythonExecutionError::Exception(PythonException { type_name: "ValueError".into(), message, traceback })
    }

    #[test]
    fn an_error_that_fits_is_left_alone() {
        let err = exception("small".into(), "Traceback (most recent call last):\n...".into());
        assert_eq!(shrink(&err, 4096), err);
    }

    #[test]
    fn message_keeps_its_start_and_says_what_was_cut() {
        let err =
            exception("x".repeat(1_000_000), "Traceback\n".to_owned() + &"y".repeat(500_000) + "\nValueError: end");
        let small = shrink(&err, 64 * 1024);
        assert!(encoded_len(&small) <= 64 * 1024, "{}", encoded_len(&small));
        let PythonExecutionError::Exception(small) = small else { panic!("{small:?}") };
        let kept = small.message.trim_start_matches('x');
        let cut = 1_000_000 - (small.message.len() - kept.len());
        assert_eq!(kept, format!("… [truncated {cut} bytes]"));
        assert!(small.message.len() > 16 * 1024, "a fair share: {}", small.message.len());
        assert!(small.traceback.starts_with("Traceback\nyyy"), "{}", &small.traceback[..40]);
        assert!(small.traceback.ends_with("yyy\nValueError: end"), "the end of a traceback is kept");
        assert!(small.traceback.contains(" bytes] …\n"));
        assert_eq!(small.type_name, "ValueError", "short strings keep everything");
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        for budget in [1000, 1001, 1002, 1003, 4097] {
            let err = exception("é€😀".repeat(10_000), "😀é".repeat(10_000));
            let PythonExecutionError::Exception(small) = shrink(&err, budget) else { panic!() };
            // Strings are valid UTF-8 by construction: a cut inside a character would have panicked.
            assert!(small.message.ends_with(" bytes]"), "{}", small.message);
            assert!(small.traceback.ends_with('é'), "{}", small.traceback);
        }
    }

    #[test]
    fn a_conversion_error_is_cut_too() {
        let err = PythonExecutionError::Conversion {
            direction: ConversionDirection::Reply,
            error: ConversionError {
                path: "reply.items[3]".into(),
                kind: ConversionErrorKind::Custom { message: "z".repeat(200_000) },
            },
        };
        let small = shrink(&err, 8 * 1024);
        assert!(encoded_len(&small) <= 8 * 1024);
        let PythonExecutionError::Conversion { error, .. } = &small else { panic!("{small:?}") };
        assert_eq!(error.path, "reply.items[3]");
        let ConversionErrorKind::Custom { message } = &error.kind else { panic!("{small:?}") };
        assert!(message.ends_with(" bytes]"), "{message}");
    }

    #[test]
    fn a_shape_too_large_for_the_budget_becomes_a_short_protocol_error() {
        let err = PythonExecutionError::ModuleNotFound { module: "m".into(), sys_path: vec!["p".into(); 10_000] };
        let small = shrink(&err, 2048);
        assert!(encoded_len(&small) <= 2048, "{}", encoded_len(&small));
        assert!(matches!(small, PythonExecutionError::Protocol(ProtocolError::Encode { .. })), "{small:?}");
    }
}
