"""Entry point of the ``tinynet`` command (also ``python -m tinynet``).

Each subcommand lives in its own module ``tinynet/cli/<name>.py`` with two functions:

* ``add_parser(subparsers)``: add and return its ``argparse`` parser;
* ``run(args) -> int``: do the work and return the exit status.

To add a subcommand, write the module and add its name to :data:`COMMANDS`. Usage
errors exit with status 2 and the usage line (argparse's convention); a ``CLIError``
raised by ``run`` prints ``tinynet <command>: error: ...`` and exits with its code.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .common import CLIError

COMMANDS = ["train", "pretrain", "evaluate", "generate", "info", "bench", "quantize", "prune", "export"]


def _short_usage(parser) -> str:
    """A one-line usage (``tinynet train [options]``): a usage error prints it and one error
    line, not argparse's full option list; ``--help`` still lists every option."""
    positionals = [a.metavar or a.dest for a in parser._actions if not a.option_strings]
    return " ".join(["%(prog)s", *positionals, "[options]"])


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="tinynet",
        description="tinynet: a from-scratch neural-network engine. Train, evaluate and inspect models.",
        epilog="Run `tinynet COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"tinynet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"{__package__}.{name}")
        p = module.add_parser(sub)
        p.usage = _short_usage(p)
        p.set_defaults(_run=module.run, _parser=p)
    return parser


def main(argv=None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand, return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    args._argv = argv  # what was typed: `train --resume` tells given options from defaults
    if extra:  # report unknown options with the subcommand's own usage line (exit 2)
        args._parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args._run(args) or 0)
    except CLIError as exc:
        if exc.code == 2:
            args._parser.print_usage(sys.stderr)
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())  # one line
        print(f"tinynet {args.command}: error: {message}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tinynet info | head`: the reader left; exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
