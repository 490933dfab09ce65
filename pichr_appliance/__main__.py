"""``python -m pichr_appliance`` is the same as the ``pichr-appliance`` command."""

from .cli import main

if __name__ == "__main__":
    main()
