"""Lint and render the chart as `helm lint --strict` and `helm template` would,
with Helm's Go SDK (helm-python-sdk) and no helm binary:

    python helm/render.py helm/nova OUTPUT.yaml [NAMESPACE] [VALUES_JSON]

VALUES_JSON overrides values as `--set` would (`{"tracing": {"otlpEndpoint": ...}}`).

Exits 1 with the findings when lint reports a warning or an error; writes every
rendered object to OUTPUT.yaml otherwise. tests/tests/deploy_helm.rs runs it.
"""

import json
import sys

import helm_python as helm

WARNING = 2


def main() -> int:
    chart, output = sys.argv[1], sys.argv[2]
    namespace = sys.argv[3] if len(sys.argv) > 3 else "nova"
    values = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    report = helm.lint(chart, strict=True, namespace=namespace)
    findings = [m for m in report["messages"] if m["severity"] >= WARNING]
    if findings or report["errors"]:
        for finding in findings:
            print(f"{finding['path']}: {finding['error']}", file=sys.stderr)
        for error in report["errors"]:
            print(error, file=sys.stderr)
        return 1
    with helm.Chart.load(chart) as loaded:
        rendered = loaded.render(values, name="nova", namespace=namespace)
    with open(output, "w", encoding="utf-8") as out:
        for template, text in sorted(rendered.items()):
            if text.strip():
                out.write(f"# Source: {template}\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
