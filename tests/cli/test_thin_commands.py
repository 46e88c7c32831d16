"""The commands stay thin shells: parse, call the library, render (issue 40)."""

import ast
from pathlib import Path

import click

import bertclf.cli as cli

LONGEST = 60  # lines of a command function, its click decorators aside


def _command_functions():
    for path in sorted(Path(cli.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(
                    "command" in ast.unparse(d) or "group" in ast.unparse(d) for d in node.decorator_list):
                yield f"{path.name}:{node.name}", node.end_lineno - node.lineno + 1


def test_no_command_function_is_longer_than_sixty_lines():
    found = dict(_command_functions())
    assert len(found) >= 15  # every command is counted, none skipped by the walk
    long = {name: lines for name, lines in found.items() if lines > LONGEST}
    assert not long, f"thin the command into a library call: {long}"


def test_train_is_a_call_to_the_library():
    source = (Path(cli.__file__).parent / "train.py").read_text()
    assert "train_model(" in source and "auto_train(" not in source and ".fit(" not in source


def test_every_command_has_help_and_examples(run):
    context = click.Context(cli.main)
    commands = [name for name in cli.main.list_commands(context)
                if not isinstance(cli.main.get_command(context, name), click.Group)]
    assert len(commands) >= 14
    for name in commands:
        result = run(name, "--help")
        assert result.exit_code == 0 and "Examples:" in result.output, name
