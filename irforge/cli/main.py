"""`irforge` entry point. User mistakes (IRForgeError) print one line and exit 2; no tracebacks."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from irforge.cli import benchmark, convert, infer, inspect, quantize
from irforge.errors import IRForgeError

COMMANDS = {"convert": convert, "inspect": inspect, "infer": infer, "benchmark": benchmark, "quantize": quantize}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"irforge: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="irforge", description="Model optimizer and inference engine (OpenVINO IR v11).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, module in COMMANDS.items():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(COMMANDS[args.command].run(args) or 0)
    except IRForgeError as e:
        print(f"irforge {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
