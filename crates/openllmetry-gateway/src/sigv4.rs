//! Re-signing of forwarded Amazon Bedrock requests (AWS Signature Version 4).
//!
//! A client signs for the host it talks to (the gateway), so its signature cannot be
//! forwarded: the gateway drops the client's `authorization`, `x-amz-date`,
//! `x-amz-security-token` and `x-amz-content-sha256` headers and signs the request again for
//! the upstream with its **own** credentials, using the maintained `aws-sigv4` crate.
//!
//! Credentials come from the environment part of the AWS standard chain:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN` (profiles,
//! SSO and instance metadata are not read: that needs `aws-config`, kept out of the build).
//! The region is `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the one in the upstream host
//! (`bedrock-runtime.<region>.amazonaws.com`), else `us-east-1`. The signing service name
//! is `bedrock`. Without credentials the gateway warns at startup and answers Bedrock
//! requests with 502 and a cause (it never forwards an unsigned request).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

/// The SigV4 service name of the Bedrock runtime.
pub const BEDROCK_SIGNING_NAME: &str = "bedrock";

/// Request headers of the client's own signature, never forwarded on a re-signed request.
pub const CLIENT_SIGNATURE_HEADERS: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// Headers covered by the gateway's signature (besides `host`, which the signer adds).
const SIGNED_HEADERS: &[&str] = &["content-type", "accept"];

/// The gateway's AWS signing identity.
#[derive(Clone)]
pub struct AwsSigner {
    credentials: Credentials,
    region: String,
}

impl std::fmt::Debug for AwsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("AwsSigner")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The region in a `bedrock-runtime.<region>.amazonaws.com` URL, if any.
pub fn region_of_url(url: &str) -> Option<String> {
    let host = reqwest::Url::parse(url).ok()?.host_str()?.to_owned();
    let rest = host.strip_prefix("bedrock-runtime.")?;
    let (region, tail) = rest.split_once('.')?;
    tail.starts_with("amazonaws.com").then(|| region.to_owned())
}

impl AwsSigner {
    /// A signer from explicit keys (tests and embedders).
    pub fn new(
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<String>,
        region: &str,
    ) -> Self {
        AwsSigner {
            credentials: Credentials::new(
                access_key_id,
                secret_access_key,
                session_token,
                None,
                "openllmetry-gateway",
            ),
            region: region.to_owned(),
        }
    }

    /// A signer from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`,
    /// or `None` when the keys are not set. See the [module docs](self) for the region.
    pub fn from_env(upstream: &str) -> Option<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let id = var("AWS_ACCESS_KEY_ID")?;
        let secret = var("AWS_SECRET_ACCESS_KEY")?;
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .or_else(|| region_of_url(upstream))
            .unwrap_or_else(|| "us-east-1".to_owned());
        Some(AwsSigner::new(
            &id,
            &secret,
            var("AWS_SESSION_TOKEN"),
            &region,
        ))
    }

    /// The signing region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Removes the client's signature headers from `req` and signs it for its URL with the
    /// gateway's credentials at `time`.
    pub fn sign(
        &self,
        req: &mut reqwest::Request,
        body: &[u8],
        time: SystemTime,
    ) -> Result<(), String> {
        for h in CLIENT_SIGNATURE_HEADERS {
            req.headers_mut().remove(*h);
        }
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(BEDROCK_SIGNING_NAME)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("signing parameters: {e}"))?
            .into();
        let url = req.url().to_string();
        let headers: Vec<(&str, &str)> = SIGNED_HEADERS
            .iter()
            .filter_map(|name| {
                let v = req.headers().get(*name)?.to_str().ok()?;
                Some((*name, v))
            })
            .collect();
        let signable = SignableRequest::new(
            req.method().as_str(),
            url.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("signable request: {e}"))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| format!("signing: {e}"))?
            .into_parts();
        let (headers, _params) = instructions.into_parts();
        for h in headers {
            let value = reqwest::header::HeaderValue::from_str(h.value())
                .map_err(|_| "signature header is not a valid header value".to_owned())?;
            req.headers_mut().insert(h.name(), value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_from_the_upstream_host() {
        assert_eq!(
            region_of_url("https://bedrock-runtime.eu-west-3.amazonaws.com").as_deref(),
            Some("eu-west-3")
        );
        assert_eq!(region_of_url("http://127.0.0.1:9"), None);
    }

    #[test]
    fn signing_replaces_the_client_signature() {
        let s = AwsSigner::new("AKIDEXAMPLE", "secret", Some("tok".into()), "us-east-1");
        let mut req = reqwest::Request::new(
            reqwest::Method::POST,
            "http://127.0.0.1:9/model/m/converse".parse().unwrap(),
        );
        req.headers_mut().insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=CLIENT/x".parse().unwrap(),
        );
        req.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        s.sign(&mut req, b"{}", SystemTime::now()).unwrap();
        let auth = req.headers()["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains("/us-east-1/bedrock/aws4_request"), "{auth}");
        assert!(!auth.contains("CLIENT"));
        assert_eq!(req.headers()["x-amz-security-token"], "tok");
        assert!(req.headers().contains_key("x-amz-date"));
        assert!(!format!("{s:?}").contains("secret"));
    }
}
