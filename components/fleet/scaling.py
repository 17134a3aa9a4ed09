"""How the fleet follows load: the original's CPU simple scaling, CPU target tracking or steps;
optionally request-count target tracking, predictive scaling and scheduled actions beside it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.fleet.alarm_specs import AlarmSpec, cpu_alarms, simple_policies, step_adjustments
from components.settings import ScalingSettings

ASG = aws.autoscaling


@dataclass(frozen=True)
class ScalingArgs:
    settings: ScalingSettings
    group_name: pulumi.Input[str]
    group_label: str
    request_count_label: pulumi.Input[str] | None = None
    """`<lb arnSuffix>/<tg arnSuffix>` (LoadBalancer.request_count_label): what requests count."""
    notification_topic_arn: pulumi.Input[str] | None = None
    """Every alarm also tells this topic when it fires and when it clears."""


class Scaling(pulumi.ComponentResource):
    policy_arns: pulumi.Output[dict[str, str]]
    """Scaling policy ARNs by role: "out"/"in" (alarms), "target", "requests", "predictive"."""
    alarm_arns: pulumi.Output[dict[str, str]]
    """CloudWatch alarm ARNs by direction; empty for target tracking (AWS manages those)."""

    def __init__(self, name: str, args: ScalingArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("webtier:scaling:Scaling", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        s = args.settings
        policies: dict[str, pulumi.Output[str]] = {}
        alarms: dict[str, pulumi.Output[str]] = {}
        topic = [args.notification_topic_arn] if args.notification_topic_arn is not None else []

        if s.mode == "target-tracking":
            policies["target"] = self._target_tracking(
                f"{name}-cpu-target", args, "ASGAverageCPUUtilization", s.target_cpu, None,
                child).arn
        else:
            for spec in cpu_alarms(s):
                policy = self._policy(name, args, spec, child)
                alarm = aws.cloudwatch.MetricAlarm(
                    f"{name}-cpu-{'high' if spec.direction == 'out' else 'low'}",
                    alarm_description=spec.description(args.group_label),
                    comparison_operator=spec.comparison,
                    evaluation_periods=spec.evaluation_periods,
                    metric_name=spec.metric_name,
                    namespace=spec.namespace,
                    period=spec.period,
                    statistic=spec.statistic,
                    threshold=spec.threshold,
                    dimensions={"AutoScalingGroupName": args.group_name},
                    alarm_actions=[policy.arn, *topic],
                    ok_actions=topic or None,
                    opts=child,
                )
                policies[spec.direction] = policy.arn
                alarms[spec.direction] = alarm.arn

        if s.request_count_target is not None:
            # The program always has the load balancer, so the label is set.
            policies["requests"] = self._target_tracking(
                f"{name}-requests-target", args, "ALBRequestCountPerTarget",
                s.request_count_target, args.request_count_label, child).arn
        if s.predictive is not None:
            policies["predictive"] = self._predictive(name, args, child).arn
        for action in s.schedules:
            ASG.Schedule(
                f"{name}-schedule-{action.name}",
                scheduled_action_name=action.name,
                autoscaling_group_name=args.group_name,
                recurrence=action.cron,
                time_zone=action.time_zone,
                # -1 leaves a size unchanged (the provider's documented "no change").
                min_size=-1 if action.min_size is None else action.min_size,
                max_size=-1 if action.max_size is None else action.max_size,
                desired_capacity=-1 if action.desired_capacity is None
                else action.desired_capacity,
                opts=child,
            )

        self.policy_arns = pulumi.Output.all(**policies).apply(dict)
        self.alarm_arns = pulumi.Output.all(**alarms).apply(dict)
        self.register_outputs({"policyArns": self.policy_arns, "alarmArns": self.alarm_arns})

    @staticmethod
    def _target_tracking(label: str, args: ScalingArgs, metric: str, target: float,
                         resource_label: pulumi.Input[str] | None,
                         child: pulumi.ResourceOptions) -> ASG.Policy:
        return ASG.Policy(
            label,
            autoscaling_group_name=args.group_name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=ASG.PolicyTargetTrackingConfigurationArgs(
                predefined_metric_specification=ASG
                .PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type=metric, resource_label=resource_label),
                target_value=target,
            ),
            opts=child,
        )

    @staticmethod
    def _predictive(name: str, args: ScalingArgs,
                    child: pulumi.ResourceOptions) -> ASG.Policy:
        p = args.settings.predictive
        assert p is not None
        pair = ("ASGCPUUtilization", None) if p.metric == "cpu" \
            else ("ALBRequestCount", args.request_count_label)
        spec = ASG.PolicyPredictiveScalingConfigurationMetricSpecificationArgs(
            target_value=p.target,
            predefined_metric_pair_specification=ASG
            .PolicyPredictiveScalingConfigurationMetricSpecificationPredefinedMetricPairSpecificationArgs(
                predefined_metric_type=pair[0], resource_label=pair[1]),
        )
        return ASG.Policy(
            f"{name}-predictive",
            autoscaling_group_name=args.group_name,
            policy_type="PredictiveScaling",
            predictive_scaling_configuration=ASG.PolicyPredictiveScalingConfigurationArgs(
                metric_specification=spec,
                mode=p.mode,
                scheduling_buffer_time=str(p.scheduling_buffer_time),
                max_capacity_breach_behavior=p.max_capacity_breach,
                max_capacity_buffer=str(p.max_capacity_buffer)
                if p.max_capacity_breach == "IncreaseMaxCapacity" else None,
            ),
            opts=child,
        )

    @staticmethod
    def _policy(name: str, args: ScalingArgs, alarm: AlarmSpec,
                child: pulumi.ResourceOptions) -> ASG.Policy:
        s = args.settings
        label = f"{name}-scale-{alarm.direction}"
        if s.mode == "step":
            # Step bounds are relative to the alarm threshold.
            return ASG.Policy(
                label,
                autoscaling_group_name=args.group_name,
                policy_type="StepScaling",
                adjustment_type="ChangeInCapacity",
                metric_aggregation_type="Average",
                step_adjustments=[ASG.PolicyStepAdjustmentArgs(
                    scaling_adjustment=step.adjustment,
                    metric_interval_lower_bound=None if step.lower is None else str(step.lower),
                    metric_interval_upper_bound=None if step.upper is None else str(step.upper),
                ) for step in step_adjustments(s, alarm.direction)],
                opts=child,
            )
        spec = next(p for p in simple_policies(s) if p.direction == alarm.direction)
        return ASG.Policy(
            label,
            autoscaling_group_name=args.group_name,
            policy_type="SimpleScaling",
            adjustment_type="ChangeInCapacity",
            scaling_adjustment=spec.adjustment,
            cooldown=spec.cooldown,
            opts=child,
        )
