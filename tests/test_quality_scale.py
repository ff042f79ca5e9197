"""quality_scale.yaml: every rule of the scale is stated, with a comment wherever it is exempt."""

from __future__ import annotations

from pathlib import Path

import yaml

FILE = Path(__file__).parent.parent / "custom_components" / "smartload" / "quality_scale.yaml"

BRONZE = {
    "action-setup", "appropriate-polling", "brands", "common-modules",
    "config-flow-test-coverage", "config-flow", "dependency-transparency", "docs-actions",
    "docs-conditions", "docs-high-level-description", "docs-installation-instructions",
    "docs-removal-instructions", "docs-triggers", "entity-event-setup", "entity-unique-id",
    "has-entity-name", "runtime-data", "test-before-configure", "test-before-setup",
    "unique-config-entry",
}  # fmt: skip
SILVER = {
    "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
    "docs-installation-parameters", "entity-unavailable", "integration-owner",
    "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
}  # fmt: skip
GOLD = {
    "devices", "diagnostics", "discovery", "discovery-update-info", "docs-data-update",
    "docs-examples", "docs-known-limitations", "docs-supported-devices",
    "docs-supported-functions", "docs-troubleshooting", "docs-use-cases", "dynamic-devices",
    "entity-category", "entity-device-class", "entity-disabled-by-default", "entity-translations",
    "exception-translations", "icon-translations", "reconfiguration-flow", "repair-issues",
    "stale-devices",
}  # fmt: skip
PLATINUM = {"async-dependency", "inject-websession", "strict-typing"}


def _rules() -> dict[str, tuple[str, str | None]]:
    raw = yaml.safe_load(FILE.read_text(encoding="utf-8"))["rules"]
    out = {}
    for rule, value in raw.items():
        if isinstance(value, str):
            out[rule] = (value, None)
        else:
            out[rule] = (value["status"], value.get("comment"))
    return out


def test_every_rule_is_stated_and_exemptions_are_explained() -> None:
    rules = _rules()
    assert set(rules) == BRONZE | SILVER | GOLD | PLATINUM
    for rule, (status, comment) in rules.items():
        assert status in {"done", "exempt", "todo"}, rule
        if status != "done":
            assert comment, f"{rule}: {status} needs a comment"


def test_bronze_silver_gold_have_no_todo() -> None:
    rules = _rules()
    assert [r for r in BRONZE | SILVER | GOLD if rules[r][0] == "todo"] == []


def test_every_platform_sets_parallel_updates() -> None:
    """The parallel-updates rule, checked on the code rather than stated."""
    root = FILE.parent
    platforms = [
        p for p in root.glob("*.py")
        if p.stem in {"binary_sensor", "button", "calendar", "number", "select", "sensor",
                      "switch", "time"}
    ]  # fmt: skip
    assert platforms
    for path in platforms:
        assert "\nPARALLEL_UPDATES = " in path.read_text(encoding="utf-8"), path.name
