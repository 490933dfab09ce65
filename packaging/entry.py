"""Entry point of the single binary (PyInstaller runs this file as ``__main__``)."""

from pichr_appliance.cli import main

if __name__ == "__main__":
    main()
