"""The ``tinynet`` command: ``train``, ``evaluate``, ``info`` (and ``generate``, ``bench``).

``tinynet/cli/main.py`` builds the parser from one module per subcommand
(``tinynet/cli/<name>.py`` with ``add_parser(subparsers)`` and ``run(args) -> exit code``);
``recipes/`` says how each ``--model`` is trained; ``trainer.py`` is the training loop.
"""
