"""Entry point of the single binary (PyInstaller runs this file as ``__main__``)."""

import multiprocessing

from pichr_appliance.cli import main

if __name__ == "__main__":
    # The HEIC decoder runs in a spawned child (pichr_appliance/isolation.py): a frozen
    # binary must let that child start as one instead of running the CLI again.
    multiprocessing.freeze_support()
    main()
