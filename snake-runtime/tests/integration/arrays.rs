//! `snake::Array` (feature `numpy`) through a real child (`tests/python/arrays.py`): Python gets
//! a read-only `numpy.ndarray` of the right dtype and shape (viewing the shared-memory arena for
//! a large frame), and returned arrays are checked for dtype and rank.

use libtest_mimic::Trial;
use serde::{Deserialize, Serialize};
use snake::ndarray::{self, Ix1, Ix2};
use snake::{Array, PythonChildProcessBuilder, PythonConfig, PythonExecutionError};

use crate::common::{handler_error, in_a_memfd, python_dir, trial, type_check_with_stubs};

pub fn trials() -> Vec<Trial> {
    vec![
        trial("arrays::python_gets_an_ndarray_of_the_right_dtype_and_shape", small),
        trial("arrays::a_large_array_views_the_arena_read_only", large),
        trial("arrays::arrays_come_back_with_their_values", echo),
        trial("arrays::an_echoed_array_is_handed_back_without_a_copy", handed_back),
        trial("arrays::an_array_filled_in_the_arena_crosses_by_reference", filled_in_place),
        trial("arrays::every_element_type_crosses_both_ways", element_types),
        trial("arrays::non_contiguous_replies_are_copied_in_c_order", non_contiguous),
        trial("arrays::a_wrong_dtype_or_rank_is_a_conversion_error", wrong_replies),
        trial("arrays::arrays_cross_inside_untagged_and_flattened_types", untagged_and_flattened),
        trial("arrays::stubs_type_arrays_for_mypy_and_pyright", stubs),
        trial("arrays::a_child_without_numpy_fails_at_spawn", without_numpy),
        trial("arrays::the_low_level_builder_can_require_numpy_at_spawn", low_level_without_numpy),
    ]
}

/// What Python saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub struct ArrayInfo {
    pub kind: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    pub sum: f64,
    pub corner: f64,
    pub writeable: bool,
    pub in_shared_memory: bool,
    /// The data starts on a 64-byte boundary.
    pub aligned: bool,
    pub owner: String,
}

/// One array of each element type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub struct ArrayRecord {
    pub f32s: Array<f32, Ix2>,
    pub f64s: Array<f64, Ix1>,
    pub i32s: Array<i32, Ix1>,
    pub i64s: Array<i64, ndarray::IxDyn>,
    pub u8s: Array<u8, Ix1>,
    pub flags: Array<bool, Ix1>,
}

/// An array or a name: untagged, so sent as a self-describing tree and read from Python without
/// knowing which it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
#[serde(untagged)]
pub enum Features {
    Dense(Array<f32, Ix2>),
    Named(String),
}

/// Row ids beside an array, flattened into one dict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub struct Labeled {
    pub label: String,
    #[serde(flatten)]
    pub rows: Rows,
}

/// The flattened part of [`Labeled`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, snake::PyMessage)]
pub struct Rows {
    pub ids: Array<i64, Ix1>,
}

/// A message of the low-level API (plain serde, no type description) that carries an array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Samples {
    pub values: Array<f32, Ix1>,
}

impl snake::ChildMessage for Samples {
    type Reply = Samples;
}

snake::register_actor!(Samples);

/// Handlers that take and return arrays.
#[snake::actor(module = "arrays")]
pub trait Arrays {
    /// What Python got.
    fn inspect(matrix: Array<f32, Ix2>) -> ArrayInfo;
    /// `matrix.sum()`.
    fn total(matrix: Array<f32, Ix2>) -> f64;
    /// The array it got.
    fn echo(matrix: Array<f32, Ix2>) -> Array<f32, Ix2>;
    /// `matrix * 2`.
    fn double(matrix: Array<f32, Ix2>) -> Array<f32, Ix2>;
    /// Tries to write into the array.
    fn write_attempt(matrix: Array<f32, Ix2>) -> String;
    /// Each array incremented (bools negated).
    fn echo_record(record: ArrayRecord) -> ArrayRecord;
    /// A reply of a kind, right or wrong.
    fn make(kind: String) -> Array<f32, Ix2>;
    /// An array doubled; a name upper-cased, or for `"float64"`, a float64 array.
    fn transform(features: Features) -> Features;
    /// The ids reversed, the label repeated.
    fn relabel(labeled: Labeled) -> Labeled;
}

fn builder() -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(PythonConfig {
        module_path: python_dir().display().to_string(),
        ..Default::default()
    })
    .max_frame_size(256 << 20)
}

/// `rows x cols` values `i * 0.5 - 3` in C order.
fn matrix(rows: usize, cols: usize) -> Array<f32, Ix2> {
    ndarray::Array::from_shape_fn((rows, cols), |(r, c)| (r * cols + c) as f32 * 0.5 - 3.0).into()
}

async fn small() {
    let actor = Arrays::spawn(builder()).await.expect("spawn");
    let m = matrix(3, 4);
    let seen = actor.inspect(m.clone()).await.expect("inspect");
    let expected_sum: f64 = m.iter().map(|&x| f64::from(x)).sum();
    assert_eq!(seen.kind, "ndarray");
    assert_eq!(seen.dtype, "float32");
    assert_eq!(seen.shape, vec![3, 4]);
    assert_eq!(seen.sum, expected_sum);
    assert_eq!(seen.sum, -3.0, "sum of i * 0.5 - 3 for i < 12");
    assert_eq!(seen.corner, 2.5);
    assert!(!seen.writeable, "arrays arrive read-only");
    assert!(!seen.in_shared_memory, "a small frame travels through the socket");
    assert_eq!(seen.owner, "SharedBuffer", "the array views the received frame");
    assert_eq!(actor.total(m).await.expect("total"), -3.0);
    let empty = actor.inspect(matrix(0, 5)).await.expect("inspect empty");
    assert_eq!((empty.shape, empty.sum), (vec![0, 5], 0.0));
}

async fn large() {
    let actor = Arrays::spawn(builder()).await.expect("spawn");
    // 4 MiB of float32, well past the default threshold.
    let m = matrix(1024, 1024);
    let seen = actor.inspect(m.clone()).await.expect("inspect");
    assert_eq!(seen.shape, vec![1024, 1024]);
    assert_eq!(seen.sum, m.iter().map(|&x| f64::from(x)).sum::<f64>());
    assert_eq!(seen.corner, f64::from(m[[1023, 1023]]));
    assert!(!seen.writeable);
    assert!(seen.in_shared_memory, "the array's data lies in the memfd arena: no copy");
    assert!(seen.aligned, "laid out on a 64-byte boundary of the arena");
    assert_eq!(seen.owner, "SharedBuffer");
    let refused = actor.write_attempt(m).await.expect("write_attempt");
    assert!(refused.starts_with("ValueError: assignment destination is read-only"), "{refused}");
}

async fn echo() {
    let actor = Arrays::spawn(builder()).await.expect("spawn");
    for (rows, cols) in [(2, 3), (1, 1), (0, 7), (512, 1024)] {
        let m = matrix(rows, cols);
        let back = actor.echo(m.clone()).await.expect("echo");
        assert_eq!(back, m, "{rows}x{cols} comes back unchanged");
        let doubled = actor.double(m.clone()).await.expect("double");
        assert_eq!(doubled.into_inner(), m.mapv(|x| x * 2.0));
    }
}

async fn handed_back() {
    let actor = Arrays::spawn(builder()).await.expect("spawn");
    let actor_ref = actor.actor_ref().expect("a spawned handle has a local actor");
    let connections = actor_ref.ask(snake::__private::WorkerConnections).await.expect("connections");
    let conn = connections.into_iter().next().expect("one worker");
    let sent = matrix(1024, 1024);
    let back = actor.echo(sent.clone()).await.expect("echo");
    // Aligned in the arena, so a view reads the elements in place, before any copy was made.
    let view = back.view();
    assert!(in_a_memfd(view.as_ptr().cast()), "the view reads the arena in place");
    assert_eq!(view, sent.view());
    assert_eq!(*back, *sent);
    // The child kept nothing: the reply, read in place in the parent's arena, holds the region.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (regions, bytes) = conn.shared_memory_lent().expect("shared memory is on");
    assert_eq!(regions, 1, "the reply holds the request's region");
    assert!(bytes >= 4 << 20, "{bytes}");
    drop(back);
    for _ in 0..200 {
        if conn.shared_memory_lent() == Some((0, 0)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(conn.shared_memory_lent(), Some((0, 0)), "freed once the reply dropped");
}

/// `shared_array` fills the elements in the parent's arena: Python views them there, read-only,
/// and each call lends the same memory.
async fn filled_in_place() {
    let actor = Arrays::spawn(builder()).await.expect("spawn");
    let expected = matrix(1024, 1024);
    let mut placed = actor.shared_array::<f32, Ix2>(Ix2(1024, 1024));
    assert!(placed.in_shared_memory(), "{placed:?}");
    assert_eq!(placed.view().sum(), 0.0, "zeroed");
    placed.view_mut().assign(&expected);
    let placed = placed.freeze();
    let at = placed.view().as_ptr();
    assert!(in_a_memfd(at.cast()), "the elements lie in the arena");
    for _ in 0..2 {
        let seen = actor.inspect(placed.clone()).await.expect("inspect");
        assert_eq!(seen.shape, vec![1024, 1024]);
        assert_eq!(seen.sum, expected.iter().map(|&x| f64::from(x)).sum::<f64>());
        assert!(seen.in_shared_memory && seen.aligned && !seen.writeable, "{seen:?}");
        let back = actor.echo(placed.clone()).await.expect("echo");
        assert_eq!(back.view().as_ptr(), at, "lent and handed back: the same elements, never copied");
        assert_eq!(back.view(), expected.view());
    }
    drop(placed);

    // The low-level API's way to the same array: a message to the actor.
    let actor_ref = actor.actor_ref().expect("a spawned handle has a local actor");
    let mut placed = actor_ref.ask(snake::SharedArray::<f32, Ix2>::new(Ix2(1024, 1024))).await.expect("an array");
    assert!(placed.in_shared_memory() && placed.view().sum() == 0.0, "{placed:?}");
    placed.view_mut().assign(&expected);
    let placed = placed.freeze();
    let back = actor.echo(placed.clone()).await.expect("echo");
    assert_eq!(back.view().as_ptr(), placed.view().as_ptr(), "lent and handed back, never copied");
    assert_eq!(back.view(), expected.view());
    drop((back, placed));

    // Past the arena's limit, on the heap: the same values, copied when sent.
    let small = Arrays::spawn(builder().shared_memory_limit(1 << 20)).await.expect("spawn");
    let mut on_heap = small.shared_array::<f32, Ix2>(Ix2(1024, 1024));
    assert!(!on_heap.in_shared_memory(), "{on_heap:?}");
    on_heap.view_mut().assign(&expected);
    assert_eq!(small.echo(on_heap.freeze()).await.expect("echo").view(), expected.view());
}

async fn element_types() {
    let actor = Arrays::spawn(builder()).await.expect("spawn");
    let record = ArrayRecord {
        f32s: matrix(2, 2),
        f64s: ndarray::array![1.5, -2.25, 1e300].into(),
        i32s: ndarray::array![i32::MIN + 1, 0, 7].into(),
        i64s: ndarray::ArrayD::from_shape_vec(vec![2, 1, 2], vec![-5i64, 1 << 40, 3, 4]).expect("shape").into(),
        u8s: ndarray::array![0u8, 254].into(),
        flags: ndarray::array![true, false, false].into(),
    };
    let back = actor.echo_record(record.clone()).await.expect("echo_record");
    assert_eq!(back.f32s.into_inner(), record.f32s.mapv(|x| x + 1.0));
    assert_eq!(back.f64s.into_inner(), ndarray::array![2.5, -1.25, 1e300 + 1.0]);
    assert_eq!(back.i32s.into_inner(), ndarray::array![i32::MIN + 2, 1, 8]);
    assert_eq!(back.i64s.shape(), &[2, 1, 2]);
    assert_eq!(back.i64s.iter().copied().collect::<Vec<_>>(), vec![-4, (1 << 40) + 1, 4, 5]);
    assert_eq!(back.u8s.into_inner(), ndarray::array![1u8, 255]);
    assert_eq!(back.flags.into_inner(), ndarray::array![false, true, true]);
}

async fn non_contiguous() {
    let actor = Arrays::spawn(builder()).await.expect("spawn");
    let base = ndarray::Array::from_shape_fn((3, 4), |(r, c)| (r * 4 + c) as f32);
    assert_eq!(actor.make("right".into()).await.expect("right").into_inner(), base);
    assert_eq!(actor.make("transposed".into()).await.expect("transposed").into_inner(), base.t().to_owned());
    let strided = actor.make("strided".into()).await.expect("strided");
    assert_eq!(strided.into_inner(), ndarray::array![[0.0, 2.0], [4.0, 6.0], [8.0, 10.0]]);
}

async fn wrong_replies() {
    let actor = Arrays::spawn(builder()).await.expect("spawn");
    for (kind, got) in [
        ("float64", "float64 array of rank 2"),
        ("rank1", "float32 array of rank 1"),
        ("float64_rank1", "float64 array of rank 1"),
        ("list", "list"),
        ("none", "NoneType"),
    ] {
        let err = actor.make(kind.into()).await.expect_err(kind);
        let PythonExecutionError::Conversion { error: ref source, .. } = err else {
            panic!("{kind}: not a conversion error: {err:?}")
        };
        assert_eq!(source.path, "reply", "{kind}");
        assert_eq!(
            source.kind,
            snake::serde_py::ConversionErrorKind::TypeMismatch {
                expected: "float32 array of rank 2".into(),
                got: got.into()
            },
            "{kind}"
        );
    }
    let err = actor.make("float64_rank1".into()).await.expect_err("wrong");
    assert!(err.to_string().contains("reply: expected float32 array of rank 2, got float64 array of rank 1"), "{err}");
}

async fn untagged_and_flattened() {
    let actor = Arrays::spawn(builder()).await.expect("spawn");
    // 2 MiB: the tree crosses in shared memory.
    let m = matrix(512, 1024);
    let doubled: Array<f32, Ix2> = m.mapv(|x| x * 2.0).into();
    assert_eq!(actor.transform(Features::Dense(m)).await.expect("transform"), Features::Dense(doubled));
    let named = actor.transform(Features::Named("cat".into())).await.expect("transform");
    assert_eq!(named, Features::Named("CAT".into()));
    // A float64 array is no variant: not read as float32s.
    let err = actor.transform(Features::Named("float64".into())).await.expect_err("float64");
    let PythonExecutionError::Conversion { error: ref source, .. } = err else {
        panic!("not a conversion error: {err:?}")
    };
    assert!(source.to_string().contains("did not match any variant of untagged enum Features"), "{err}");
    let ids: Array<i64, Ix1> = ndarray::Array1::from_iter(0..10_000i64).into();
    let back = actor.relabel(Labeled { label: "ab".into(), rows: Rows { ids } }).await.expect("relabel");
    let reversed: Array<i64, Ix1> = ndarray::Array1::from_iter((0..10_000i64).rev()).into();
    assert_eq!(back, Labeled { label: "abab".into(), rows: Rows { ids: reversed } });
}

/// The stubs name `numpy.typing.NDArray[numpy.float32]` (etc.), and the fixture module, checked
/// against its generated protocol, passes `mypy --strict` and pyright with them.
async fn stubs() {
    let declarations = snake::schema::Declarations::collect();
    let actor = declarations.actors.iter().find(|a| a.name == "Arrays").expect("the Arrays actor is declared").clone();
    let files = snake::stubs::render(&declarations.registry, &[actor], &[]).expect("stubs render");
    let actors = &files["snake_actors.py"];
    assert!(actors.contains("import numpy.typing\n"), "{actors}");
    assert!(
        actors.contains(
            "def echo(self, request: numpy.typing.NDArray[numpy.float32], /) -> numpy.typing.NDArray[numpy.float32]:"
        ),
        "{actors}"
    );
    let types = &files["snake_types.py"];
    assert!(types.contains("    flags: numpy.typing.NDArray[numpy.bool_]\n"), "{types}");
    assert!(types.contains("    i64s: numpy.typing.NDArray[numpy.int64]\n"), "{types}");
    type_check_with_stubs(&files, "arrays.py");
}

/// A child whose `import numpy` fails refuses to start, before any call, with a typed error.
async fn without_numpy() {
    let hidden = python_dir().parent().expect("tests dir").join("python_no_numpy");
    let builder = PythonChildProcessBuilder::new(PythonConfig {
        module_path: hidden.display().to_string(),
        python_path: vec![python_dir().display().to_string()],
        ..Default::default()
    });
    let err = Arrays::spawn(builder).await.expect_err("no numpy, no spawn");
    let PythonExecutionError::NumpyUnavailable { exception } = &err else { panic!("not NumpyUnavailable: {err:?}") };
    assert_eq!(exception.type_name, "ImportError", "{err}");
    assert_eq!(exception.message, "numpy is hidden from this child by the test");
    assert!(
        err.to_string().starts_with("the messages carry numpy arrays, but importing numpy in the child raised"),
        "{err}"
    );
}

/// The low-level builder cannot see that its messages carry arrays: a child that cannot import
/// numpy starts, and the first call that carries one fails to convert. With `require_numpy`, the
/// spawn fails as the typed API's does.
async fn low_level_without_numpy() {
    let hidden = python_dir().parent().expect("tests dir").join("python_no_numpy");
    let builder = || {
        PythonChildProcessBuilder::new(PythonConfig {
            module_name: "handlers".into(),
            function_name: "echo".into(),
            module_path: hidden.display().to_string(),
            python_path: vec![python_dir().display().to_string()],
            ..Default::default()
        })
    };
    let err = builder().require_numpy(true).spawn::<Samples>().await.expect_err("numpy required, no spawn");
    let PythonExecutionError::NumpyUnavailable { exception } = &err else { panic!("not NumpyUnavailable: {err:?}") };
    assert_eq!(exception.type_name, "ImportError", "{err}");
    assert_eq!(exception.message, "numpy is hidden from this child by the test");

    let actor = builder().spawn::<Samples>().await.expect("without require_numpy the child starts");
    let samples = Samples { values: ndarray::Array1::from_vec(vec![1.0f32, 2.0]).into() };
    let err = handler_error(actor.ask(samples.clone()).await);
    let PythonExecutionError::Conversion { direction: snake::ConversionDirection::Request, error } = &err else {
        panic!("not a conversion error of the request: {err:?}")
    };
    assert_eq!(error.path, "request.values", "{err}");
    let snake::serde_py::ConversionErrorKind::Python { message } = &error.kind else { panic!("{err:?}") };
    assert_eq!(message, "ImportError: numpy is hidden from this child by the test");
    // The child keeps serving: the next such call fails the same way.
    let err = handler_error(actor.ask(samples).await);
    assert!(matches!(err, PythonExecutionError::Conversion { .. }), "{err:?}");
    actor.stop_gracefully().await.ok();
    actor.wait_for_shutdown().await;
}
