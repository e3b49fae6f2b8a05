//! Property tests over the bounded JSON skim (issue 10, item 6: past the observation budget a
//! body is skimmed, not kept). For arbitrary bytes and arbitrary chunkings the skim never
//! panics, its output stays within its bound, and the chunking never changes the result; for
//! JSON objects (compact, as clients send them) the output is exactly the members whose value is
//! small, as an independent oracle (serde_json on the whole body) computes them.

use openllmetry_core::skim::{MAX_SKIM_BYTES, MAX_SKIM_VALUE_BYTES, Skim, skim};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        // Strings with quotes, backslashes, brackets and non-ASCII text.
        "[\"\\\\{}\\[\\],:a-zé🙂 ]{0,40}".prop_map(Value::String),
        // Long strings around the value bound.
        (MAX_SKIM_VALUE_BYTES - 8..MAX_SKIM_VALUE_BYTES + 8)
            .prop_map(|n| Value::String("s".repeat(n))),
    ];
    leaf.prop_recursive(3, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z\"\\\\]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// At most 7 members, so even 7 values at the value bound fit the output bound.
fn object() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map("[a-z_\"\\\\é]{1,12}", json_value(), 0..7)
        .prop_map(|m| m.into_iter().collect())
}

fn chunked(body: &[u8], cuts: &[usize]) -> Option<Vec<u8>> {
    let mut s = Skim::new();
    let mut at = 0;
    for &cut in cuts {
        let cut = cut % (body.len() + 1);
        if cut > at {
            s.push(&body[at..cut]);
            at = cut;
        }
    }
    s.push(&body[at..]);
    s.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        object_start in any::<bool>(),
        // Bytes drawn mostly from JSON's structural characters, so the scanner's states are
        // all reached.
        tail in proptest::collection::vec(
            prop_oneof![any::<u8>(), proptest::sample::select(b"{}[]\",:\\ a1".to_vec())],
            0..1024,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let mut body = if object_start { b"{\"k\":".to_vec() } else { Vec::new() };
        body.extend_from_slice(&tail);
        let whole = skim(&body);
        if let Some(out) = &whole {
            prop_assert!(out.len() <= MAX_SKIM_BYTES + 1);
        }
        prop_assert_eq!(chunked(&body, &cuts), whole);
    }

    #[test]
    fn a_compact_object_keeps_exactly_its_small_members(
        members in object(),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let body = serde_json::to_vec(&Value::Object(members.clone())).unwrap();
        let out = chunked(&body, &cuts).expect("an object");
        let got: Value = serde_json::from_slice(&out).expect("the skim is valid JSON");
        let mut expected = Map::new();
        for (k, v) in &members {
            if serde_json::to_vec(v).unwrap().len() <= MAX_SKIM_VALUE_BYTES {
                expected.insert(k.clone(), v.clone());
            }
        }
        prop_assert_eq!(got, Value::Object(expected));
    }
}
