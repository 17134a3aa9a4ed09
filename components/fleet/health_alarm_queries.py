"""How a health alarm judges its spec (components/fleet/health_alarm_specs.py): the metric
queries CloudWatch evaluates and when the alarm fires. Pure, apart from the Pulumi wiring in
components/fleet/health_alarms.py, so fast unit tests and the mutation run reach every choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.fleet.health_alarm_specs import Dimension, HealthAlarmSpec

NAMESPACE = "AWS/ApplicationELB"
COMPARISON = "GreaterThanOrEqualToThreshold"
"""At the threshold fires: one unhealthy host is already one too many."""
MISSING_DATA = "notBreaching"
"""No data (no traffic, no targets yet) is not a failure."""
RESULT_ID = "result"


@dataclass(frozen=True)
class Metric:
    name: str
    dimensions: tuple[Dimension, ...]
    period: int
    stat: str


@dataclass(frozen=True)
class Query:
    """One entry of the alarm's metric_queries: a metric, or the expression over the metrics."""
    id: str
    return_data: bool
    """Exactly one query of an alarm returns data: the one the threshold applies to."""
    metric: Metric | None = None
    expression: str | None = None
    label: str | None = None


def alarm_name(fleet: str, spec: HealthAlarmSpec) -> str:
    return f"{fleet}-{spec.key}"


def queries(spec: HealthAlarmSpec) -> tuple[Query, ...]:
    """The metric terms, and the expression over them when the spec has one (it returns data)."""
    terms = tuple(Query(id=term.id, return_data=spec.expression is None,
                        metric=Metric(term.metric_name, term.dimensions, spec.period,
                                      spec.statistic)) for term in spec.terms)
    if spec.expression is None:
        return terms
    return (*terms, Query(id=RESULT_ID, return_data=True, expression=spec.expression,
                          label=spec.key))
