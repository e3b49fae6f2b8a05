//! Cost from the pydantic genai-prices table (MIT, vendored gzipped in `prices/`).
//!
//! The algorithm follows the table's schema (`data.schema.json`): a provider is found by its id or
//! its `provider_match` clause (falling back to the providers whose `model_match` accepts the
//! model), a model by its `match` clause (case-insensitive), a dated price by the last
//! `constraint` that is active at the request time, and a tiered price by the highest tier whose
//! `start` the *total* input tokens exceed (the "cliff" model: that rate applies to all tokens of
//! the type). Cached and reasoning tokens are subtracted from the input/output count only when the
//! model prices them separately, as the reference implementation does. A model the table does not
//! know has no cost (`None`), never zero.

use std::io::Read;

use serde_json::Value;

/// The vendored table, gzipped (pydantic/genai-prices, see `prices/SOURCE.md`).
const VENDORED_GZ: &[u8] = include_bytes!("../prices/data.json.gz");

/// Token usage of one LLM call, as the span reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// All input tokens, cached ones included.
    pub input_tokens: u64,
    /// Input tokens read from the provider's cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the provider's cache.
    pub cache_write_tokens: u64,
    /// All output tokens, reasoning ones included.
    pub output_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// A usage with input and output tokens only.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Usage {
            input_tokens,
            output_tokens,
            ..Usage::default()
        }
    }

    /// Sets the cache read and cache write counts.
    pub fn with_cache(mut self, read: u64, write: u64) -> Self {
        self.cache_read_tokens = read;
        self.cache_write_tokens = write;
        self
    }

    /// Sets the reasoning token count.
    pub fn with_reasoning(mut self, reasoning: u64) -> Self {
        self.reasoning_tokens = reasoning;
        self
    }
}

/// A computed cost in USD.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Cost {
    /// Price of the input side (uncached, cache read and cache write tokens).
    pub input: f64,
    /// Price of the output side (output and reasoning tokens).
    pub output: f64,
}

impl Cost {
    /// Input plus output.
    pub fn total(&self) -> f64 {
        self.input + self.output
    }
}

/// Errors loading a price table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriceError {
    /// The gzip stream could not be read.
    #[error("cannot read the price table: {0}")]
    Io(#[from] std::io::Error),
    /// The JSON is not a genai-prices table.
    #[error("not a genai-prices table: {0}")]
    Format(String),
}

/// The price table.
#[derive(Debug, Clone)]
pub struct PriceTable {
    providers: Vec<Value>,
}

impl PriceTable {
    /// The table vendored in this crate.
    pub fn vendored() -> Self {
        let mut json = Vec::new();
        // The vendored bytes are checked by a unit test; a broken build still yields an empty table.
        let ok = flate2::read::GzDecoder::new(VENDORED_GZ)
            .read_to_end(&mut json)
            .is_ok();
        if ok && let Ok(table) = PriceTable::from_json(&json) {
            return table;
        }
        PriceTable {
            providers: Vec::new(),
        }
    }

    /// Parses a genai-prices `data.json` (v2 feed): an array of providers.
    pub fn from_json(bytes: &[u8]) -> Result<Self, PriceError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| PriceError::Format(e.to_string()))?;
        match value {
            Value::Array(providers) if providers.iter().all(|p| p.get("models").is_some()) => {
                Ok(PriceTable { providers })
            }
            _ => Err(PriceError::Format(
                "expected an array of providers with models".into(),
            )),
        }
    }

    /// Number of providers in the table.
    pub fn provider_count(&self) -> usize {
        self.providers.len()
    }

    /// The cost of `usage` for `model` at `provider` (a `gen_ai.provider.name` or a table id),
    /// at the request time `unix_nanos`; `None` when the table does not know the model.
    pub fn cost(
        &self,
        provider: Option<&str>,
        model: &str,
        usage: &Usage,
        unix_nanos: u64,
    ) -> Option<Cost> {
        let model_entry = self.find_model(provider, model)?;
        let prices = active_prices(model_entry.get("prices")?, unix_nanos)?;
        Some(calc(prices, usage))
    }

    fn find_model(&self, provider: Option<&str>, model: &str) -> Option<&Value> {
        fn in_provider<'a>(p: &'a Value, model: &str) -> Option<&'a Value> {
            p.get("models")?
                .as_array()?
                .iter()
                .find(|m| m.get("match").is_some_and(|c| clause(c, model)))
        }
        if let Some(name) = provider.map(|p| p.trim()).filter(|p| !p.is_empty()) {
            let by_id = self
                .providers
                .iter()
                .find(|p| p.get("id").and_then(Value::as_str) == Some(name));
            let by_match = || {
                self.providers.iter().find(|p| {
                    p.get("provider_match")
                        .is_some_and(|c| !c.is_null() && clause(c, name))
                })
            };
            if let Some(p) = by_id.or_else(by_match)
                && let Some(m) = in_provider(p, model)
            {
                return Some(m);
            }
        }
        self.providers
            .iter()
            .filter(|p| {
                p.get("model_match")
                    .is_some_and(|c| !c.is_null() && clause(c, model))
            })
            .find_map(|p| in_provider(p, model))
    }
}

/// Evaluates a match clause (starts_with, ends_with, contains, equals, regex, or, and).
fn clause(c: &Value, text: &str) -> bool {
    let text_l = text.to_lowercase();
    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_lowercase);
    if let Some(v) = s("starts_with") {
        return text_l.starts_with(&v);
    }
    if let Some(v) = s("ends_with") {
        return text_l.ends_with(&v);
    }
    if let Some(v) = s("contains") {
        return text_l.contains(&v);
    }
    if let Some(v) = s("equals") {
        return text_l == v;
    }
    if let Some(pattern) = c.get("regex").and_then(Value::as_str) {
        return regex::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .build()
            .is_ok_and(|r| r.is_match(text));
    }
    if let Some(list) = c.get("or").and_then(Value::as_array) {
        return list.iter().any(|x| clause(x, text));
    }
    if let Some(list) = c.get("and").and_then(Value::as_array) {
        return list.iter().all(|x| clause(x, text));
    }
    false
}

/// The model price active at `unix_nanos`: the last conditional price whose constraint holds.
fn active_prices(prices: &Value, unix_nanos: u64) -> Option<&Value> {
    let Some(list) = prices.as_array() else {
        return Some(prices);
    };
    let secs = unix_nanos / 1_000_000_000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let date = format!("{y:04}-{m:02}-{d:02}");
    let tod = secs % 86_400;
    let time = format!("{:02}:{:02}:{:02}", tod / 3600, tod % 3600 / 60, tod % 60);
    for cp in list.iter().rev() {
        let active = match cp.get("constraint") {
            None | Some(Value::Null) => true,
            Some(c) => {
                if let Some(start) = c.get("start_date").and_then(Value::as_str) {
                    date.as_str() >= start
                } else if let (Some(a), Some(b)) = (
                    c.get("start_time").and_then(Value::as_str),
                    c.get("end_time").and_then(Value::as_str),
                ) {
                    let a = a.trim_end_matches('Z');
                    let b = b.trim_end_matches('Z');
                    a <= time.as_str() && time.as_str() < b
                } else {
                    false
                }
            }
        };
        if active {
            return cp.get("prices");
        }
    }
    list.first().and_then(|cp| cp.get("prices"))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Price per million tokens of one unit, honouring tiers by total input tokens.
fn unit_price(price: Option<&Value>, total_input: u64) -> Option<f64> {
    let price = price?;
    if let Some(p) = price.as_f64() {
        return Some(p);
    }
    let mut applicable = price.get("base")?.as_f64()?;
    if let Some(tiers) = price.get("tiers").and_then(Value::as_array) {
        for tier in tiers.iter().rev() {
            let start = tier
                .get("start")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX);
            if total_input > start {
                applicable = tier
                    .get("price")
                    .and_then(Value::as_f64)
                    .unwrap_or(applicable);
                break;
            }
        }
    }
    Some(applicable)
}

fn calc(prices: &Value, u: &Usage) -> Cost {
    let total_input = u.input_tokens;
    let p = |k: &str| unit_price(prices.get(k), total_input);
    let input_p = p("input_mtok");
    let cr = p("cache_read_mtok");
    let cw = p("cache_write_mtok");
    let out_p = p("output_mtok");
    let reason_p = p("output_reasoning_mtok");
    let mut uncached = u.input_tokens;
    let mut input = 0.0;
    if let Some(cr) = cr {
        uncached = uncached.saturating_sub(u.cache_read_tokens);
        input += cr * u.cache_read_tokens as f64;
    }
    if let Some(cw) = cw {
        uncached = uncached.saturating_sub(u.cache_write_tokens);
        input += cw * u.cache_write_tokens as f64;
    }
    input += input_p.unwrap_or(0.0) * uncached as f64;
    let mut out_tokens = u.output_tokens;
    let mut output = 0.0;
    if let Some(rp) = reason_p {
        out_tokens = out_tokens.saturating_sub(u.reasoning_tokens);
        output += rp * u.reasoning_tokens as f64;
    }
    output += out_p.unwrap_or(0.0) * out_tokens as f64;
    Cost {
        input: input / 1_000_000.0,
        output: output / 1_000_000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS_2026_01_01: u64 = 1_767_225_600_000_000_000;

    #[test]
    fn vendored_table_loads() {
        assert!(PriceTable::vendored().provider_count() >= 30);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn unknown_model_is_none_not_zero() {
        let t = PriceTable::vendored();
        assert_eq!(
            t.cost(
                Some("openai"),
                "no-such-model-xyz",
                &Usage::new(10, 10),
                NS_2026_01_01
            ),
            None
        );
    }

    #[test]
    fn tiers_apply_to_all_tokens_above_the_threshold() {
        // A hand-made table in the schema's shape: base 1, tier price 2 above 100 input tokens.
        let table = PriceTable::from_json(
            br#"[{"id":"p","models":[{"id":"m","match":{"equals":"m"},
            "prices":{"input_mtok":{"base":1,"tiers":[{"start":100,"price":2}]},"output_mtok":10}}]}]"#,
        )
        .unwrap();
        let below = table.cost(Some("p"), "M", &Usage::new(100, 0), 0).unwrap();
        assert!((below.input - 100.0 / 1e6).abs() < 1e-12);
        let above = table.cost(Some("p"), "m", &Usage::new(101, 1), 0).unwrap();
        assert!((above.input - 202.0 / 1e6).abs() < 1e-12);
        assert!((above.output - 10.0 / 1e6).abs() < 1e-12);
    }

    #[test]
    fn dated_and_time_of_day_prices() {
        let table = PriceTable::from_json(
            br#"[{"id":"p","models":[{"id":"m","match":{"equals":"m"},"prices":[
            {"prices":{"input_mtok":1}},
            {"constraint":{"start_date":"2026-01-01"},"prices":{"input_mtok":3}},
            {"constraint":{"start_time":"00:30:00Z","end_time":"01:00:00Z"},"prices":{"input_mtok":7}}]}]}]"#,
        )
        .unwrap();
        let u = Usage::new(1_000_000, 0);
        let day = 86_400 * 1_000_000_000u64;
        assert_eq!(
            table
                .cost(Some("p"), "m", &u, NS_2026_01_01 - day)
                .unwrap()
                .input,
            1.0
        );
        assert_eq!(
            table.cost(Some("p"), "m", &u, NS_2026_01_01).unwrap().input,
            3.0
        );
        let half_past = NS_2026_01_01 + 40 * 60 * 1_000_000_000;
        assert_eq!(
            table.cost(Some("p"), "m", &u, half_past).unwrap().input,
            7.0
        );
    }

    #[test]
    fn cache_tokens_priced_separately_only_when_the_model_prices_them() {
        let table = PriceTable::from_json(
            br#"[{"id":"p","models":[
            {"id":"a","match":{"equals":"a"},"prices":{"input_mtok":1,"cache_read_mtok":0.1,"cache_write_mtok":2}},
            {"id":"b","match":{"equals":"b"},"prices":{"input_mtok":1}}]}]"#,
        )
        .unwrap();
        let u = Usage::new(1_000_000, 0).with_cache(500_000, 100_000);
        let a = table.cost(Some("p"), "a", &u, 0).unwrap();
        assert!((a.input - (0.4 + 0.05 + 0.2)).abs() < 1e-9);
        let b = table.cost(Some("p"), "b", &u, 0).unwrap();
        assert!((b.input - 1.0).abs() < 1e-9);
    }
}
