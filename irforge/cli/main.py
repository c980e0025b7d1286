"""`irforge` entry point. User mistakes (IRForgeError, malformed command lines) print one line,
`irforge <command>: error: ...`, and exit 2; no tracebacks. Names from models are escaped when printed."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from irforge.cli import benchmark, convert, infer, inspect, quantize
from irforge.cli.terminal import printable
from irforge.errors import IRForgeError

COMMANDS = {"convert": convert, "inspect": inspect, "infer": infer, "benchmark": benchmark, "quantize": quantize}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {printable(message)} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="irforge", description="Model optimizer and inference engine (OpenVINO IR v11).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, module in COMMANDS.items():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if extra:  # reported by the command's name, as every other error (argparse would say `irforge:`)
        print(f"irforge {args.command}: error: unrecognized arguments: {printable(' '.join(extra))} "
              f"(see 'irforge {args.command} --help')", file=sys.stderr)
        return 2
    try:
        return int(COMMANDS[args.command].run(args) or 0)
    except IRForgeError as e:
        print(f"irforge {args.command}: error: {printable(e)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"irforge {args.command}: error: out of memory (the model or its inputs need more memory than this "
              "machine has)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
