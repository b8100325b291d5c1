"""Geometry of the server-rendered SVG charts: the renewal pipeline's stacked bars and a
customer's timeline. Pure arithmetic on what the services return; the templates add the
localized words, dates and numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from vip.services.pipeline import STATUS_ORDER, Pipeline, PipelineMonth, PipelineStatus
from vip.services.terms import add_months
from vip.services.timeline import Lane, Timeline, TimelineEvent

MEASURES = ("customers", "licenses")


def nice_ticks(largest: int, *, most: int = 5) -> list[int]:
    """Axis ticks from 0 to at least `largest` in round whole steps (1, 2 or 5 times a
    power of ten): the smallest such step that needs at most `most` intervals."""
    if largest <= 0:
        return [0, 1]
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            intervals = math.ceil(largest / step)
            if intervals <= most:
                return list(range(0, intervals * step + 1, step))
        magnitude *= 10


# -- The pipeline's stacked bars -------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    status: PipelineStatus
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Bar:
    month: PipelineMonth
    x: float
    width: float
    center: float
    total: int
    top: float  # y of the bar's top
    segments: list[Segment]
    first_of_year: bool  # the first bar, or a January: its label carries the year


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class BarChart:
    measure: str
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    bars: list[Bar]
    ticks: list[Tick]


def bar_chart(pipeline: Pipeline, measure: str) -> BarChart:
    """One stacked bar per month; statuses bottom to top in STATUS_ORDER."""
    if measure not in MEASURES:
        raise ValueError(measure)
    width, height = 640, 290
    left, right, top, bottom = 52.0, 632.0, 14.0, 242.0
    values = nice_ticks(pipeline.largest(measure))
    scale = (bottom - top) / values[-1]
    slot = (right - left) / max(len(pipeline.months), 1)
    bar_width = slot * 0.62
    bars = []
    for index, month in enumerate(pipeline.months):
        x = left + index * slot + (slot - bar_width) / 2
        base, segments = bottom, []
        for status in STATUS_ORDER:
            value = getattr(month.tally(status), measure)
            if value <= 0:
                continue
            size = value * scale
            segments.append(Segment(status, value, x, base - size, bar_width, size))
            base -= size
        bars.append(
            Bar(
                month=month,
                x=x,
                width=bar_width,
                center=x + bar_width / 2,
                total=getattr(month.total, measure),
                top=base,
                segments=segments,
                first_of_year=index == 0 or month.month.month == 1,
            )
        )
    ticks = [Tick(value, bottom - value * scale) for value in values]
    return BarChart(measure, width, height, left, right, top, bottom, bars, ticks)


# -- The customer's timeline -----------------------------------------------------------------

LANE_ORDER = (Lane.AUTHORIZATIONS, Lane.ORDERS, Lane.RENEWAL)
POINT_ROWS = 3  # markers of nearby dates step down, up to this many rows, then repeat
RANGE_ROWS = 2


@dataclass(frozen=True)
class Placed:
    event: TimelineEvent
    x: float
    y: float
    end_x: float  # for a range: its right edge (the day after its last day)


@dataclass(frozen=True)
class LaneBand:
    lane: Lane
    y: float
    height: float
    items: list[Placed]


@dataclass(frozen=True)
class MonthTick:
    month: date
    x: float
    first_of_year: bool


@dataclass(frozen=True)
class TimelineChart:
    timeline: Timeline
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    lanes: list[LaneBand]
    months: list[MonthTick]
    today_x: float


def timeline_chart(timeline: Timeline) -> TimelineChart:
    # The left gutter holds the lane names: "Inköpsauktoriseringar" is the longest.
    width, left, right, top = 900, 180.0, 884.0, 28.0
    lane_height = 66.0
    span = max(timeline.days, 1)

    def x_of(day: date) -> float:
        return left + (day - timeline.starts_on).days * (right - left) / span

    lanes, y = [], top
    for lane in LANE_ORDER:
        items: list[Placed] = []
        point_ends = [-1e9] * POINT_ROWS
        range_ends = [-1e9] * RANGE_ROWS
        for count, event in enumerate(e for e in timeline.events if e.lane == lane):
            x = x_of(max(event.on, timeline.starts_on))
            if event.is_range:
                end_x = x_of(min(event.last_day + timedelta(days=1), timeline.ends_on))
                row = next((r for r in range(RANGE_ROWS) if range_ends[r] <= x), count % RANGE_ROWS)
                range_ends[row] = end_x
                items.append(Placed(event, x, y + 44 + row * 10, end_x))
            else:
                row = next(
                    (r for r in range(POINT_ROWS) if point_ends[r] < x - 11), count % POINT_ROWS
                )
                point_ends[row] = x
                items.append(Placed(event, x, y + 10 + row * 12, x))
        lanes.append(LaneBand(lane, y, lane_height, items))
        y += lane_height
    months, month = [], timeline.starts_on
    while month < timeline.ends_on:
        months.append(MonthTick(month, x_of(month), not months or month.month == 1))
        month = add_months(month, 1)
    return TimelineChart(
        timeline, width, int(y + 42), left, right, top, y, lanes, months, x_of(timeline.today)
    )
