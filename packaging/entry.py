"""Entry point of the single binary (PyInstaller runs this file as ``__main__``)."""

import multiprocessing

if __name__ == "__main__":
    # First, before any import of the appliance: the HEIC decoder and Sanic's workers
    # run in spawned children (pichr_appliance/isolation.py, `serve --workers N`); in a
    # frozen binary such a child re-runs this file, and freeze_support() turns it into
    # the child at once instead of importing the command line for nothing.
    multiprocessing.freeze_support()

    from pichr_appliance.cli import main

    main()
