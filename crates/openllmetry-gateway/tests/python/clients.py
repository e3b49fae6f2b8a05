"""Calls an OpenAI-compatible / Anthropic endpoint with the official Python clients.

Input (JSON on stdin):
  {"openai_base_url": "...", "anthropic_base_url": "...", "openai_key": "...",
   "anthropic_key": "...", "headers": {...},
   "scenarios": [{"name": "...", "api": "openai.chat" | "openai.embeddings" |
                  "anthropic.messages", "body": {...recorded request body...}}]}

Every scenario calls the client with the recorded request body's parameters. Output (JSON on
stdout): {name: {"result": <parsed response>} or {"events": [<parsed stream events>]},
plus "summary": what a span of the call should say (id, model, finish reasons, token counts,
output text, tool names), computed from the client's parsed objects only}.
"""

import json
import sys

import anthropic
import openai

ANTHROPIC_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_call",
    "max_tokens": "length",
}
OPENAI_FINISH = {"tool_calls": "tool_call", "function_call": "tool_call"}


def openai_chat_summary(result=None, events=None):
    s = {"id": None, "model": None, "finish_reasons": [], "input_tokens": None,
         "output_tokens": None, "texts": [], "tools": []}
    if result is not None:
        s["id"], s["model"] = result["id"], result["model"]
        for c in result["choices"]:
            if c["finish_reason"]:
                s["finish_reasons"].append(OPENAI_FINISH.get(c["finish_reason"], c["finish_reason"]))
            m = c["message"]
            if m.get("content"):
                s["texts"].append(m["content"])
            for tc in m.get("tool_calls") or []:
                s["tools"].append(tc["function"]["name"])
        usage = result.get("usage")
    else:
        texts, finish, usage = {}, {}, None
        for e in events:
            s["id"] = s["id"] or e.get("id")
            s["model"] = s["model"] or e.get("model")
            usage = e.get("usage") or usage
            for c in e.get("choices") or []:
                i = c["index"]
                d = c.get("delta") or {}
                if d.get("content"):
                    texts[i] = texts.get(i, "") + d["content"]
                for tc in d.get("tool_calls") or []:
                    name = (tc.get("function") or {}).get("name")
                    if name:
                        s["tools"].append(name)
                if c.get("finish_reason"):
                    finish[i] = OPENAI_FINISH.get(c["finish_reason"], c["finish_reason"])
        s["texts"] = [texts[i] for i in sorted(texts)]
        s["finish_reasons"] = [finish[i] for i in sorted(finish)]
    if usage:
        s["input_tokens"] = usage.get("prompt_tokens")
        s["output_tokens"] = usage.get("completion_tokens")
    return s


def openai_embeddings_summary(result):
    usage = result.get("usage") or {}
    return {"id": None, "model": result["model"], "finish_reasons": [],
            "input_tokens": usage.get("prompt_tokens"), "output_tokens": None,
            "texts": [], "tools": []}


def anthropic_input_tokens(usage):
    if not usage or usage.get("input_tokens") is None:
        return None
    return (usage["input_tokens"] + (usage.get("cache_read_input_tokens") or 0)
            + (usage.get("cache_creation_input_tokens") or 0))


def anthropic_summary(result=None, events=None):
    s = {"id": None, "model": None, "finish_reasons": [], "input_tokens": None,
         "output_tokens": None, "texts": [], "tools": [], "thinking": []}
    if result is not None:
        s["id"], s["model"] = result["id"], result["model"]
        if result.get("stop_reason"):
            s["finish_reasons"] = [ANTHROPIC_FINISH.get(result["stop_reason"], result["stop_reason"])]
        for b in result["content"]:
            if b["type"] == "text":
                s["texts"].append(b["text"])
            elif b["type"] == "tool_use":
                s["tools"].append(b["name"])
            elif b["type"] == "thinking":
                s["thinking"].append(b["thinking"])
        s["input_tokens"] = anthropic_input_tokens(result.get("usage"))
        s["output_tokens"] = (result.get("usage") or {}).get("output_tokens")
        return s
    blocks = {}
    for e in events:
        t = e["type"]
        if t == "message_start":
            m = e["message"]
            s["id"], s["model"] = m["id"], m["model"]
            s["input_tokens"] = anthropic_input_tokens(m.get("usage"))
            s["output_tokens"] = (m.get("usage") or {}).get("output_tokens")
        elif t == "content_block_start":
            b = e["content_block"]
            blocks[e["index"]] = {"type": b["type"], "text": b.get("text") or b.get("thinking") or ""}
            if b["type"] == "tool_use":
                s["tools"].append(b["name"])
        elif t == "content_block_delta":
            d = e["delta"]
            if d["type"] == "text_delta":
                blocks[e["index"]]["text"] += d["text"]
            elif d["type"] == "thinking_delta":
                blocks[e["index"]]["text"] += d["thinking"]
        elif t == "message_delta":
            if e["delta"].get("stop_reason"):
                r = e["delta"]["stop_reason"]
                s["finish_reasons"] = [ANTHROPIC_FINISH.get(r, r)]
            u = e.get("usage") or {}
            if u.get("output_tokens") is not None:
                s["output_tokens"] = u["output_tokens"]
            if u.get("input_tokens") is not None:
                s["input_tokens"] = anthropic_input_tokens(u)
    for i in sorted(blocks):
        b = blocks[i]
        if b["type"] == "text":
            s["texts"].append(b["text"])
        elif b["type"] == "thinking":
            s["thinking"].append(b["text"])
    return s


def main():
    spec = json.load(sys.stdin)
    headers = spec.get("headers") or {}
    oa = openai.OpenAI(base_url=spec["openai_base_url"], api_key=spec["openai_key"],
                       max_retries=0, timeout=30, default_headers=headers)
    an = anthropic.Anthropic(base_url=spec["anthropic_base_url"], api_key=spec["anthropic_key"],
                             max_retries=0, timeout=30, default_headers=headers)
    out = {}
    for sc in spec["scenarios"]:
        api, body = sc["api"], sc["body"]
        stream = bool(body.get("stream"))
        if api == "openai.chat":
            r = oa.chat.completions.create(**body)
        elif api == "openai.embeddings":
            r = oa.embeddings.create(**body)
        elif api == "anthropic.messages":
            r = an.messages.create(**body)
        else:
            raise SystemExit(f"unknown api {api}")
        if stream:
            events = [e.model_dump(mode="json") for e in r]
            if api == "openai.chat":
                summary = openai_chat_summary(events=events)
            else:
                summary = anthropic_summary(events=events)
            out[sc["name"]] = {"events": events, "summary": summary}
        else:
            result = r.model_dump(mode="json")
            if api == "openai.chat":
                summary = openai_chat_summary(result=result)
            elif api == "openai.embeddings":
                summary = openai_embeddings_summary(result)
            else:
                summary = anthropic_summary(result=result)
            out[sc["name"]] = {"result": result, "summary": summary}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
