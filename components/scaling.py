"""CPU-driven scaling for the fleet: the original's simple scaling, or target tracking, or steps."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.alarm_specs import AlarmSpec, cpu_alarms, simple_policies, step_adjustments
from components.settings import ScalingSettings


@dataclass(frozen=True)
class ScalingArgs:
    settings: ScalingSettings
    group_name: pulumi.Input[str]
    group_label: str


class Scaling(pulumi.ComponentResource):
    policy_arns: pulumi.Output[dict[str, str]]
    """Scaling policy ARNs by direction ("out", "in"), or {"target": …} for target tracking."""
    alarm_arns: pulumi.Output[dict[str, str]]
    """CloudWatch alarm ARNs by direction; empty for target tracking (AWS manages those)."""

    def __init__(self, name: str, args: ScalingArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("webtier:scaling:Scaling", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        s = args.settings
        policies: dict[str, pulumi.Output[str]] = {}
        alarms: dict[str, pulumi.Output[str]] = {}

        if s.mode == "target-tracking":
            policy = aws.autoscaling.Policy(
                f"{name}-cpu-target",
                autoscaling_group_name=args.group_name,
                policy_type="TargetTrackingScaling",
                target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                    predefined_metric_specification=aws.autoscaling
                    .PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type="ASGAverageCPUUtilization"),
                    target_value=s.target_cpu,
                ),
                opts=child,
            )
            policies["target"] = policy.arn
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
                    alarm_actions=[policy.arn],
                    opts=child,
                )
                policies[spec.direction] = policy.arn
                alarms[spec.direction] = alarm.arn

        self.policy_arns = pulumi.Output.all(**policies).apply(dict)
        self.alarm_arns = pulumi.Output.all(**alarms).apply(dict)
        self.register_outputs({"policyArns": self.policy_arns, "alarmArns": self.alarm_arns})

    @staticmethod
    def _policy(name: str, args: ScalingArgs, alarm: AlarmSpec,
                child: pulumi.ResourceOptions) -> aws.autoscaling.Policy:
        s = args.settings
        label = f"{name}-scale-{alarm.direction}"
        if s.mode == "step":
            # Step bounds are relative to the alarm threshold.
            return aws.autoscaling.Policy(
                label,
                autoscaling_group_name=args.group_name,
                policy_type="StepScaling",
                adjustment_type="ChangeInCapacity",
                metric_aggregation_type="Average",
                step_adjustments=[aws.autoscaling.PolicyStepAdjustmentArgs(
                    scaling_adjustment=step.adjustment,
                    metric_interval_lower_bound=None if step.lower is None else str(step.lower),
                    metric_interval_upper_bound=None if step.upper is None else str(step.upper),
                ) for step in step_adjustments(s, alarm.direction)],
                opts=child,
            )
        spec = next(p for p in simple_policies(s) if p.direction == alarm.direction)
        return aws.autoscaling.Policy(
            label,
            autoscaling_group_name=args.group_name,
            policy_type="SimpleScaling",
            adjustment_type="ChangeInCapacity",
            scaling_adjustment=spec.adjustment,
            cooldown=spec.cooldown,
            opts=child,
        )
