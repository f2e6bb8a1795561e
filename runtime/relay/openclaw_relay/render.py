"""Alertmanager payload -> robot message text, in Chinese or English."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import PayloadError

__all__ = ["Message", "parse_payload", "render"]

# Robot limits: WeCom markdown/text content 4096 bytes; DingTalk allows more,
# the same cap keeps messages readable on a phone.
MAX_BYTES = 4000

_TEXT = {
    "zh": {
        "firing": "告警",
        "resolved": "已恢复",
        "severity": "级别",
        "instance": "实例",
        "summary": "摘要",
        "description": "详情",
        "starts": "开始时间",
        "ends": "恢复时间",
        "runbook": "处理手册",
        "more": "另有 {n} 条未显示",
    },
    "en": {
        "firing": "FIRING",
        "resolved": "RESOLVED",
        "severity": "severity",
        "instance": "instance",
        "summary": "summary",
        "description": "description",
        "starts": "started",
        "ends": "resolved at",
        "runbook": "runbook",
        "more": "{n} more not shown",
    },
}


@dataclass(frozen=True)
class Message:
    """A rendered notification: a short title and markdown and plain-text bodies."""

    title: str
    markdown: str
    text: str


def parse_payload(doc: object) -> tuple[str, list[dict]]:
    """Return (status, alerts) of an Alertmanager webhook payload, or raise PayloadError."""
    if not isinstance(doc, dict) or not isinstance(doc.get("alerts"), list):
        raise PayloadError("expected Alertmanager's webhook JSON: an object with an 'alerts' list")
    status = doc.get("status")
    if status not in ("firing", "resolved"):
        raise PayloadError(f"payload status {status!r}: expected 'firing' or 'resolved'")
    alerts = [a for a in doc["alerts"] if isinstance(a, dict)]
    if not alerts:
        raise PayloadError("the payload has no alerts")
    return status, alerts


def _alert_lines(alert: dict, t: dict[str, str], markdown: bool) -> list[str]:
    labels = alert.get("labels") or {}
    notes = alert.get("annotations") or {}
    bold = "**" if markdown else ""
    state = t["resolved"] if alert.get("status") == "resolved" else t["firing"]
    head = f"{labels.get('alertname', '?')} [{state}]"
    lines = [f"{'#### ' if markdown else ''}{head}"]
    fields = [
        (t["severity"], labels.get("severity")),
        (t["instance"], labels.get("instance") or labels.get("host")),
        (t["summary"], notes.get("summary")),
        (t["description"], notes.get("description")),
        (t["starts"], alert.get("startsAt")),
    ]
    if alert.get("status") == "resolved":
        fields.append((t["ends"], alert.get("endsAt")))
    lines += [f"- {bold}{k}{bold}: {v}" for k, v in fields if v]
    if notes.get("runbook_url"):
        link = notes["runbook_url"]
        lines.append(
            f"- {bold}{t['runbook']}{bold}: " + (f"[{link}]({link})" if markdown else link)
        )
    return lines


def _fit(head: list[str], blocks: list[list[str]], more: str) -> str:
    # Whole alerts only: a message cut in the middle of one would mislead.
    out, used = list(head), len("\n".join(head).encode())
    for i, block in enumerate(blocks):
        text = "\n".join(["", *block])
        if used + len(text.encode()) > MAX_BYTES - 64 and i > 0:
            out += ["", more.format(n=len(blocks) - i)]
            break
        out.append(text)
        used += len(text.encode())
    return "\n".join(out)


def render(doc: object, language: str) -> Message:
    """Render one Alertmanager notification (a group of alerts) for a robot."""
    status, alerts = parse_payload(doc)
    t = _TEXT[language]
    common = doc.get("commonLabels") or {}
    name = common.get("alertname") or alerts[0].get("labels", {}).get("alertname", "?")
    severity = common.get("severity", "")
    firing = sum(1 for a in alerts if a.get("status") != "resolved")
    word = t["resolved"] if status == "resolved" else t["firing"]
    count = len(alerts) if status == "resolved" else firing
    title = f"[{word}:{count}] {name}" + (f" ({severity})" if severity else "")
    md = _fit([f"### {title}"], [_alert_lines(a, t, True) for a in alerts], t["more"])
    text = _fit([title], [_alert_lines(a, t, False) for a in alerts], t["more"])
    return Message(title=title, markdown=md, text=text)
