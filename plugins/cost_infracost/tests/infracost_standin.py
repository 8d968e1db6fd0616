"""A stand-in ``infracost`` executable for the tests (Infracost is not on the package registries).

:func:`install` writes a Python script named ``infracost`` and a JSON file steering it. Like the
real CLI it reads the plan JSON given with ``--path`` (and a ``--compare-to`` baseline), takes its
key from ``INFRACOST_API_KEY`` and its endpoint and currency from the environment, and prints a
version "0.2" document: prices per resource type, sub-resources, usage-based components without
usage (nulls), free resources (no cost component), several projects, project errors
(``metadata.errors``, as Infracost prints them for a project it could not price), and for
``diff`` a past breakdown and a diff. It refuses what the
real one refuses: a wrong key (exit 1 with Infracost's own message), and it can hang or print
malformed JSON on purpose. Every call is appended to ``calls.jsonl`` for the test to inspect.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

KEY = "ico-test-0123456789abcdef"


def plan_doc(resources: dict[str, str], before: dict[str, str] | None = None) -> dict[str, Any]:
    """A ``show -json`` document creating or updating ``{address: type}`` resources (an address
    with ``module.`` goes into that module); ``before`` lists those that already exist."""
    before = before or {}
    changes = []
    for address, rtype in {**before, **resources}.items():
        exists = address in before
        kept = address in resources
        actions = ["update"] if exists and kept else ["create"] if kept else ["delete"]
        parts = address.split(".")
        module = ".".join(parts[:-2]) or None
        values = {"name": parts[-1], "size": "small"}
        changes.append(
            {
                "address": address,
                "module_address": module,
                "mode": "managed",
                "type": rtype,
                "name": parts[-1],
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": actions,
                    "before": dict(values) if exists else None,
                    "after": dict(values) if kept else None,
                    "after_unknown": {},
                },
            }
        )
    return {"format_version": "1.2", "terraform_version": "1.11.4", "resource_changes": changes}


SCRIPT = r"""#!__PYTHON__
import json, os, sys, time
from decimal import Decimal

CONFIG = __CONFIG__
cfg = json.load(open(CONFIG))
argv = sys.argv[1:]
calls = os.path.join(os.path.dirname(CONFIG), "calls.jsonl")
env = {k: v for k, v in os.environ.items() if k.startswith("INFRACOST_")}
with open(calls, "a") as f:
    f.write(json.dumps({"argv": argv, "env": env, "cwd": os.getcwd()}) + "\n")

def fail(message, code=1):
    sys.stderr.write(message + "\n")
    sys.exit(code)

if not argv or argv[0] not in ("breakdown", "diff"):
    fail("Error: unknown command %r for \"infracost\"" % (argv[:1],))

def opt(name):
    if name not in argv:
        return None
    i = argv.index(name)
    if i + 1 >= len(argv):
        fail("Error: flag needs an argument: " + name)
    return argv[i + 1]

if opt("--format") != "json":
    fail("Error: this stand-in only prints --format json")
key = os.environ.get("INFRACOST_API_KEY")
if cfg.get("key") and key != cfg["key"]:
    time.sleep(0.01)
    fail("Error: Invalid API Key, please check your INFRACOST_API_KEY environment variable or "
         "/root/.config/infracost/credentials.yml credentials file.")
if key and any(key in a for a in argv):
    fail("stand-in: the API key must never be an argument")
for name, want in (cfg.get("env") or {}).items():
    if os.environ.get(name) != want:
        fail("stand-in: %s is %r, expected %r" % (name, os.environ.get(name), want))
mode = cfg.get("mode", "ok")
if mode == "hang":
    time.sleep(120)
if mode == "malformed":
    print('{"version": "0.2", "projects": [ {"name": ')
    sys.exit(0)
if mode == "crash":
    fail("Error: something unexpected happened", 2)
path = opt("--path")
if path is None or not os.path.isfile(path):
    fail("Error: No such file or directory: %s" % path)
plan = json.load(open(path))
if not isinstance(plan.get("format_version"), str) or "planned_values" not in plan:
    fail("Error: %s is not a Terraform plan JSON file" % path)
usage = opt("--usage-file")
if cfg.get("usage_file") and usage != cfg["usage_file"]:
    fail("stand-in: --usage-file is %r, expected %r" % (usage, cfg["usage_file"]))
if usage is not None and not os.path.isfile(usage):
    fail("Error: usage file %s does not exist" % usage)

prices = cfg.get("prices", {})
usage_based = set(cfg.get("usage_based", []))
with_sub = set(cfg.get("subresources", []))
usage_values = {}
if usage:
    for line in open(usage):
        if ":" in line and not line.strip().startswith("#"):
            k, v = line.split(":", 1)
            usage_values[k.strip()] = v.strip()

def walk(module):
    for r in module.get("resources", []):
        yield r
    for child in module.get("child_modules", []):
        yield from walk(child)

free = set(cfg.get("free", []))

def resource(r):
    t = r["type"]
    if t in free:
        # How Infracost lists a free resource: no cost component, no monthly cost.
        return {"name": r["address"], "resourceType": t, "metadata": {}, "hourlyCost": None,
                "monthlyCost": None, "costComponents": [], "subresources": []}
    if t not in prices and t not in usage_based:
        return None
    comps, subs, total = [], [], Decimal(0)
    if t in prices:
        price = Decimal(prices[t])
        if isinstance(r.get("values"), dict) and r["values"].get("size") == "large":
            price *= 4
        hourly = price / Decimal(730)
        comps.append({"name": "Instance usage (on-demand)", "unit": "hours", "hourlyQuantity": "1",
                      "monthlyQuantity": "730", "price": str(hourly), "hourlyCost": str(hourly),
                      "monthlyCost": str(price)})
        total += price
    if t in with_sub:
        subs.append({"name": "root_block_device", "resourceType": "root_block_device",
                     "metadata": {}, "hourlyCost": "0.0068493150684931", "monthlyCost": "5",
                     "costComponents": [{"name": "Storage (general purpose SSD, gp3)",
                                         "unit": "GB", "hourlyQuantity": "0.0684931506849315",
                                         "monthlyQuantity": "50", "price": "0.1",
                                         "hourlyCost": "0.0068493150684931",
                                         "monthlyCost": "5"}]})
        total += 5
    monthly = str(total)
    if t in usage_based:
        given = usage_values.get(r["address"])
        if given is None:
            comps.append({"name": "Requests", "unit": "1M requests", "hourlyQuantity": None,
                          "monthlyQuantity": None, "price": "0.2", "hourlyCost": None,
                          "monthlyCost": None, "usageBased": True})
            if t not in prices and t not in with_sub:
                monthly = None
        else:
            cost = Decimal(given) * Decimal("0.2")
            comps.append({"name": "Requests", "unit": "1M requests", "monthlyQuantity": given,
                          "price": "0.2", "monthlyCost": str(cost), "usageBased": True})
            total += cost
            monthly = str(total)
    return {"name": r["address"], "resourceType": t, "metadata": {}, "hourlyCost": None,
            "monthlyCost": monthly, "costComponents": comps, "subresources": subs}

def breakdown(resources):
    total = sum((Decimal(r["monthlyCost"]) for r in resources if r["monthlyCost"]), Decimal(0))
    return {"resources": resources, "totalHourlyCost": None, "totalMonthlyCost": str(total)}

current = [x for x in (resource(r) for r in walk(plan["planned_values"]["root_module"])) if x]
n = int(cfg.get("projects", 1))
groups = [current[i::n] for i in range(n)]
past_resources = []
compare = opt("--compare-to")
if argv[0] == "diff":
    if compare is None or not os.path.isfile(compare):
        fail("Error: --compare-to file not found")
    prior = json.load(open(compare), parse_float=Decimal)
    if prior.get("version") != "0.2":
        fail("Error: invalid --compare-to file: version %r" % prior.get("version"))
    for p in prior["projects"]:
        past_resources += p["breakdown"]["resources"]
projects = []
# Project errors as Infracost writes them (metadata.errors: code, message, data, isError), with
# the empty breakdown and "0" totals it prints for a project it could not price.
project_errors = cfg.get("project_errors") or {}
for i, group in enumerate(groups):
    errors = project_errors.get(str(i))
    if errors:
        group = []
    metadata = {"path": path, "type": "terraform_plan_json"}
    if errors:
        metadata["errors"] = [{"code": e["code"], "message": e["message"], "data": None,
                               "isError": True} for e in errors]
    project = {"name": "plan.json" if n == 1 else "project-%d" % i,
               "metadata": metadata,
               "breakdown": breakdown(group)}
    if argv[0] == "diff":
        names = {r["name"] for r in group}
        everywhere = {x["name"] for x in current}
        past = [r for r in past_resources
                if r["name"] in names or (i == 0 and r["name"] not in everywhere)]
        project["pastBreakdown"] = breakdown(past)
        before = {r["name"]: Decimal(r["monthlyCost"])
                  for r in past if r["monthlyCost"] is not None}
        diff = []
        for r in group:
            if r["monthlyCost"] is None:
                continue
            d = Decimal(r["monthlyCost"]) - before.get(r["name"], Decimal(0))
            if d:
                diff.append({"name": r["name"], "resourceType": r["resourceType"],
                             "metadata": {}, "monthlyCost": str(d), "costComponents": []})
        for name, cost in before.items():
            if name not in {r["name"] for r in group} and name not in {x["name"] for x in current}:
                diff.append({"name": name, "resourceType": "", "metadata": {},
                             "monthlyCost": str(-cost), "costComponents": []})
        project["diff"] = breakdown(diff)
    projects.append(project)

def total(key):
    if not all(key in p for p in projects):
        return None
    return str(sum((Decimal(p[key]["totalMonthlyCost"]) for p in projects), Decimal(0)))

doc = {"version": cfg.get("version", "0.2"),
       "currency": os.environ.get("INFRACOST_CURRENCY", "USD"),
       "projects": projects, "totalHourlyCost": None, "totalMonthlyCost": total("breakdown"),
       "pastTotalMonthlyCost": total("pastBreakdown"), "diffTotalMonthlyCost": total("diff"),
       "timeGenerated": "2026-01-01T00:00:00Z",
       "summary": {"totalDetectedResources": len(current)}}
print(json.dumps(doc, indent=2))
"""


class StandIn:
    """The installed stand-in: its path, its steering file, and the calls it received."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "infracost"
        self.config_path = directory / "standin.json"
        self.config: dict[str, Any] = {}

    def configure(self, **config: Any) -> None:
        """Replace the steering settings (prices, key, mode, projects, usage_based...)."""
        self.config = config
        self.config_path.write_text(json.dumps(config))

    def calls(self) -> list[dict[str, Any]]:
        """Every invocation so far: argv, INFRACOST_* environment, working directory."""
        log = self.directory / "calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]


def install(directory: Path, **config: Any) -> StandIn:
    """Write the stand-in ``infracost`` into ``directory`` and configure it."""
    directory.mkdir(parents=True, exist_ok=True)
    standin = StandIn(directory)
    text = SCRIPT.replace("__PYTHON__", sys.executable).replace(
        "__CONFIG__", repr(str(standin.config_path))
    )
    standin.path.write_text(text)
    standin.path.chmod(standin.path.stat().st_mode | stat.S_IXUSR)
    standin.configure(**config)
    assert os.access(standin.path, os.X_OK)
    return standin
