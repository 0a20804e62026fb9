"""The journey as a map: a journey's stages drawn from its definition, each with tonight's figures.

``draw(journey, figures)`` is pure (a journey and per-stage figures in, SVG text out): the
Onboarding page shows it inline (``themed``: its colours are the page's CSS variables, so it follows
Airflow's Dark/Light setting), the summary email as a PNG and ``journeys check --draw`` as a file
(``themed=False``: fixed light colours, no CSS needed).

The layout is vertical, so it reads on a phone: one row per stage in the journey's order, the
members of a ``together`` stage side by side in one row inside their group's box; owners as lanes
(columns), one per ``Stage.owner`` team in order of first appearance, a stage without an owner in
the customer's own lane ("unassigned"). A plain next stage is an arrow down; a branch names its
condition ("approved"); a second try (back to the same or an earlier stage) and a jump over stages
go round the right-hand gutter. Every title is escaped (a journey file is written by people).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from xml.sax.saxutils import escape, quoteattr

from onboarding.journeys import END, Journey, Stage

UNASSIGNED = "unassigned"
LANE_W = 300  # one lane: a phone's width (390 px) less the page's margins and the gutter
GUTTER = 84  # right of the lanes: second tries, jumps and the way to the end
PAD = 10
HEAD = 28  # the lane names
NODE_H = 106
GROUP_HEAD = 40  # a together group's title above its members, and room for a member's second-try loop
ROW_GAP = 34
CHAR_W = 7.0  # an estimate of a 12-13 px sans-serif character, to shorten titles that would overflow

# Colours: the page's CSS variables (themed) or their light values (email, a file).
THEMED = {"fg": "var(--fg, #09090b)", "muted": "var(--muted, #52525b)", "line": "var(--line, #e4e4e7)",
          "soft": "var(--soft, #fafafa)", "bg": "var(--bg, #fff)", "bad": "var(--bad, #dc2626)",
          "warn": "var(--warn, #a16207)", "accent": "var(--accent, #0369a1)", "link": "var(--link, #0369a1)"}
LIGHT = {"fg": "#09090b", "muted": "#52525b", "line": "#d4d4d8", "soft": "#fafafa", "bg": "#ffffff",
         "bad": "#dc2626", "warn": "#a16207", "accent": "#0369a1", "link": "#0369a1"}


@dataclass(frozen=True)
class StageFigures:
    """Tonight's figures of one stage: customers in it now, of them overdue and waiting on a person
    (an approval, a CSM with room), and the median time in it of those who completed it."""

    in_stage: int = 0
    overdue: int = 0
    waiting: int = 0
    median_hours: float | None = None
    entered: int = 0


WAITING = ("awaiting_approval", "waiting_for_csm")  # the standings that wait on a person


def stage_figures(stage_rows: list[dict[str, Any]], standings: list[dict[str, Any]]) -> dict[str, StageFigures]:
    """Per stage, from what the page already read: the stage funnel's rows (v_stage_funnel:
    entered, median_hours) and the customers' standings (``<stage>: <standing>``, n)."""
    out: dict[str, dict[str, Any]] = {}
    for s in stage_rows:
        out.setdefault(s["stage"], {})
        out[s["stage"]].update(median_hours=s.get("median_hours"), entered=int(s.get("entered") or 0))
    for r in standings:
        stage, _, standing = (r.get("status") or "").partition(": ")
        if not standing:
            continue  # no longer in a stage: done, cancelled, rejected, held
        f = out.setdefault(stage, {})
        n = int(r.get("n") or 0)
        f["in_stage"] = f.get("in_stage", 0) + n
        if standing == "overdue":
            f["overdue"] = f.get("overdue", 0) + n
        if standing in WAITING:
            f["waiting"] = f.get("waiting", 0) + n
    return {k: StageFigures(**v) for k, v in out.items()}


def lanes_of(journey: Journey) -> list[str]:
    """The journey's owner lanes in order of first appearance; a stage without an owner is in the
    customer's own lane."""
    out: list[str] = []
    for s in journey.stages:
        lane = lane_of(s)
        if lane not in out:
            out.append(lane)
    return out


def lane_of(stage: Stage) -> str:
    return stage.owner or UNASSIGNED


def lane_title(journey: Journey, lane: str) -> str:
    """A lane as people read it: the owning team's title ('Customer success'), 'the instructor',
    or the customer's own lane."""
    return lane if lane == UNASSIGNED else journey.owner_title(lane) or lane


def _days(hours: float | None) -> str:
    return "no median yet" if hours is None else f"median {hours / 24:.1f} d in stage"


def _fit(text: str, width: float, size: float = 13) -> str:
    """The text shortened with an ellipsis to what ``width`` px holds (an estimate)."""
    most = max(4, int(width / (CHAR_W * size / 13)))
    return text if len(text) <= most else text[:most - 1].rstrip() + "…"


def draw(journey: Journey, figures: dict[str, StageFigures] | None = None,
         link: Callable[[str], str] | None = None, themed: bool = True, title: str | None = None) -> str:
    """The journey's map as SVG text: every stage a node with its figures (``figures``: by stage
    id; none: zeros), linked by ``link(stage_id)`` when given (the page: its customers), edges
    for every way on, lanes per owner."""
    figures = figures or {}
    c = THEMED if themed else LIGHT
    lanes = lanes_of(journey)
    width = PAD * 2 + LANE_W * len(lanes) + GUTTER
    lane_x = {lane: PAD + i * LANE_W for i, lane in enumerate(lanes)}
    right = PAD + LANE_W * len(lanes)  # where the gutter starts

    # Rows: a top-level stage, or a together group's members side by side.
    boxes: dict[str, tuple[float, float, float, float]] = {}  # id -> x, y, w, h
    groups: dict[str, tuple[float, float, float, float]] = {}
    y = PAD + HEAD
    for s in journey.stages:
        if s.group is not None:
            continue
        if s.members:
            members = [journey.stage(m) for m in s.members]
            per_lane: dict[str, list[Stage]] = {}
            for m in members:
                per_lane.setdefault(lane_of(m), []).append(m)
            top = y + GROUP_HEAD
            for lane, ms in per_lane.items():
                w = (LANE_W - 12 - 8 * (len(ms) - 1)) / len(ms)
                for i, m in enumerate(ms):
                    boxes[m.id] = (lane_x[lane] + 6 + i * (w + 8), top, w, NODE_H)
            xs = [boxes[m.id][0] for m in members]
            x0, x1 = min(xs) - 4, max(boxes[m.id][0] + boxes[m.id][2] for m in members) + 4
            groups[s.id] = (x0, y, x1 - x0, GROUP_HEAD + NODE_H + 6)
            boxes[s.id] = groups[s.id]
            y += GROUP_HEAD + NODE_H + 6 + ROW_GAP
        else:
            boxes[s.id] = (lane_x[lane_of(s)] + 6, y, LANE_W - 12, NODE_H)
            y += NODE_H + ROW_GAP
    end_box = (PAD + (LANE_W * len(lanes) - 120) / 2, y, 120, 30)
    height = y + 30 + PAD

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="journey-map" viewBox="0 0 {width:.0f} {height:.0f}" '
           f'width="{width:.0f}" height="{height:.0f}" role="img" aria-labelledby="jm-title" '
           f'style="max-width:100%;height:auto;font-family:{"var(--font, sans-serif)" if themed else "sans-serif"}" '
           f'data-journey={quoteattr(journey.id)}>',
           f'<title id="jm-title">{escape(title or journey.title)}: the journey map</title>',
           f'<defs><marker id="jm-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c["muted"]}"/></marker></defs>']
    if not themed:
        out.append(f'<rect width="100%" height="100%" fill="{c["bg"]}"/>')
    for lane in lanes:
        x = lane_x[lane]
        out.append(f'<g class="lane" data-lane={quoteattr(lane)}>'
                   f'<rect x="{x}" y="{PAD}" width="{LANE_W}" height="{height - 2 * PAD:.0f}" rx="6" '
                   f'fill="none" stroke="{c["line"]}" stroke-dasharray="2 4"/>'
                   f'<text x="{x + LANE_W / 2}" y="{PAD + 17}" text-anchor="middle" font-size="12" '
                   f'fill="{c["muted"]}">{escape(_fit(lane_title(journey, lane), LANE_W - 10, 12))}</text></g>')

    # Edges under the nodes; a handoff (the move from one owner's stage to another's) is marked.
    handoffs = {(h.from_stage, h.to_stage): f"Handed from {journey.owner_title(h.from_owner)} to "
                f"{journey.owner_title(h.to_owner)}" for h in journey.handoffs()}
    gutter_slot = [0]

    def lane_in_gutter() -> float:
        gutter_slot[0] += 1
        return right + 8 + (gutter_slot[0] % 4) * 8

    def edge(src: str, branch) -> None:
        sx, sy, sw, sh = boxes[src]
        to = branch.to
        tx, ty, tw, th = end_box if to == END else boxes[to]
        order = {s.id: i for i, s in enumerate(journey.stages)}
        back = to != END and order[to] < order[src]
        label = branch.condition or ""
        if to == src:  # a second try of the same stage: a loop over its top right corner
            d = (f"M{sx + sw - 56:.1f},{sy:.1f} C{sx + sw - 56:.1f},{sy - 18:.1f} {sx + sw - 14:.1f},{sy - 18:.1f} "
                 f"{sx + sw - 14:.1f},{sy - 1:.1f}")
            lx, ly = sx + sw - 60, sy - 6
        elif back:  # a second try of an earlier stage: round the gutter, back up into its right side
            gx = lane_in_gutter()
            d = (f"M{sx + sw:.1f},{sy + sh * 0.7:.1f} H{gx:.1f} V{ty + th * 0.3:.1f} H{tx + tw:.1f}")
            lx, ly = gx + 3, (sy + sh * 0.7 + ty + th * 0.3) / 2
        elif ty - (sy + sh) > ROW_GAP + 1:
            # a jump over stages below: down the gutter, into the target's right side
            gx = lane_in_gutter()
            d = f"M{sx + sw:.1f},{sy + sh * 0.5:.1f} H{gx:.1f} V{ty + th / 2:.1f} H{tx + tw:.1f}"
            lx, ly = gx + 3, sy + sh * 0.5 + 14
        else:
            x1, y1, x2, y2 = sx + sw / 2, sy + sh, tx + tw / 2, ty
            d = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + 18:.1f} {x2:.1f},{y2 - 18:.1f} {x2:.1f},{y2 - 1:.1f}"
            lx, ly = x1 + 6, y1 + 16
        kind = "edge retry" if back or to == src else "edge"  # a second try
        handed = handoffs.get((src, to))
        if handed is not None:  # one owner's stage to another's: marked, and named on hover
            kind += " handoff"
        out.append(f'<path class="{kind}" data-from={quoteattr(src)} data-to={quoteattr(to)} '
                   f'data-if={quoteattr(branch.condition or "")} d="{d}" fill="none" '
                   f'stroke="{c["accent"] if handed else c["muted"]}" stroke-width="{2.4 if handed else 1.4}" '
                   f'marker-end="url(#jm-arrow)">'
                   + (f'<title>{escape(handed)}</title>' if handed else '') + '</path>')
        anchor = ' text-anchor="end"' if to == src else ""
        if label:
            out.append(f'<text class="edge-label" x="{lx:.1f}" y="{ly:.1f}" font-size="11"{anchor} '
                       f'fill="{c["muted"]}">{escape(label)}</text>')
        if handed:
            out.append(f'<text class="handoff-label" x="{lx:.1f}" y="{ly + (12 if label else 0):.1f}" '
                       f'font-size="11"{anchor} fill="{c["accent"]}">handoff</text>')

    for s in journey.stages:
        for b in s.next:
            edge(s.id, b)

    for gid, (x, gy, w, h) in groups.items():
        g = journey.stage(gid)
        out.append(f'<g class="together" data-stage={quoteattr(gid)}>'
                   f'<rect x="{x:.1f}" y="{gy:.1f}" width="{w:.1f}" height="{h:.1f}" rx="8" fill="none" '
                   f'stroke="{c["accent"]}" stroke-dasharray="5 3"/>'
                   f'<text x="{x + 6:.1f}" y="{gy + 15:.1f}" font-size="12" fill="{c["fg"]}">'
                   f'<title>{escape(g.title)}</title>{escape(_fit(g.title + " (side by side)", w - 12, 12))}</text></g>')

    for s in journey.stages:
        if s.members:
            continue
        out.append(_node(s, boxes[s.id], figures.get(s.id, StageFigures()), link, c))

    ex, ey, ew, eh = end_box
    out.append(f'<g class="end"><rect x="{ex:.1f}" y="{ey:.1f}" width="{ew}" height="{eh}" rx="15" '
               f'fill="{c["soft"]}" stroke="{c["muted"]}"/><text x="{ex + ew / 2:.1f}" y="{ey + 20:.1f}" '
               f'text-anchor="middle" font-size="13" fill="{c["fg"]}">end</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def _node(s: Stage, box: tuple[float, float, float, float], f: StageFigures,
          link: Callable[[str], str] | None, c: dict[str, str]) -> str:
    x, y, w, h = box
    tags = [t for t in ("optional" if s.optional else "", f"approval: {s.approval_by}" if s.approval_by else "") if t]
    wide = w >= 200  # a member side by side says its figures in fewer words
    lines = [
        (f"{f.in_stage} in stage", "in-stage", c["fg"]),
        (f"{f.overdue} overdue", "overdue", c["bad"] if f.overdue else c["muted"]),
        (f"{f.waiting} waiting on a person" if wide else f"{f.waiting} waiting", "waiting",
         c["warn"] if f.waiting else c["muted"]),
        (_days(f.median_hours) if wide else _days(f.median_hours).removesuffix(" in stage"), "median", c["muted"]),
    ]
    attrs = (f'class="stage" data-stage={quoteattr(s.id)} data-lane={quoteattr(lane_of(s))} '
             f'data-in-stage="{f.in_stage}" data-overdue="{f.overdue}" data-waiting="{f.waiting}" '
             f'data-median-hours="{"" if f.median_hours is None else f"{f.median_hours:g}"}" '
             f'data-optional="{str(s.optional).lower()}"')
    dash = ' stroke-dasharray="6 4"' if s.optional else ""  # offered, not required
    body = [f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h}" rx="6" fill="{c["soft"]}" '
            f'stroke="{c["accent"] if link else c["muted"]}" stroke-width="1.4"{dash}/>',
            f'<title>{escape(s.title)} ({escape(s.id)}): {f.in_stage} in stage, {f.overdue} overdue, '
            f'{f.waiting} waiting on a person; {escape(_days(f.median_hours))}</title>',
            f'<text class="stage-title" x="{x + 8:.1f}" y="{y + 18:.1f}" font-size="13" font-weight="600" '
            f'fill="{c["link"] if link else c["fg"]}">{escape(_fit(s.title, w - 16))}</text>']
    for i, (text, cls, colour) in enumerate(lines):
        body.append(f'<text class="{cls}" x="{x + 8:.1f}" y="{y + 36 + i * 15:.1f}" font-size="12" '
                    f'fill="{colour}">{escape(_fit(text, w - 16, 12))}</text>')
    if tags:
        body.append(f'<text class="tags" x="{x + 8:.1f}" y="{y + 36 + 4 * 15:.1f}" font-size="11" '
                    f'fill="{c["muted"]}">{escape(_fit(", ".join(tags), w - 16, 11))}</text>')
    inner = "".join(body)
    if link:
        return f'<a href={quoteattr(link(s.id))} {attrs}>{inner}</a>'
    return f'<g {attrs}>{inner}</g>'
