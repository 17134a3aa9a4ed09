"""Settings that pass validation never crash a component, and every code default is exercised.

Pure parsing of the committed stack files with fields removed or changed (mock_engine's
stack_config), plus whole-program runs under the mock engine where a component is involved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.settings import SettingsError, StackSettings, parse_settings
from contracts.stack_file import load_stack_config
from mock_engine import run_program, stack_config

ROOT = Path(__file__).resolve().parents[2]

PEM = ("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2Vyd\nAbCdEf0123456789+/==\n"
       "-----END CERTIFICATE-----\n")
SECRET = "PRIVATE-KEY-MATERIAL-do-not-print"


def parse(stack: str = "production", **overrides: Any) -> StackSettings:
    config, secrets = stack_config(stack, overrides=overrides)
    return parse_settings(stack, config, secrets)


def problems(stack: str = "production", **overrides: Any) -> str:
    with pytest.raises(SettingsError) as caught:
        parse(stack, **overrides)
    return str(caught.value)


# --- settings that used to pass and then crash a component ----------------------------------


def test_empty_deployer_role_arns_are_refused_by_key() -> None:
    assert "webtier:release.deployerRoleArns is missing" in problems(
        **{"webtier:release.deployerRoleArns": []})


@pytest.mark.parametrize("value", [None, ""])
def test_missing_consul_address_is_refused_by_key(value: str | None) -> None:
    text = problems(**{"webtier:consul.address": value})
    assert "webtier:consul.address" in text


def test_missing_ca_cert_file_is_refused_by_key(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    text = problems(**{"webtier:consul.caCertPath": missing})
    assert f'webtier:consul.caCertPath = "{missing}": cannot be read' in text


@pytest.mark.parametrize("content", [
    f"{SECRET}\n".encode(),
    f"-----BEGIN RSA PRIVATE KEY-----\n{SECRET}\n-----END RSA PRIVATE KEY-----\n".encode(),
    b"\xff\xfe" + SECRET.encode(),
    f"-----BEGIN CERTIFICATE-----\n{SECRET}!!\n-----END CERTIFICATE-----\n".encode(),
])
def test_ca_cert_that_is_not_pem_is_refused_without_showing_it(tmp_path: Path,
                                                                content: bytes) -> None:
    path = tmp_path / "ca.pem"
    path.write_bytes(content)
    text = problems(**{"webtier:consul.caCertPath": str(path)})
    assert "webtier:consul.caCertPath" in text
    assert "is not a PEM CA certificate bundle" in text
    assert SECRET not in text


def test_pem_ca_cert_is_read_once_into_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    path.write_text(PEM + PEM)
    consul = parse(**{"webtier:consul.caCertPath": str(path)}).consul
    assert consul.ca_cert_pem == PEM + PEM
    assert PEM not in repr(consul)


def test_program_with_a_pem_ca_cert_hands_it_to_the_kv_component(tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    path.write_text(PEM)
    regs = run_program("production",
                       config_overrides={"webtier:consul.caCertPath": str(path)}).registrations
    entries = next(r for r in regs if r.name.endswith("-kv-entries"))
    assert entries.inputs["caCert"] == PEM


# --- every code default, with the field absent --------------------------------------------------


DEFAULTS: list[tuple[str, str, str, object]] = [
    ("fleet", "launchKind", "launch_kind", "template"),
    ("fleet", "instanceType", "instance_type", "t3.micro"),
    ("fleet", "minSize", "min_size", 2),
    ("fleet", "maxSize", "max_size", 20),
    ("fleet", "desiredCapacity", "desired_capacity", 2),
    ("fleet", "healthCheckGracePeriod", "health_check_grace_period", 300),
    ("fleet", "appPort", "app_port", 8080),
    ("fleet", "rootVolumeSize", "root_volume_size", 16),
    ("fleet", "rootVolumeType", "root_volume_type", "gp3"),
    ("fleet", "instanceWarmup", "instance_warmup", 300),
    ("scaling", "mode", "mode", "simple"),
    ("scaling", "period", "period", 300),
    ("scaling", "evaluationPeriods", "evaluation_periods", 1),
    ("scaling", "scaleOutThreshold", "scale_out_threshold", 50),
    ("scaling", "scaleInThreshold", "scale_in_threshold", 20),
    ("scaling", "scaleOutAdjustment", "scale_out_adjustment", 3),
    ("scaling", "scaleInAdjustment", "scale_in_adjustment", -1),
    ("scaling", "cooldown", "cooldown", 300),
    ("scaling", "targetCpu", "target_cpu", 50),
    ("scaling", "requestCountTarget", "request_count_target", None),
    ("scaling", "predictive", "predictive", None),
    ("scaling", "schedules", "schedules", ()),
    ("loadBalancer", "listenerPort", "listener_port", 80),
    ("loadBalancer", "healthCheckPath", "health_check_path", "/health"),
    ("loadBalancer", "internal", "internal", False),
    ("loadBalancer", "deregistrationDelay", "deregistration_delay", 30),
    ("loadBalancer", "ingressCidrs", "ingress_cidrs", ("0.0.0.0/0",)),
    ("image", "builderInstanceType", "builder_instance_type", "t3.small"),
    ("image", "keepLast", "keep_last", 3),
    ("image", "namePrefix", "name_prefix", "webapp"),
    ("release", "keepReleases", "keep_releases", 5),
    ("consul", "datacenter", "datacenter", "production"),
]
SECTION_ATTR = {"loadBalancer": "load_balancer"}
# The fields a section cannot do without; everything else is left to its default.
REQUIRED: dict[str, dict[str, Any]] = {
    "fleet": {}, "scaling": {}, "loadBalancer": {},
    "image": {"source": "promote", "baseSourceAmi": "ami-0d52744d6551d851e"},
    "release": {"deployerRoleArns": ["arn:aws:iam::123456789012:role/deployer"]},
    "consul": {"address": "https://consul.internal:8501",
               "clusterSecurityGroupId": "sg-0a1b2c3d4e5f60731",
               # Production refuses agents without TLS: the committed stack's CA serves here.
               "tls": load_stack_config(ROOT / "Pulumi.production.yaml")["webtier:consul"]["tls"]},
}


@pytest.mark.parametrize(("section", "field", "attr", "default"), DEFAULTS,
                         ids=[f"{s}.{f}" for s, f, _, _ in DEFAULTS])
def test_an_absent_field_takes_its_documented_default(section: str, field: str, attr: str,
                                                      default: object) -> None:
    # The whole section holds only what is required, so no stack file value hides the default.
    settings = parse(**{f"webtier:{section}": REQUIRED[section]})
    value = getattr(getattr(settings, SECTION_ATTR.get(section, section)), attr)
    assert value == default


def test_defaults_cover_every_field_the_parsers_read() -> None:
    from dataclasses import fields

    settings = parse(**{f"webtier:{s}": r for s, r in REQUIRED.items()})
    covered = {(s, a) for s, _, a, _ in DEFAULTS}
    for section in ("fleet", "scaling", "loadBalancer"):
        obj = getattr(settings, SECTION_ATTR.get(section, section))
        missing = {f.name for f in fields(obj)} - {a for s, a in covered if s == section}
        assert not missing - {"certificate_arn"}, (section, missing)


# --- boundaries -----------------------------------------------------------------------------------


def test_period_times_evaluations_of_exactly_one_day_passes() -> None:
    s = parse(**{"webtier:scaling.period": 3600, "webtier:scaling.evaluationPeriods": 24})
    assert s.scaling.period * s.scaling.evaluation_periods == 86400


def test_period_times_evaluations_over_one_day_is_refused() -> None:
    text = problems(**{"webtier:scaling.period": 3600, "webtier:scaling.evaluationPeriods": 25})
    assert "webtier:scaling.evaluationPeriods = 25" in text


def test_equal_thresholds_are_refused() -> None:
    text = problems(**{"webtier:scaling.scaleOutThreshold": 40,
                       "webtier:scaling.scaleInThreshold": 40})
    assert "webtier:scaling.scaleInThreshold = 40" in text


def test_thresholds_one_apart_pass() -> None:
    s = parse(**{"webtier:scaling.scaleOutThreshold": 41,
                 "webtier:scaling.scaleInThreshold": 40})
    assert (s.scaling.scale_in_threshold, s.scaling.scale_out_threshold) == (40, 41)


def test_desired_below_min_is_refused() -> None:
    text = problems(**{"webtier:fleet.minSize": 3, "webtier:fleet.desiredCapacity": 2})
    assert "webtier:fleet.desiredCapacity = 2" in text


@pytest.mark.parametrize("desired", [2, 20])
def test_desired_at_min_or_max_passes(desired: int) -> None:
    assert parse(**{"webtier:fleet.desiredCapacity": desired}).fleet.desired_capacity == desired


def test_desired_above_max_is_refused() -> None:
    assert "webtier:fleet.desiredCapacity = 21" in problems(
        **{"webtier:fleet.desiredCapacity": 21})
