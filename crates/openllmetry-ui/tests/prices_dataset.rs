//! Our cost computation agrees with the genai-prices reference dataset (vendored slice).

use openllmetry_ui::prices::{PriceTable, Usage};
use serde_json::Value;

/// 2025-11-06T12:00:00Z, the request time the reference dataset was computed at.
const DATASET_TIME_NS: u64 = 1_762_430_400_000_000_000;

#[test]
fn costs_agree_with_the_reference_dataset() {
    let data: Vec<Value> =
        serde_json::from_str(include_str!("data/genai-prices-usages-slice.json")).unwrap();
    assert!(data.len() >= 100, "slice too small: {}", data.len());
    let table = PriceTable::vendored();
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for e in &data {
        let u = &e["usage"];
        let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
        let usage = Usage::new(n("input_tokens"), n("output_tokens"))
            .with_cache(n("cache_read_tokens"), n("cache_write_tokens"));
        let model = e["model"].as_str().unwrap();
        let provider = e["provider_id"].as_str().unwrap();
        let expected_in: f64 = e["input_price"].as_str().unwrap().parse().unwrap();
        let expected_out: f64 = e["output_price"].as_str().unwrap().parse().unwrap();
        let Some(cost) = table.cost(Some(provider), model, &usage, DATASET_TIME_NS) else {
            mismatches.push(format!("{provider}/{model}: unknown"));
            continue;
        };
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 + 1e-9 * b.abs();
        if !close(cost.input, expected_in) || !close(cost.output, expected_out) {
            mismatches.push(format!(
                "{provider}/{model} {u}: got {}/{} expected {expected_in}/{expected_out}",
                cost.input, cost.output
            ));
        }
        checked += 1;
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} disagree:\n{}",
        mismatches.len(),
        data.len(),
        mismatches.join("\n")
    );
    assert_eq!(checked, data.len());
}
