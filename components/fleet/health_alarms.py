"""The fleet's health alarms: CloudWatch alarms on the target group and the load balancer.

Pulumi wiring only (out of mutation scope): the choices are in health_alarm_specs.py and
health_alarm_queries.py, which fast unit tests reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.fleet import health_alarm_queries as judged
from components.fleet.health_alarm_specs import HealthAlarmSpec, health_alarms
from components.settings import RolloutSettings


@dataclass(frozen=True)
class HealthAlarmsArgs:
    settings: RolloutSettings
    load_balancer_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    tags: Mapping[str, str]
    notification_topic_arn: pulumi.Input[str] | None = None
    """Told when an alarm fires and when it clears."""


class HealthAlarms(pulumi.ComponentResource):
    alarm_names: pulumi.Output[list[str]]
    """Names of the health alarms: the instance refresh's alarm specification takes names."""
    alarm_arns: pulumi.Output[list[str]]
    """ARNs of the health alarms, for a notification topic to subscribe to."""

    def __init__(self, name: str, args: HealthAlarmsArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("webtier:health_alarms:HealthAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        dims = {"LoadBalancer": args.load_balancer_arn_suffix,
                "TargetGroup": args.target_group_arn_suffix}
        topic = [args.notification_topic_arn] if args.notification_topic_arn is not None else []
        alarms = [self._alarm(name, spec, dims, args.tags, topic, child)
                  for spec in health_alarms(args.settings)]
        self.alarm_names = pulumi.Output.all(*[a.name for a in alarms])
        self.alarm_arns = pulumi.Output.all(*[a.arn for a in alarms])
        self.register_outputs({"alarmNames": self.alarm_names, "alarmArns": self.alarm_arns})

    @staticmethod
    def _alarm(name: str, spec: HealthAlarmSpec, dims: Mapping[str, pulumi.Input[str]],
               tags: Mapping[str, str], topic: list[pulumi.Input[str]],
               child: pulumi.ResourceOptions
               ) -> aws.cloudwatch.MetricAlarm:
        metric_queries = [aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=q.id, return_data=q.return_data, expression=q.expression, label=q.label,
            metric=None if m is None else aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=judged.NAMESPACE, metric_name=m.name,
                dimensions={d: dims[d] for d in m.dimensions}, period=m.period, stat=m.stat),
        ) for q in judged.queries(spec) for m in [q.metric]]
        return aws.cloudwatch.MetricAlarm(
            judged.alarm_name(name, spec),
            name=judged.alarm_name(name, spec),
            alarm_description=spec.description,
            comparison_operator=judged.COMPARISON,
            threshold=spec.threshold,
            evaluation_periods=spec.evaluation_periods,
            treat_missing_data=judged.MISSING_DATA,
            metric_queries=metric_queries,
            alarm_actions=topic or None,
            ok_actions=topic or None,
            tags=dict(tags),
            opts=child,
        )
