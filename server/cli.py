"""The ``ownface`` command: one entry point, one module per subcommand.

Each subcommand lives next to the code it drives and exposes ``main(argv) -> int``; this
module only dispatches, so ``ownface --help`` stays fast and nothing heavy is imported
until it is needed.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("server.serve", "set up what is missing, then run the server"),
    "setup": ("server.assets", "fetch and verify the pinned browser assets, build the wheel"),
    "site": ("server.sites", "create, list and edit sites (a business's deployment)"),
    "eval": ("pyapp.evaluate", "measure the face pipeline on a labelled photo folder"),
    "demo": ("server.demo", "run the example business page on another origin"),
    "purge": ("server.retention", "erase templates past their site's retention, expired codes"),
    "backup": ("server.backup", "copy the database without biometric data (docs/compliance.md)"),
}


def usage() -> str:
    lines = ["usage: ownface <command> [options]", "", "commands:"]
    lines += [f"  {name:<8} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "Run 'ownface <command> --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"ownface: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    code: int = module.main(rest)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
