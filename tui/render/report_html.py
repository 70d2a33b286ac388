"""Provides `render_html`: the report as ONE self-contained HTML file (inline CSS and SVG, no fetches).

Rendered with Jinja2 autoescaping so account names, deal titles and objection text (which come
from imports and mail) can never inject markup; nothing is loaded from the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from jinja2 import Environment

from rapport.store.reports.figures import Report
from rapport.tui.render.report_text import (
    ACTIVITY_FIELDS,
    KEY_OVERVIEW_HEADERS,
    activity_total,
    amount_text,
    base_text,
    closed_text,
    day_of,
    due_text,
    headlines,
    hours,
    key_account_summary,
    key_overview_row,
    moment_text,
    money,
    not_converted_column,
    open_pipeline_text,
    period_title,
    rates_text,
    safe_report,
    scope_text,
    stale_title,
    waits_text,
)

_BAR_AREA = 360  # px of the widest bar
_LABEL_W = 180
_ROW_H = 24


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    weighted: Decimal
    y: int
    value_w: float
    weighted_w: float


_LABEL_CHARS = 26  # what the label column holds at 12px; the table under the chart has it whole


def _bars(items: list[tuple[str, Decimal, Decimal]]) -> tuple[list[Bar], int]:
    """Bars scaled to the largest value, with their y offsets, and the chart's height."""
    top = float(max((v for _, v, _ in items), default=0)) or 1.0
    bars = [
        Bar(_short(label), value, weighted, i * _ROW_H, _BAR_AREA * float(value) / top,
            _BAR_AREA * float(weighted) / top)  # pixels: floats are fine here
        for i, (label, value, weighted) in enumerate(items)
    ]
    return bars, max(len(items), 1) * _ROW_H


def _short(label: str) -> str:
    # A long stage name would run into its bar.
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rapport report: {{ title }}</title>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
         max-width: 60rem; padding: 0 1rem; color: #1d2733; background: #fff; }
  h1 { font-size: 1.6rem; margin-bottom: .2rem; }
  h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d5dbe3; padding-bottom: .2rem; }
  .meta { color: #5b6775; margin-top: 0; }
  table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .92rem; }
  th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #e7ebf0; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  th { background: #f3f5f8; }
  tr.total td { font-weight: 600; border-top: 2px solid #c9d1db; }
  tr.closed-stage td { color: #5b6775; }
  td.overdue { color: #b3261e; font-weight: 600; }
  .glance { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr));
            gap: .6rem; margin: 1rem 0 .5rem; }
  .card { border: 1px solid #d5dbe3; border-radius: 6px; padding: .5rem .75rem; }
  .card .label { color: #5b6775; font-size: .85rem; }
  .card .figure { font-size: 1.35rem; font-weight: 650; font-variant-numeric: tabular-nums; }
  .card .detail { color: #5b6775; font-size: .85rem; }
  svg { max-width: 100%; height: auto; }
  .none { color: #7a8694; font-style: italic; }
  h3 { font-size: 1.05rem; margin: 1.4rem 0 .2rem; }
  section.key-account { border-left: 3px solid #2f6db3; padding-left: .9rem; margin-top: 1.2rem; }
  section.key-account h3 { margin-top: 0; padding-top: .2rem; }
  caption { text-align: left; font-weight: 600; padding: .3rem 0; }
  svg text { font: 12px system-ui, sans-serif; fill: #1d2733; }
  .bar-value { fill: #b9d3f0; }
  .bar-weighted { fill: #2f6db3; }
  .legend span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 1rem;
                 vertical-align: middle; }
  @media print {
    body { margin: 0; max-width: none; }
    h2, h3, caption { break-after: avoid; }
    tr, .card, svg { break-inside: avoid; }
  }
</style>
</head>
<body>
<h1>Rapport report: {{ title }}</h1>
<p class="meta">{{ scope }}</p>

<div class="glance" id="glance">
{%- for h in glance %}
<div class="card"><div class="label">{{ h.label }}</div><div class="figure">{{ h.figure }}</div>
<div class="detail">{{ h.detail }}</div></div>
{%- endfor %}
</div>

{% macro chart(id, bars, height) -%}
<svg id="{{ id }}" xmlns="http://www.w3.org/2000/svg" width="{{ width }}" height="{{ height }}"
     viewBox="0 0 {{ width }} {{ height }}" role="img">
{%- for b in bars %}
  <g transform="translate(0 {{ b.y }})">
    <text x="0" y="16">{{ b.label }}</text>
    <rect class="bar-value" x="{{ label_w }}" y="3" width="{{ '%.1f' % b.value_w }}" height="18"></rect>
    <rect class="bar-weighted" x="{{ label_w }}" y="8" width="{{ '%.1f' % b.weighted_w }}" height="8"></rect>
    <text x="{{ label_w + b.value_w + 6 }}" y="16">{{ money(b.value) }} / {{ money(b.weighted) }}</text>
  </g>
{%- endfor %}
</svg>
<p class="legend"><span class="bar-value" style="background:#b9d3f0"></span>value
<span style="background:#2f6db3"></span>weighted</p>
{%- endmacro %}

{% macro empty(rows) %}{% if not rows %}<p class="none">None.</p>{% endif %}{% endmacro %}

{#- Open objections or complaints: the report's list (with the account), a key account's. #}
{%- macro open_items(id, noun, items) -%}
{{ empty(items) }}
{% if items %}
<table id="{{ id }}">
<tr><th>Account</th><th>Raised</th><th>{{ noun }}</th><th class="num">Age (days)</th></tr>
{%- for o in items %}
<tr><td>{{ o.account }}</td><td>{{ day_of(o.date_utc) }}</td><td>{{ o.subject }}</td>
<td class="num">{{ o.age_days }}</td></tr>
{%- endfor %}
</table>
{% endif %}
{%- endmacro %}

{%- macro key_open_items(class, noun, items) -%}
{%- if items %}
<table class="{{ class }}">
<caption>Open {{ noun.lower() }}s</caption>
<tr><th>Raised</th><th>{{ noun }}</th><th class="num">Age (days)</th></tr>
{%- for o in items %}
<tr><td>{{ day_of(o.date_utc) }}</td><td>{{ o.subject }}</td><td class="num">{{ o.age_days }}</td></tr>
{%- endfor %}
</table>
{%- endif %}
{%- endmacro %}

<h2 id="pipeline">Pipeline by stage</h2>
{{ chart("chart-stages", stage_bars, stage_h) }}
<table id="stages">
<tr><th>Stage</th><th class="num">Deals</th><th class="num">Value ({{ base }})</th><th class="num">Weighted ({{ base }})</th>
{%- if extra %}<th class="num">Not converted</th>{% endif %}</tr>
{%- for s in r.stages %}
<tr{% if s.kind != "open" %} class="closed-stage"{% endif %}><td>{{ s.stage }}</td><td class="num">{{ s.deals }}</td><td class="num">{{ money(s.value) }}</td>
<td class="num">{{ money(s.weighted) }}</td>{% if extra %}<td class="num">{{ s.not_converted }}</td>{% endif %}</tr>
{%- endfor %}
</table>
<p>{{ open_pipeline }}</p>

<h2 id="currencies">Currencies</h2>
<p>Values are in {{ base }}, the base currency. Rates used (value of one unit in {{ base }}):
{{ rates }}.</p>
<p>Not converted (no rate for their currency; in no total):</p>
{{ empty(r.not_converted) }}
{% if r.not_converted %}
<table id="not-converted">
<tr><th>Account</th><th>Deal</th><th>Stage</th><th class="num">Value</th></tr>
{%- for d in r.not_converted %}
<tr><td>{{ d.account }}</td><td>{{ d.title }}</td><td>{{ d.stage }}</td>
<td class="num">{{ amount_text(d.value, d.currency) }}</td></tr>
{%- endfor %}
</table>
{% endif %}

<h2 id="won-lost">Won and lost in the period</h2>
<p>{{ closed }}</p>
{% if r.won or r.lost %}
<table id="closed">
<tr><th>Result</th><th>Account</th><th>Deal</th><th class="num">Value</th><th class="num">In {{ base }}</th><th>Closed</th></tr>
{%- for result, deals in (("won", r.won), ("lost", r.lost)) %}{% for d in deals %}
<tr><td>{{ result }}</td><td>{{ d.account }}</td><td>{{ d.title }}</td>
<td class="num">{{ amount_text(d.value, d.currency) }}</td><td class="num">{{ base_text(d.base_value, base) }}</td><td>{{ day_of(d.closed_utc) }}</td></tr>
{%- endfor %}{% endfor %}
</table>
{% endif %}

<h2 id="lost-reasons">Lost reasons</h2>
{{ empty(r.lost_reasons) }}
{% if r.lost_reasons %}
<table id="lost-reasons-table">
<tr><th>Reason</th><th class="num">Deals</th><th class="num">Value ({{ base }})</th></tr>
{%- for l in r.lost_reasons %}
<tr><td>{{ l.reason }}</td><td class="num">{{ l.deals }}</td><td class="num">{{ money(l.value) }}</td></tr>
{%- endfor %}
</table>
{% endif %}

<h2 id="forecast">Forecast of expected closes</h2>
{% if r.forecast %}{{ chart("chart-forecast", forecast_bars, forecast_h) }}{% endif %}
{{ empty(r.forecast) }}
{% if r.forecast %}
<table id="forecast-table">
<tr><th>Month</th><th class="num">Deals</th><th class="num">Value ({{ base }})</th><th class="num">Weighted ({{ base }})</th>
{%- if extra %}<th class="num">Not converted</th>{% endif %}</tr>
{%- for f in r.forecast %}
<tr><td>{{ f.month }}</td><td class="num">{{ f.deals }}</td><td class="num">{{ money(f.value) }}</td>
<td class="num">{{ money(f.weighted) }}</td>{% if extra %}<td class="num">{{ f.not_converted }}</td>{% endif %}</tr>
{%- endfor %}
</table>
{% endif %}

<h2 id="activity">Activity per account</h2>
{{ empty(r.activity) }}
{% if r.activity %}
<table id="activity-table">
<tr><th>Account</th><th class="num">Mails in</th><th class="num">Mails out</th><th class="num">Calls</th>
<th class="num">Meetings</th><th class="num">Notes</th></tr>
{%- for a in activity_rows %}
<tr{% if loop.last %} class="total"{% endif %}><td>{{ a.account }}</td>
{%- for f in activity_fields %}<td class="num">{{ a[f] }}</td>{% endfor %}</tr>
{%- endfor %}
</table>
{% endif %}

<h2 id="first-response">First response to client mail</h2>
<p>Median first response: <strong>{{ hours(r.first_response.median_hours) }}</strong>
({{ waits_text(r.first_response) }}).</p>

<h2 id="objections">Open objections</h2>
{{ open_items("objections-table", "Objection", r.open_objections) }}

<h2 id="complaints">Open complaints</h2>
{{ open_items("complaints-table", "Complaint", r.open_complaints) }}

<h2 id="stale">{{ stale_title }}</h2>
{{ empty(r.stale_accounts) }}
{% if r.stale_accounts %}
<table id="stale-table">
<tr><th>Account</th><th>Last contact</th><th class="num">Days since</th></tr>
{%- for s in r.stale_accounts %}
<tr><td>{{ s.account }}</td><td>{{ day_of(s.last_contact_utc) }}</td>
<td class="num">{{ "never" if s.days_since is none else s.days_since }}</td></tr>
{%- endfor %}
</table>
{% endif %}

<h2 id="key-accounts">Key accounts</h2>
{{ empty(r.key_accounts) }}
{%- if r.key_accounts %}
<table id="key-overview">
<tr>{% for h in key_headers %}<th{% if not loop.first and h != "Last contact" %} class="num"{% endif %}>{{ h }}</th>{% endfor %}</tr>
{%- for k in r.key_accounts %}
<tr>{% for cell in key_row(k, base) %}<td{% if not loop.first and loop.index != 5 %} class="num"{% endif %}>{{ cell }}</td>{% endfor %}</tr>
{%- endfor %}
</table>
{%- endif %}
{%- for k in r.key_accounts %}
<section class="key-account" id="key-account-{{ k.account_id }}">
<h3>{{ k.account }}</h3>
<p>{{ key_account_summary(k, base) }}</p>
{%- if k.open_deals %}
<table class="key-deals">
<caption>Open deals</caption>
<tr><th>Deal</th><th>Stage</th><th class="num">Value</th><th>Next action</th><th>Due</th></tr>
{%- for d in k.open_deals %}
<tr><td>{{ d.title }}</td><td>{{ d.stage }}</td><td class="num">{{ amount_text(d.value, d.currency) }}</td>
<td>{{ d.next_action or "none" }}</td><td{% if d.overdue %} class="overdue"{% endif %}>{{ due_text(d) }}</td></tr>
{%- endfor %}
</table>
{%- endif %}
{{- key_open_items("key-objections", "Objection", k.open_objections) }}
{{- key_open_items("key-complaints", "Complaint", k.open_complaints) }}
{%- if k.overdue_deals %}
<table class="key-overdue">
<caption>Overdue actions</caption>
<tr><th>Deal</th><th>Next action</th><th>Due</th></tr>
{%- for d in k.overdue_deals %}
<tr><td>{{ d.title }}</td><td>{{ d.next_action }}</td><td class="overdue">{{ d.next_action_due }}</td></tr>
{%- endfor %}
</table>
{%- endif %}
</section>
{%- endfor %}
<p class="meta">Generated by Rapport at {{ moment_text(r.generated_utc) }}.</p>
</body>
</html>
"""

_ENV = Environment(autoescape=True, trim_blocks=False, keep_trailing_newline=True)
_COMPILED = _ENV.from_string(_TEMPLATE)


def render_html(report: Report) -> str:
    # Jinja2 escapes markup; control characters and escapes are removed before that.
    report = safe_report(report)
    base = report.base_currency
    stage_bars, stage_h = _bars([(s.stage, s.value, s.weighted) for s in report.stages])
    forecast_bars, forecast_h = _bars([(f.month, f.value, f.weighted) for f in report.forecast])
    return _COMPILED.render(
        r=report,
        title=period_title(report.period),
        scope=scope_text(report),
        glance=headlines(report),
        open_pipeline=open_pipeline_text(report),
        closed=closed_text(report),
        activity_rows=[*report.activity, activity_total(report)],
        activity_fields=ACTIVITY_FIELDS,
        stale_title=stale_title(report),
        key_headers=KEY_OVERVIEW_HEADERS,
        key_row=key_overview_row,
        moment_text=moment_text,
        stage_bars=stage_bars,
        stage_h=stage_h,
        forecast_bars=forecast_bars,
        forecast_h=forecast_h,
        width=_LABEL_W + _BAR_AREA + 200,
        label_w=_LABEL_W,
        base=base,
        extra=not_converted_column(report),
        rates=rates_text(report),
        money=lambda amount: money(amount, base),
        amount_text=amount_text,
        base_text=base_text,
        hours=hours,
        day_of=day_of,
        key_account_summary=key_account_summary,
        due_text=due_text,
        waits_text=waits_text,
    )
