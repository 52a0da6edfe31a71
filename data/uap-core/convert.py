#!/usr/bin/env python3
"""Convert uap-core's YAML files to the JSON that heatstore embeds.

heatstore ships uap-core's `regexes.yaml` as JSON so that it needs no YAML
parser at run time (it already depends on serde_json). Run this once after
bumping the `ua-parser` crate, then commit the output:

    pip install pyyaml
    python3 data/uap-core/convert.py            # finds the ua-parser package
    python3 data/uap-core/convert.py PATH/TO/uap-core

Outputs, next to this script:

- `regexes.json`: `regexes.yaml` as is (same keys, same order), one parser
  per line so that diffs stay readable. Deserialized into
  `ua_parser::Regexes` by `src/normalize/device.rs`.
- `tests/test_ua.json`, `tests/test_os.json`: every case of uap-core's
  `tests/test_ua.yaml` and `tests/test_os.yaml`, as
  `[user_agent, family, major]` triples (major `null` when absent).
- `tests/test_device.json`: every 8th case of `tests/test_device.yaml`
  (the full file is 3 MB), as `[user_agent, family]` pairs.

uap-core is Apache-2.0 (see LICENSE in this folder).
"""

import glob
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DEVICE_SAMPLE_EVERY = 8


def find_uap_core():
    home = os.path.expanduser("~")
    pattern = os.path.join(home, ".cargo/registry/src/*/ua-parser-0.2.*/uap-core")
    found = sorted(glob.glob(pattern))
    if not found:
        sys.exit("uap-core not found; pass its path (the ua-parser crate's uap-core/)")
    return found[-1]


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def check_strings(parsers, section):
    for i, p in enumerate(parsers):
        for key, value in p.items():
            if value is not None and not isinstance(value, str):
                sys.exit(f"{section}[{i}].{key} is {type(value).__name__}, not a string")


def dump_lines(obj_list):
    return ",\n".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) for o in obj_list)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(path, HERE)} ({len(text.encode('utf-8'))} bytes)")


def empty_is_none(value):
    if value is None or value == "":
        return None
    return str(value)


def main():
    core = sys.argv[1] if len(sys.argv) > 1 else find_uap_core()
    regexes = load(os.path.join(core, "regexes.yaml"))
    sections = ["user_agent_parsers", "os_parsers", "device_parsers"]
    if set(regexes) != set(sections):
        sys.exit(f"unexpected top-level keys: {sorted(regexes)}")
    parts = []
    for section in sections:
        check_strings(regexes[section], section)
        parts.append(f'"{section}":[\n{dump_lines(regexes[section])}\n]')
    write(os.path.join(HERE, "regexes.json"), "{" + ",\n".join(parts) + "}\n")

    for name in ["test_ua", "test_os"]:
        cases = load(os.path.join(core, "tests", f"{name}.yaml"))["test_cases"]
        rows = [
            [c["user_agent_string"], str(c["family"]), empty_is_none(c.get("major"))]
            for c in cases
        ]
        write(os.path.join(HERE, "tests", f"{name}.json"), "[\n" + dump_lines(rows) + "\n]\n")

    cases = load(os.path.join(core, "tests", "test_device.yaml"))["test_cases"]
    rows = [
        [c["user_agent_string"], str(c["family"])]
        for i, c in enumerate(cases)
        if i % DEVICE_SAMPLE_EVERY == 0
    ]
    write(os.path.join(HERE, "tests", "test_device.json"), "[\n" + dump_lines(rows) + "\n]\n")


if __name__ == "__main__":
    main()
