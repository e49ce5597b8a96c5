//! Property: any value of the rich type survives Rust -> Python -> Rust unchanged.

use proptest::prelude::*;

use super::rich::{Rich, rich};
use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rich_values_round_trip(value in rich()) {
        with_py(|py| -> Result<(), TestCaseError> {
            let obj = to_python(py, &value)
                .map_err(|err| TestCaseError::fail(format!("to_python: {err}")))?;
            let back: Rich = from_python(&obj)
                .map_err(|err| TestCaseError::fail(format!("from_python of {}: {err}", repr(&obj))))?;
            prop_assert_eq!(back, value);
            Ok(())
        })?;
    }

}
