use aws_sdk_bedrockruntime::config::{BehaviorVersion, HttpClient, Region};

/// A Bedrock runtime client whose calls are recorded. `http_client` is the HTTP client the SDK
/// would use anyway, e.g. `aws_smithy_http_client::Builder::new().tls_provider(...).build_https()`.
pub fn bedrock_client(http_client: impl HttpClient + 'static) -> aws_sdk_bedrockruntime::Client {
    let config = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        // Record with what `openllmetry::init` set up (or `OpenLlmHttpClient::with_instrumentation`).
        .http_client(openllmetry_aws::instrument(http_client))
        .build();
    aws_sdk_bedrockruntime::Client::from_conf(config)
}
