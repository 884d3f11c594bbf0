"""``python -m robustrep_lite COMMAND ...``: the command line of :mod:`robustrep_lite.cli`."""

from robustrep_lite.cli import main

if __name__ == "__main__":
    main()
