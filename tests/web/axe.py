"""axe-core in the browser tests: inject the pinned copy from npm (``tests/web``,
``npm ci``) into a page and run it.

The pages' Content-Security-Policy allows no inline script and no ``eval``, so
``add_script_tag`` would be refused by the page itself; ``page.evaluate`` hands the
source to the browser through the DevTools protocol, which the page's CSP does not
govern. The page under test is not changed otherwise (no ``bypass_csp``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

AXE_SOURCE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")

RUN = """async (options) => {
  const result = await window.axe.run(document, options);
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


@cache
def axe_source() -> str:
    """The axe-core script (``npm ci`` in ``tests/web`` installs it)."""
    if not AXE_SOURCE.exists():
        raise AssertionError(
            f"axe-core is missing at {AXE_SOURCE}: run `npm ci` in tests/web (.ci/run does it)"
        )
    return AXE_SOURCE.read_text(encoding="utf-8")


def axe_violations(tab: Any, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every axe-core violation on ``tab``'s current document, as plain dicts
    ``{id, impact, help, helpUrl, nodes: [{target, summary}]}``."""
    if not tab.evaluate("() => typeof window.axe === 'object'"):
        tab.evaluate(axe_source())
    return tab.evaluate(RUN, options or {"resultTypes": ["violations"]})


def describe(violations: list[dict[str, Any]]) -> str:
    """A readable list of ``violations``: rule, impact, help, and each node's target."""
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:10]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"    at {node['target']}: {summary}")
        if len(v["nodes"]) > 10:
            lines.append(f"    ... and {len(v['nodes']) - 10} more")
    return "\n".join(lines)


def assert_no_serious_violations(tab: Any, where: str) -> list[dict[str, Any]]:
    """Fail with a readable message when axe-core finds a serious or critical
    violation on ``tab``; returns all violations (minor and moderate ones included)."""
    violations = axe_violations(tab)
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"accessibility violations on {where}:\n{describe(failing)}"
    return violations
