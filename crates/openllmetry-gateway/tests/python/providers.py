"""Calls Ollama, Mistral AI, Cohere, Gemini and Bedrock endpoints with their official Python
clients.

Input (JSON on stdin): {"sides": [<spec>, ...]}, each side called in turn, each spec
  {"ollama_host": "...", "mistral_server_url": "...", "cohere_base_url": "...",
   "gemini_base_url": "...", "bedrock_endpoint_url": "...", "mistral_key": "...",
   "cohere_key": "...", "gemini_key": "...", "aws_access_key_id": "...",
   "aws_secret_access_key": "...",
   "scenarios": [{"name": "...", "api": "ollama.chat" | "mistral.chat" | "cohere.chat" |
                  "gemini.generate_content" | "bedrock.converse",
                  "body": {...recorded request body...},
                  "model": "..." (Gemini, Bedrock: from the recorded URL),
                  "stream": true | false}]}

Every scenario calls the client with the recorded request body's parameters (the `stream`
flag picks the client's streaming method where the client has a separate one). Output (JSON on
stdout): one object per side, {name: {"result": <parsed response>} or {"events": [<parsed stream events>]},
plus "summary": what a span of the call should say (id, model, finish reasons as the semantic
conventions name them, token counts, output text), computed from the client's parsed objects
only}.
"""

import json
import os
import re
import sys

import boto3
import cohere
from botocore.config import Config as BotoConfig
import ollama
from google import genai
from google.genai import types as genai_types
from mistralai.client import Mistral

# Cohere v2 finish reasons as the GenAI semantic conventions name them.
COHERE_FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_call",
    "ERROR": "error",
}
OPENAI_FINISH = {"tool_calls": "tool_call", "function_call": "tool_call"}
# Gemini finish reasons as OpenLLMetry's google-generativeai instrumentation maps them.
GEMINI_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
                 "RECITATION": "content_filter", "OTHER": "error"}
# Bedrock Converse stop reasons as the GenAI semantic conventions name them.
BEDROCK_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                  "tool_use": "tool_call", "guardrail_intervened": "content_filter",
                  "content_filtered": "content_filter"}


def dump(obj):
    # (google-genai responses also carry the HTTP headers, which are not the parsed result.)
    return obj.model_dump(mode="json", exclude={"sdk_http_response"})


def empty_summary():
    return {"id": None, "model": None, "finish_reasons": [], "input_tokens": None,
            "output_tokens": None, "texts": []}


def ollama_summary(result=None, events=None):
    s = empty_summary()
    if result is not None:
        events = [result]
    text = ""
    for e in events:
        s["model"] = s["model"] or e.get("model")
        text += (e.get("message") or {}).get("content") or ""
        if e.get("done"):
            if e.get("done_reason"):
                s["finish_reasons"] = [e["done_reason"]]
            s["input_tokens"] = e.get("prompt_eval_count")
            s["output_tokens"] = e.get("eval_count")
    s["texts"] = [text] if text else []
    return s


def mistral_summary(result=None, events=None):
    """Mistral chat bodies and chunks have the OpenAI chat shape."""
    s = empty_summary()
    if result is not None:
        s["id"], s["model"] = result["id"], result["model"]
        for c in result["choices"]:
            if c.get("finish_reason"):
                s["finish_reasons"].append(OPENAI_FINISH.get(c["finish_reason"], c["finish_reason"]))
            if c["message"].get("content"):
                s["texts"].append(c["message"]["content"])
        usage = result.get("usage")
    else:
        texts, finish, usage = {}, {}, None
        for e in events:
            chunk = e["data"]
            s["id"] = s["id"] or chunk.get("id")
            s["model"] = s["model"] or chunk.get("model")
            usage = chunk.get("usage") or usage
            for c in chunk.get("choices") or []:
                i = c["index"]
                content = (c.get("delta") or {}).get("content")
                if isinstance(content, str) and content:
                    texts[i] = texts.get(i, "") + content
                if c.get("finish_reason"):
                    finish[i] = OPENAI_FINISH.get(c["finish_reason"], c["finish_reason"])
        s["texts"] = [texts[i] for i in sorted(texts)]
        s["finish_reasons"] = [finish[i] for i in sorted(finish)]
    if usage:
        s["input_tokens"] = usage.get("prompt_tokens")
        s["output_tokens"] = usage.get("completion_tokens")
    return s


def cohere_tokens(s, usage):
    """`billed_units` first, then `tokens` (what OpenLLMetry's Cohere instrumentation reports)."""
    usage = usage or {}
    for key in ("input_tokens", "output_tokens"):
        for group in ("billed_units", "tokens"):
            v = (usage.get(group) or {}).get(key)
            if v is not None:
                s[key] = int(v)
                break


def cohere_summary(result=None, events=None):
    s = empty_summary()
    if result is not None:
        s["id"] = result["id"]
        r = result.get("finish_reason")
        if r:
            s["finish_reasons"] = [COHERE_FINISH.get(r, r.lower())]
        for part in result["message"].get("content") or []:
            if part.get("type") == "text":
                s["texts"].append(part["text"])
        cohere_tokens(s, result.get("usage"))
        return s
    text = ""
    for e in events:
        t = e.get("type")
        if t == "message-start":
            s["id"] = e.get("id")
        elif t == "content-delta":
            text += ((e["delta"]["message"].get("content") or {}).get("text")) or ""
        elif t == "message-end":
            d = e.get("delta") or {}
            if d.get("finish_reason"):
                r = d["finish_reason"]
                s["finish_reasons"] = [COHERE_FINISH.get(r, r.lower())]
            cohere_tokens(s, d.get("usage"))
    s["texts"] = [text] if text else []
    return s


def gemini_summary(results):
    """One response, or the chunks of a stream (text concatenated, the last usage wins)."""
    s = empty_summary()
    text, parts, usage = "", [], None
    for r in results:
        s["id"] = s["id"] or r.get("response_id")
        s["model"] = s["model"] or r.get("model_version")
        usage = r.get("usage_metadata") or usage
        for c in r.get("candidates") or []:
            if c.get("finish_reason"):
                s["finish_reasons"] = [GEMINI_FINISH.get(c["finish_reason"], c["finish_reason"])]
            for p in (c.get("content") or {}).get("parts") or []:
                if p.get("text") and not p.get("thought"):
                    text += p["text"]
                    parts.append(p["text"])
    s["texts"] = parts if len(results) == 1 else ([text] if text else [])
    if usage:
        s["input_tokens"] = usage.get("prompt_token_count")
        s["output_tokens"] = usage.get("candidates_token_count")
    return s


def bedrock_summary(result=None, events=None):
    """Converse bodies carry no id or model; usage and stop reason, text blocks."""
    s = empty_summary()
    if result is not None:
        r = result.get("stopReason")
        if r:
            s["finish_reasons"] = [BEDROCK_FINISH.get(r, r)]
        for block in ((result.get("output") or {}).get("message") or {}).get("content") or []:
            if "text" in block:
                s["texts"].append(block["text"])
        usage = result.get("usage") or {}
    else:
        texts, usage = {}, {}
        for e in events:
            if "contentBlockDelta" in e:
                d = e["contentBlockDelta"]
                i = d.get("contentBlockIndex", 0)
                texts[i] = texts.get(i, "") + ((d.get("delta") or {}).get("text") or "")
            elif "messageStop" in e:
                r = e["messageStop"].get("stopReason")
                if r:
                    s["finish_reasons"] = [BEDROCK_FINISH.get(r, r)]
            elif "metadata" in e:
                usage = e["metadata"].get("usage") or usage
        s["texts"] = [texts[i] for i in sorted(texts) if texts[i]]
    s["input_tokens"] = usage.get("inputTokens")
    s["output_tokens"] = usage.get("outputTokens")
    return s


def snake(name):
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def gemini_config(body):
    """The recorded `generationConfig` and `systemInstruction` as the SDK's config."""
    config = {snake(k): v for k, v in (body.get("generationConfig") or {}).items()}
    if "systemInstruction" in body:
        config["system_instruction"] = body["systemInstruction"]
    return config or None


def run(spec):
    ol = ollama.Client(host=spec["ollama_host"], timeout=30)
    mi = Mistral(api_key=spec["mistral_key"], server_url=spec["mistral_server_url"],
                 timeout_ms=30000)
    co = cohere.ClientV2(api_key=spec["cohere_key"], base_url=spec["cohere_base_url"],
                         timeout=30)
    ge = genai.Client(vertexai=False, api_key=spec["gemini_key"], http_options=genai_types.HttpOptions(
        base_url=spec["gemini_base_url"], api_version="v1beta", timeout=30000))
    br = boto3.client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=spec["bedrock_endpoint_url"],
        aws_access_key_id=spec["aws_access_key_id"],
        aws_secret_access_key=spec["aws_secret_access_key"], aws_session_token=None,
        config=BotoConfig(retries={"max_attempts": 1}, read_timeout=30, connect_timeout=30))
    out = {}
    for sc in spec["scenarios"]:
        api, body = sc["api"], dict(sc["body"])
        stream = bool(body.get("stream"))
        if api == "ollama.chat":
            r = ol.chat(**body)
            if stream:
                events = [dump(e) for e in r]
                out[sc["name"]] = {"events": events, "summary": ollama_summary(events=events)}
            else:
                result = dump(r)
                out[sc["name"]] = {"result": result, "summary": ollama_summary(result=result)}
        elif api == "mistral.chat":
            body.pop("stream", None)
            if stream:
                events = [dump(e) for e in mi.chat.stream(**body)]
                out[sc["name"]] = {"events": events, "summary": mistral_summary(events=events)}
            else:
                result = dump(mi.chat.complete(**body))
                out[sc["name"]] = {"result": result, "summary": mistral_summary(result=result)}
        elif api == "cohere.chat":
            body.pop("stream", None)
            if stream:
                events = [dump(e) for e in co.chat_stream(**body)]
                out[sc["name"]] = {"events": events, "summary": cohere_summary(events=events)}
            else:
                result = dump(co.chat(**body))
                out[sc["name"]] = {"result": result, "summary": cohere_summary(result=result)}
        elif api == "gemini.generate_content":
            args = {"model": sc["model"], "contents": body["contents"],
                    "config": gemini_config(body)}
            if sc["stream"]:
                events = [dump(e) for e in ge.models.generate_content_stream(**args)]
                out[sc["name"]] = {"events": events, "summary": gemini_summary(events)}
            else:
                result = dump(ge.models.generate_content(**args))
                out[sc["name"]] = {"result": result, "summary": gemini_summary([result])}
        elif api == "bedrock.converse":
            if sc["stream"]:
                r = br.converse_stream(modelId=sc["model"], **body)
                events = list(r["stream"])
                out[sc["name"]] = {"events": events, "summary": bedrock_summary(events=events)}
            else:
                result = br.converse(modelId=sc["model"], **body)
                # (The HTTP metadata: request id, headers, retries; not the parsed result.)
                result.pop("ResponseMetadata", None)
                out[sc["name"]] = {"result": result, "summary": bedrock_summary(result=result)}
        else:
            raise SystemExit(f"unknown api {api}")
    return out


def isolate_environment():
    """Only the spec decides where the clients go and with which credentials: no proxy, no
    AWS profile or config file, no Vertex AI switch from the caller's environment."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                "all_proxy", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "GOOGLE_GENAI_USE_VERTEXAI",
                "OLLAMA_HOST"):
        os.environ.pop(var, None)
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"


def main():
    isolate_environment()
    # One process for every side (imports are the slow part of this script).
    json.dump([run(side) for side in json.load(sys.stdin)["sides"]], sys.stdout)


if __name__ == "__main__":
    main()
