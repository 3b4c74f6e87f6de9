"""The ``zhijian`` command line. Every command has ``--help``; errors print one line, no traceback."""

from __future__ import annotations

import sys

import click
import typer

from zhijian_core.cli.compare import compare
from zhijian_core.cli.export import export
from zhijian_core.cli.inspect import data_info, doctor, methods, ptm_info
from zhijian_core.cli.registry import history, promote, registry_app, rollback
from zhijian_core.cli.serve import serve
from zhijian_core.errors import ZhijianError

app = typer.Typer(
    name="zhijian",
    help="Reuse a pre-trained model: compare reuse methods on quality and cost, then serve the winner.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("methods")(methods)
app.command("compare")(compare)
app.command("ptm")(ptm_info)
app.command("data")(data_info)
app.command("doctor")(doctor)
app.command("export")(export)
app.add_typer(registry_app)
app.command("promote")(promote)
app.command("rollback")(rollback)
app.command("history")(history)
app.command("serve")(serve)


def run() -> None:
    """Console entry point: run the app and turn our errors into one line and exit status 2."""
    try:
        code = app(standalone_mode=False)
    except ZhijianError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
