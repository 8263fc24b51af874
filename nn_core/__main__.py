"""python -m nn_core {train,predict,gradcheck,bench}; see nn_core/cli.py."""

from .cli import main

raise SystemExit(main())
