"""``python -m reprocheck``: the same as the ``reprocheck`` console script."""

from reprocheck.cli import main

if __name__ == "__main__":
    main()
