//! Inputs every parser must survive, for the parsers' own tests (compiled for tests
//! only): the odd cases by name, and proptest strategies that mix a parser's own
//! vocabulary with arbitrary text, so random inputs reach past the first check.
//! A parser given any of these returns (an error is fine); it never panics, never
//! overflows the stack, and never takes more than linear-ish time.

use std::sync::OnceLock;

use proptest::prelude::*;

/// 100 MB of one repeated line (a long file), built once per test run.
pub(crate) fn huge() -> &'static [u8] {
    static HUGE: OnceLock<Vec<u8>> = OnceLock::new();
    HUGE.get_or_init(|| {
        let line =
            b"{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":\"sk-x\"} Host * = a:b:c:0:0::/ %41\n";
        line.iter().copied().cycle().take(100 << 20).collect()
    })
}

/// The odd inputs by name: empty, 100 MB, not UTF-8, a BOM, NUL bytes, duplicate
/// JSON keys, wrong JSON types, a very long line, deep nesting.
pub(crate) fn odd_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let deep_arrays = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes();
    let deep_objects = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)).into_bytes();
    vec![
        ("empty", Vec::new()),
        ("100 MB", huge().to_vec()),
        ("not UTF-8", b"\xff\xfe\x80 auth_mode \xc3\x28 Host \xe2\x82\n=\xf0\x90\x80".to_vec()),
        ("a BOM", b"\xef\xbb\xbf{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":\"sk-x\"}".to_vec()),
        ("NUL bytes", b"{\"auth_mode\":\"api\x00key\",\x00\"OPENAI_API_KEY\":\"sk\x00\"}\n\x00Host \x00\n".to_vec()),
        (
            "duplicate JSON keys",
            br#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-a","OPENAI_API_KEY":"sk-b","tokens":{"id_token":"x","id_token":"y"}}"#.to_vec(),
        ),
        (
            "wrong JSON types",
            br#"{"auth_mode":7,"OPENAI_API_KEY":["sk"],"tokens":"t","last_refresh":{},"personal_access_token":false}"#.to_vec(),
        ),
        ("wrong JSON types 2", br#"{"tokens":{"id_token":1,"access_token":null,"refresh_token":{},"account_id":[]}}"#.to_vec()),
        ("a very long line", vec![b'a'; 8 << 20]),
        ("a very long line of wildcards", b"*a".repeat(1 << 20)),
        ("deep nesting (arrays)", deep_arrays(100_000)),
        ("deep nesting (objects)", deep_objects(100_000)),
        ("deep nesting (TOML)", format!("a = {}", "[".repeat(100_000)).into_bytes()),
        ("deep nesting (TOML tables)", format!("a = {}", "{b = ".repeat(100_000)).into_bytes()),
        ("only newlines", b"\n\r\n\r\r\n".repeat(1000)),
        ("multi-byte spaces", "\u{3000}\u{a0}\u{2003}x\u{3000}".repeat(1000).into_bytes()),
    ]
}

/// The odd inputs as text, as a parser of `&str` gets them (not UTF-8 made lossy).
pub(crate) fn odd_texts() -> Vec<(&'static str, String)> {
    odd_inputs()
        .into_iter()
        .map(|(name, bytes)| (name, String::from_utf8_lossy(&bytes).into_owned()))
        .collect()
}

/// Text made of `vocabulary` words and arbitrary characters (any Unicode, controls,
/// multi-byte spaces), up to `max` pieces.
pub(crate) fn text_from(
    vocabulary: &'static [&'static str],
    max: usize,
) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(vocabulary).prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
        1 => proptest::sample::select(&[" ", "\n", "\t", "\r\n", "\u{3000}", "\u{a0}", "\0", "\u{feff}"][..])
            .prop_map(str::to_string),
    ];
    proptest::collection::vec(piece, 0..max).prop_map(|pieces| pieces.concat())
}

/// Arbitrary bytes, up to `max` long.
pub(crate) fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// The first `max` bytes of `text` or fewer, cut at a character boundary.
pub(crate) fn head(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The proptest settings for this crate: the default number of cases, and no
/// regression files (the project's top level is fixed; a case a property found is
/// kept as a named example in that parser's tests instead).
pub(crate) fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
