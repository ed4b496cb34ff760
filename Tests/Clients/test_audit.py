"""`devstack audit` on the repository's default stack: it passes clean, and its --json report
follows the JSON Schema `devstack audit --schema` prints (checked by the jsonschema package)."""

import json

import jsonschema


def test_the_default_stack_passes_the_audit_clean(full_stack):
    run = full_stack.devstack("audit", "--json", check=False, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    schema = json.loads(full_stack.devstack("audit", "--schema").stdout)
    jsonschema.validate(report, schema)
    statuses = {check["id"]: check["status"] for check in report["checks"]}
    problems = {check["id"]: check["findings"] for check in report["checks"] if check["status"] in ("fail", "warn")}
    assert problems == {}
    for proven in ("rls.static", "rls.dynamic", "keys.service_role", "jwt.bypass", "secrets"):
        assert statuses[proven] == "pass", (proven, statuses)
    dynamic = next(check for check in report["checks"] if check["id"] == "rls.dynamic")
    assert [finding["subject"] for finding in dynamic["findings"]] == ["public.conversations"]
    # The ci profile turns rate limiting off: said, not failed; the manual lines are listed.
    assert statuses["rate_limit"] == "not_checked"
    assert [check["id"] for check in report["checks"] if check["status"] == "manual"] == [
        "manual.incident_plan", "manual.cost_alerts", "manual.security_audit"]


def test_a_report_that_breaks_the_schema_is_refused(full_stack):
    """The schema is strict enough to fail: the validation above proves something."""
    schema = json.loads(full_stack.devstack("audit", "--schema").stdout)
    report = json.loads(full_stack.devstack("audit", "--json", check=False, timeout=300).stdout)
    report["checks"][0]["status"] = "fine"
    try:
        jsonschema.validate(report, schema)
    except jsonschema.ValidationError as error:
        assert "fine" in str(error)
    else:
        raise AssertionError("a status outside the schema's enum passed")
